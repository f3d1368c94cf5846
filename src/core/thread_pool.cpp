#include "core/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <limits>
#include <memory>

namespace clipmatch {
namespace {

thread_local bool t_inside_worker = false;

// Shared by the caller and the helper tasks of one parallel_for.
struct LoopState {
  std::size_t n = 0;
  const std::function<void(std::size_t)>* fn = nullptr;
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::condition_variable done;
  std::size_t helpers_running = 0;
  std::size_t error_index = std::numeric_limits<std::size_t>::max();
  std::exception_ptr error;

  void run_indices() {
    for (std::size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
      try {
        (*fn)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (i < error_index) {
          error_index = i;
          error = std::current_exception();
        }
      }
    }
  }
};

}  // namespace

ThreadPool::ThreadPool(std::size_t threads) {
  if (threads == 0) threads = std::max(2u, std::thread::hardware_concurrency()) - 1;
  workers_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::worker_loop() {
  t_inside_worker = true;
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;  // stopping and drained
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void ThreadPool::parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn) {
  if (n == 0) return;
  auto state = std::make_shared<LoopState>();
  state->n = n;
  state->fn = &fn;
  // The caller takes part, so n − 1 helpers at most; none when nested inside a worker.
  const std::size_t helpers = t_inside_worker ? 0 : std::min(workers_.size(), n - 1);
  if (helpers > 0) {
    state->helpers_running = helpers;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (std::size_t h = 0; h < helpers; ++h) {
        tasks_.emplace_back([state] {
          state->run_indices();
          std::lock_guard<std::mutex> state_lock(state->mutex);
          if (--state->helpers_running == 0) state->done.notify_all();
        });
      }
    }
    wake_.notify_all();
  }
  state->run_indices();
  std::exception_ptr error;
  {
    std::unique_lock<std::mutex> lock(state->mutex);
    state->done.wait(lock, [&] { return state->helpers_running == 0; });
    // Taken out of the shared state: a helper's task may hold the state's last reference and free it on its
    // worker thread while the caller still reads the exception (ThreadSanitizer saw that race).
    error = std::move(state->error);
  }
  if (error) std::rethrow_exception(error);
}

ThreadPool& ThreadPool::shared() {
  static ThreadPool pool;
  return pool;
}

}  // namespace clipmatch

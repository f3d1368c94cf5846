// A small fixed pool of worker threads for data-parallel loops (image decoding, preprocessing).
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace clipmatch {

class ThreadPool {
 public:
  /// `threads` workers; 0 means hardware_concurrency() − 1 (at least 1), because the thread calling
  /// parallel_for works too, so a loop runs on hardware_concurrency() threads in all.
  explicit ThreadPool(std::size_t threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t size() const { return workers_.size(); }

  /// Calls fn(i) for every i in [0, n) on the workers and the calling thread, and returns when all are done.
  /// If calls throw, every index still runs and the exception of the lowest failing index is rethrown here.
  /// Called from inside a worker of any pool it runs inline, so nested loops cannot deadlock.
  void parallel_for(std::size_t n, const std::function<void(std::size_t)>& fn);

  /// A process-wide pool with the default number of workers, created on first use.
  static ThreadPool& shared();

 private:
  void worker_loop();

  std::vector<std::thread> workers_;
  std::deque<std::function<void()>> tasks_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
};

}  // namespace clipmatch

#include "dist/process_group.hpp"

#include "core/fail.hpp"

#include <chrono>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <thread>

// Gloo's headers ship with Debian's libgloo-dev but not with every LibTorch (the pip wheels lack them); without
// them this build cannot train across processes and says so.
#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define CLIPMATCH_HAVE_GLOO 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#else
#define CLIPMATCH_HAVE_GLOO 0
#endif

namespace clipmatch {

void DistributedOptions::validate() const {
  if (world_size < 1) fail(ErrorKind::InvalidArgument, "distributed: world size {} must be at least 1", world_size);
  if (rank < 0 || rank >= world_size) {
    fail(ErrorKind::InvalidArgument, "distributed: rank {} is outside [0, {})", rank, world_size);
  }
  if (local_rank < 0) fail(ErrorKind::InvalidArgument, "distributed: local rank {} must be ≥ 0", local_rank);
  if (master_port < 1 || master_port > 65535) {
    fail(ErrorKind::InvalidArgument, "distributed: master port {} is outside 1–65535", master_port);
  }
  if (master_addr.empty()) fail(ErrorKind::InvalidArgument, "distributed: the master address is empty");
  if (!(timeout_seconds > 0)) {
    fail(ErrorKind::InvalidArgument, "distributed: timeout {} s must be positive", timeout_seconds);
  }
}

DistributedOptions DistributedOptions::from_environment() {
  DistributedOptions out;
  const auto number = [](const char* name, int& target) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return;
    char* end = nullptr;
    const long parsed = std::strtol(value, &end, 10);
    if (*end != '\0' || parsed < std::numeric_limits<int>::min() || parsed > std::numeric_limits<int>::max()) {
      fail(ErrorKind::InvalidArgument, "distributed: environment variable {}='{}' is not an integer", name, value);
    }
    target = static_cast<int>(parsed);
  };
  number("RANK", out.rank);
  number("WORLD_SIZE", out.world_size);
  number("LOCAL_RANK", out.local_rank);
  number("MASTER_PORT", out.master_port);
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr && *addr != '\0') out.master_addr = addr;
  return out;
}

bool distributed_available(std::string* why) {
#if CLIPMATCH_HAVE_GLOO
  if (why != nullptr) why->clear();
  return true;
#else
  if (why != nullptr) {
    *why = "this build has no Gloo backend (LibTorch without USE_C10D_GLOO, or no Gloo headers: Debian libgloo-dev)";
  }
  return false;
#endif
}

}  // namespace clipmatch

namespace clipmatch::dist {

#if CLIPMATCH_HAVE_GLOO

// In LibTorch 2.x the Gloo group is a c10d::Backend; in 1.x it is a c10d::ProcessGroup. Both have the
// collectives used here with the same signatures.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

struct Group::Impl {
  int rank = 0, size = 1;
  std::chrono::milliseconds timeout{0};

  /// Polls the store until `key` is set. A limit of zero waits as long as it takes: the store lives in rank 0's
  /// process (or torchrun's agent), so if that dies the next poll fails instead. (c10d's own wait takes a zero
  /// timeout literally in LibTorch 2.x and as "the socket's timeout" in 1.13, so it is not used for this.)
  void wait_for_key(const std::string& key, std::chrono::milliseconds limit) {
    const auto start = std::chrono::steady_clock::now();
    while (!store->check({key})) {
      if (limit.count() > 0 && std::chrono::steady_clock::now() - start > limit) {
        throw std::runtime_error(fmt::format("no rank set '{}' within {} s", key, limit.count() / 1000.0));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Collectives> group;

  /// Runs `what` and turns any failure (a peer gone: "Connection closed by peer"; a peer hung: "Timed out")
  /// into an error naming this rank.
  template <typename Fn>
  auto guarded(const char* what, Fn&& fn) -> decltype(fn()) {
    try {
      return fn();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      fail(ErrorKind::Io, "distributed training: rank {} of {}: {} failed (another rank stopped, hung or cannot be "
           "reached): {}", rank, size, what, e.what());
    }
  }
};

Group::Group(const DistributedOptions& options) : impl_(std::make_unique<Impl>()) {
  options.validate();
  if (!options.enabled()) fail(ErrorKind::InvalidArgument, "distributed: a group needs a world size above 1");
  impl_->rank = options.rank;
  impl_->size = options.world_size;
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000));
  impl_->timeout = timeout;
  impl_->guarded("joining the group", [&] {
    // Under torchrun the agent already hosts a store at MASTER_ADDR:MASTER_PORT and says so; every rank is then
    // its client, with keys apart per restart attempt.
    const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    const bool agent_store = agent != nullptr && std::string(agent) == "True";
    const char* attempt = std::getenv("TORCHELASTIC_RESTART_COUNT");
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0 && !agent_store;
    store_options.numWorkers = options.world_size;
    store_options.waitWorkers = false;  // the process group's own rendezvous waits, with its timeout
    store_options.timeout = timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(
        agent_store ? fmt::format("clipmatch/attempt_{}", attempt != nullptr ? attempt : "0") : std::string("clipmatch"),
        tcp);
    auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
    // The interface the other ranks reach: GLOO_SOCKET_IFNAME when set (as torch.distributed reads it), loopback
    // for a single-machine run, else the interface this host's name resolves to.
    const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
    if (interface != nullptr && *interface != '\0') {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
    } else if (options.master_addr == "127.0.0.1" || options.master_addr == "localhost") {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      gloo->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    gloo->threads = 2;
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, options.rank, options.world_size, gloo);
    return 0;
  });
}

Group::~Group() = default;

int Group::rank() const { return impl_->rank; }
int Group::size() const { return impl_->size; }

torch::Tensor Group::all_gather(const torch::Tensor& local) {
  const auto input = local.detach().contiguous();
  std::vector<at::Tensor> inputs{input};
  std::vector<std::vector<at::Tensor>> outputs(1);
  for (int r = 0; r < impl_->size; ++r) outputs[0].push_back(torch::empty_like(input));
  impl_->guarded("gathering embeddings", [&] {
    impl_->group->allgather(outputs, inputs)->wait();
    return 0;
  });
  return torch::cat(outputs[0], 0);
}

void Group::all_reduce_sum(torch::Tensor& tensor) {
  std::vector<at::Tensor> tensors{tensor};
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  impl_->guarded("summing gradients", [&] {
    impl_->group->allreduce(tensors, options)->wait();
    return 0;
  });
}

void Group::broadcast_from_rank0(torch::Tensor& tensor) {
  std::vector<at::Tensor> tensors{tensor};
  c10d::BroadcastOptions options;
  options.rootRank = 0;
  impl_->guarded("taking rank 0's buffers", [&] {
    impl_->group->broadcast(tensors, options)->wait();
    return 0;
  });
}

void Group::barrier() {
  impl_->guarded("waiting for every rank", [&] {
    impl_->group->barrier()->wait();
    return 0;
  });
}

std::string Group::share_from_rank0(const std::string& key, const std::string& value) {
  return impl_->guarded("waiting for rank 0", [&] {
    if (impl_->rank == 0) {
      impl_->store->set(key, std::vector<std::uint8_t>(value.begin(), value.end()));
      return value;
    }
    impl_->wait_for_key(key, std::chrono::milliseconds::zero());
    const auto bytes = impl_->store->get(key);
    return std::string(bytes.begin(), bytes.end());
  });
}

void Group::arrive_at_rank0(const std::string& key) {
  impl_->guarded("waiting for every rank's share", [&] {
    impl_->store->set(fmt::format("{}/{}", key, impl_->rank), std::vector<std::uint8_t>{1});
    if (impl_->rank != 0) return 0;
    const auto start = std::chrono::steady_clock::now();
    for (int r = 1; r < impl_->size; ++r) {
      const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
      impl_->wait_for_key(fmt::format("{}/{}", key, r), std::max(std::chrono::milliseconds(1), impl_->timeout - spent));
    }
    return 0;
  });
}

#else

struct Group::Impl {};

Group::Group(const DistributedOptions& options) {
  options.validate();
  std::string why;
  distributed_available(&why);
  fail(ErrorKind::Unsupported, "distributed training: {}", why);
}
Group::~Group() = default;
int Group::rank() const { return 0; }
int Group::size() const { return 1; }
torch::Tensor Group::all_gather(const torch::Tensor& local) { return local; }
void Group::all_reduce_sum(torch::Tensor&) {}
void Group::broadcast_from_rank0(torch::Tensor&) {}
void Group::barrier() {}
std::string Group::share_from_rank0(const std::string&, const std::string& value) { return value; }
void Group::arrive_at_rank0(const std::string&) {}

#endif

torch::Tensor gather_keeping_local_grad(Group& group, const torch::Tensor& local) {
  const auto rows = local.size(0);
  auto all = group.all_gather(local);
  // Rows of other ranks stay constants; this rank's slice is replaced by `local` itself, so the loss's gradient
  // reaches this rank's embeddings (and through them its heads and encoders).
  std::vector<torch::Tensor> parts;
  if (group.rank() > 0) parts.push_back(all.slice(0, 0, group.rank() * rows));
  parts.push_back(local);
  if (group.rank() + 1 < group.size()) parts.push_back(all.slice(0, (group.rank() + 1) * rows));
  return torch::cat(parts, 0);
}

}  // namespace clipmatch::dist

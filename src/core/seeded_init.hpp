// Deterministic parameter initialisation without touching anyone's random stream.
//
// LibTorch's module constructors draw initial weights from its default CPU generator and take no other. So
// building modules from a seed needs that generator seeded, but a library must not reseed the host's stream
// (a notebook's own torch code) nor race with another thread building a model. SeededInit serialises these
// scopes with a process-wide lock, seeds the default generator, and puts its previous state back afterwards.
// Everything else that is random (shuffling) uses a generator owned by the call (make_generator below).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <mutex>

namespace clipmatch {

class SeededInit {
 public:
  explicit SeededInit(std::uint64_t seed);
  ~SeededInit();
  SeededInit(const SeededInit&) = delete;
  SeededInit& operator=(const SeededInit&) = delete;

 private:
  std::unique_lock<std::recursive_mutex> lock_;
  at::Tensor saved_state_;
};

/// A CPU generator of its own, seeded: the same stream the default generator gives after manual_seed(seed).
at::Generator make_generator(std::uint64_t seed);

}  // namespace clipmatch

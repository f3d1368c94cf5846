// Starting a GPU while the weights are read. Creating the CUDA context, loading its kernels and setting up
// the memory pool is part of every cold start and needs nothing from the checkpoint, so a helper thread
// does it while the towers are built and loaded on the CPU; the model's first transfer then finds it done.
#pragma once

#include <torch/torch.h>

#include <future>

namespace clipmatch::model {

class DeviceWarmUp {
 public:
  /// Starts the warm-up for a CUDA `device`; does nothing for the CPU.
  explicit DeviceWarmUp(const torch::Device& device) {
    if (!device.is_cuda()) return;
    done_ = std::async(std::launch::async, [device] {
      (void)torch::empty({1}, torch::TensorOptions(device));  // context + caching allocator
      // cuBLAS handle and workspace. LibTorch hands a thread's handles back to a shared pool when the thread
      // ends, so the model's threads reuse this one instead of creating their own.
      const auto ones = torch::ones({8, 8}, torch::TensorOptions(device));
      (void)torch::mm(ones, ones);
    });
  }
  /// Waits for it; an error here (a device that cannot start) is left for the model's own use of the device
  /// to report, where it names what was being done.
  ~DeviceWarmUp() {
    if (!done_.valid()) return;
    try {
      done_.get();
    } catch (...) {
    }
  }
  DeviceWarmUp(const DeviceWarmUp&) = delete;
  DeviceWarmUp& operator=(const DeviceWarmUp&) = delete;

 private:
  std::future<void> done_;
};

}  // namespace clipmatch::model

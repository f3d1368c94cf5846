#include "core/seeded_init.hpp"

#include <ATen/CPUGeneratorImpl.h>

namespace clipmatch {

namespace {

std::recursive_mutex& init_mutex() {
  static std::recursive_mutex mutex;  // recursive: building a model may nest scopes (tower inside model)
  return mutex;
}

}  // namespace

SeededInit::SeededInit(std::uint64_t seed) : lock_(init_mutex()) {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> guard(generator.mutex());
  saved_state_ = generator.get_state();
  generator.set_current_seed(seed);
}

SeededInit::~SeededInit() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> guard(generator.mutex());
  generator.set_state(saved_state_);
}

at::Generator make_generator(std::uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

}  // namespace clipmatch

#include "core/precision.hpp"

#include "core/fail.hpp"

#include <clipmatch/names.hpp>

namespace clipmatch {

namespace {
thread_local Precision thread_precision = Precision::Fp32;
}  // namespace

Precision current_precision() { return thread_precision; }

PrecisionScope::PrecisionScope(Precision precision, bool on_cuda) : previous_(thread_precision) {
  if (precision == Precision::Int8 && on_cuda) {
    fail(ErrorKind::InvalidArgument, "precision int8 runs on the CPU only; on CUDA use bf16 or fp32");
  }
  if (to_name(precision)[0] == '?') fail(ErrorKind::InvalidArgument, "precision must be {}", name_list<Precision>());
  thread_precision = precision;
}

PrecisionScope::~PrecisionScope() { thread_precision = previous_; }

}  // namespace clipmatch

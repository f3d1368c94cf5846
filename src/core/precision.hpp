// The precision encoders compute in, for the calling thread (like LibTorch's autocast state). The public
// calls (encode_*, evaluate, train) install their options' precision for their duration; encoders read it
// where they choose between their fp32 modules and reduced-precision inference copies.
#pragma once

#include <clipmatch/model.hpp>

namespace clipmatch {

/// The calling thread's inference precision (Fp32 unless a PrecisionScope is active).
Precision current_precision();

/// Sets the calling thread's inference precision while it lives; the previous one comes back afterwards.
/// Refuses (Error InvalidArgument) int8 on a CUDA device, where LibTorch has no dynamic int8 Linear.
class PrecisionScope {
 public:
  PrecisionScope(Precision precision, bool on_cuda);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  Precision previous_;
};

}  // namespace clipmatch

// clipmatch — data-parallel training across processes (torch.distributed's c10d).
//
// Each process (a "rank") holds the whole model and trains on its share of every global batch. The contrastive
// loss still sees the global batch: every rank gathers the other ranks' embeddings, its own rows keeping their
// gradient, and computes the loss of the whole batch; the gradients of the heads, the temperature and any
// unfrozen encoder blocks are then summed across ranks (the temperature's averaged, since every rank computes
// all of it). The result equals one process training on the same global batch, up to float summation order.
//
// Ranks meet through a TCP store at master_addr:master_port (rank 0 hosts it) and talk over Gloo. Launch them
// with `clipmatch train --nproc N` (N local workers), or with any launcher that sets the usual environment
// (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): torchrun, SLURM, a Kubernetes job. Rank 0 alone
// writes the run folder and evaluates; every rank encodes its share of the feature cache; a rank that dies makes
// the others fail within `timeout_seconds`.
#pragma once

#include <clipmatch/export.h>

#include <string>

namespace clipmatch {

struct CLIPMATCH_API DistributedOptions {
  int rank = 0;
  int world_size = 1;        ///< 1 = a single process, nothing distributed
  int local_rank = 0;        ///< rank on this machine (which GPU a CUDA rank would take)
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// How long a collective (and joining the group) may wait for the other ranks before the run fails with an
  /// error naming the rank. Rank 0's per-epoch evaluation and its merge of the ranks' feature-cache shares are
  /// waited for without it.
  double timeout_seconds = 600;

  bool enabled() const { return world_size > 1; }
  /// Throws clipmatch::Error (InvalidArgument) naming the offending field.
  void validate() const;
  /// From RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (the torchrun / SLURM convention); unset
  /// variables keep the defaults above, and an unset WORLD_SIZE means a single process. Throws
  /// clipmatch::Error (InvalidArgument) naming a variable that is not a valid number.
  static DistributedOptions from_environment();
};

/// Whether this build can train across processes (it needs LibTorch's Gloo backend and the Gloo headers at
/// build time). When not, `why` (if given) says what is missing.
CLIPMATCH_API bool distributed_available(std::string* why = nullptr);

}  // namespace clipmatch

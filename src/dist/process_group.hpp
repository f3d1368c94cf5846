// The ranks of a distributed training run as one group: joining, the few collectives training needs, and
// values rank 0 hands to the others. A thin layer over c10d (TCPStore + ProcessGroupGloo) that turns its
// failures into clipmatch errors naming this rank.
#pragma once

#include <clipmatch/distributed.hpp>

#include <torch/torch.h>

#include <memory>
#include <string>

namespace clipmatch::dist {

class Group {
 public:
  /// Joins the group `options` describes (options.enabled() must hold): blocks until every rank has joined,
  /// or fails after options.timeout_seconds.
  explicit Group(const DistributedOptions& options);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const;
  int size() const;

  /// Every rank's `local` (one shape on all ranks) concatenated along dim 0 in rank order. No gradient.
  torch::Tensor all_gather(const torch::Tensor& local);
  /// Sums `tensor` (contiguous, CPU) across ranks, in place.
  void all_reduce_sum(torch::Tensor& tensor);
  /// Overwrites `tensor` (contiguous, CPU) on every rank with rank 0's.
  void broadcast_from_rank0(torch::Tensor& tensor);
  void barrier();
  /// Rank 0 publishes `value` under `key` and returns it; every other rank waits for it, however long rank 0
  /// takes (rank 0 hosts the store, so its death ends the wait with an error), and returns it.
  std::string share_from_rank0(const std::string& key, const std::string& value);
  /// Every rank marks `key` as reached; rank 0 also waits until all have (at most the group's timeout after it
  /// arrives); the other ranks go on at once.
  void arrive_at_rank0(const std::string& key);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// `local` [b, D] of every rank as [size·b, D], this rank's rows being `local` itself, so that they keep their
/// gradient while the other ranks' rows are constants (what each rank's share of the global loss needs).
torch::Tensor gather_keeping_local_grad(Group& group, const torch::Tensor& local);

}  // namespace clipmatch::dist

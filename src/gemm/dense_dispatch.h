// The table of dense-kernel configurations and the rule that picks one per problem.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>

#include "kernels/dense/dense_params.h"

namespace marlin::gemm_detail {

struct DenseConfig {
  const char* name;
  int rows;          // rows of A per tile (16 x m blocks)
  int tile_k;
  int tile_n;
  int shared_bytes;
  int blocks_per_sm;  // what the configuration is built for; the device may allow fewer
  void (*launch)(const kernels::dense::DenseParams&, int grid, cudaStream_t);
  int (*resident_blocks_per_sm)();
};

// The configuration for m rows and n columns (n a multiple of 128).
const DenseConfig& choose_dense_config(int m, int n);

// Workspace layout: one arrival counter per slice, then fp32 partial-sum slots (two per block).
struct DenseWorkspaceLayout {
  std::size_t counters_bytes;  // rounded up to 256 bytes
  std::size_t partials_bytes;
  std::size_t total() const { return counters_bytes + partials_bytes; }
};

// What any configuration needs for problems up to (max_m, n) on a device with sm_count SMs.
DenseWorkspaceLayout dense_workspace_layout(int max_m, int n, int sm_count);

}  // namespace marlin::gemm_detail

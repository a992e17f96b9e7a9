// The table of dense-kernel configurations and the rule that picks one per problem.
#pragma once

#include <cuda_runtime_api.h>

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

// The largest number of lock words any configuration needs for (max_m, n).
int dense_max_slices(int max_m, int n);

}  // namespace marlin::gemm_detail

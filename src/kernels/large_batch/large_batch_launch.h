// Host-side entries of the large-batch kernel (large_batch_kernel.cuh): sm_90a only, one block per
// 128 (or 64) x 256 output tile and share of k. Weight formats: fp16 and bf16 activations x INT4
// (with or without zero points) and INT8, as the dense kernel.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/dense/dense_params.h"
#include "marlin/dtype.h"
#include "marlin/quant.h"

namespace marlin::kernels::large_batch {

constexpr int kLargeBatchRows = 128;      // tile rows for m > 64
constexpr int kLargeBatchSmallRows = 64;  // tile rows for m <= 64
constexpr int kLargeBatchTileN = 256;
constexpr int kLargeBatchTileK = 64;

struct LargeBatchKernelEntry {
  // Launches splits x ceil(m / rows) x (n / 256) blocks, each tile's k in `splits` shares of
  // k / 64 / splits steps (1 <= splits <= k / 64); reads params.a, b, scales, bias, c, m,
  // n, k, group_shift and accumulate (n a multiple of 256, k of 64; checked by the caller). With
  // splits > 1 also params.arrivals (2 counters a tile, zero before and after) and
  // params.partials (2 x splits x tiles slots of min(m, rows) x 128 floats).
  void (*launch)(const dense::DenseParams& params, int splits, bool programmatic,
                 cudaStream_t stream);
  // Makes the kernel's shared-memory opt-in on the current device (once per device) and says
  // whether one block fits on an SM.
  bool (*fits)(int device);
  int shared_bytes;
  int rows;  // of A per tile: kLargeBatchRows or kLargeBatchSmallRows
};

// The kernel for these activations and weights with tiles of `rows` rows of A, or null where
// there is none.
const LargeBatchKernelEntry* find_large_batch_kernel(DType activation, QuantScheme scheme,
                                                     int rows);

}  // namespace marlin::kernels::large_batch

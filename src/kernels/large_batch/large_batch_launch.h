// Host-side entry of the large-batch kernel (large_batch_kernel.cuh): sm_90a only, one block per
// 128 x 256 output tile. Weight formats so far: fp16 activations x symmetric INT4.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/dense/dense_params.h"

namespace marlin::kernels::large_batch {

constexpr int kLargeBatchRows = 128;
constexpr int kLargeBatchTileN = 256;
constexpr int kLargeBatchTileK = 64;

struct LargeBatchKernelEntry {
  // Launches ceil(m / 128) x (n / 256) blocks; reads params.a, b, scales, bias, c, m, n, k,
  // group_shift and accumulate (n a multiple of 256, k of 64; checked by the caller).
  void (*launch)(const dense::DenseParams& params, bool programmatic, cudaStream_t stream);
  // Makes the kernel's shared-memory opt-in on the current device (once per device) and says
  // whether one block fits on an SM.
  bool (*fits)(int device);
  int shared_bytes;
};

const LargeBatchKernelEntry& large_batch_fp16_int4();

}  // namespace marlin::kernels::large_batch

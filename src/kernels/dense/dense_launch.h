// Host-side entry points of the compiled dense kernels: for each weight format, one entry per
// Tiling of dense_tiling.h (TilingSmallM, TilingSmallM16, TilingMediumM, TilingLargeM,
// TilingHopperSmallM, TilingHopperMediumM, TilingHopperLargeM, TilingHopperWide, in that order).
// Each format lives in its own translation unit (dense_<activation>_<weights>.cu) to keep compile
// units small.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/dense/dense_params.h"

namespace marlin::kernels::dense {

struct DenseKernelEntry {
  // Launches on `grid` blocks; `programmatic`: as a programmatic dependent launch (sm_90+ only,
  // see kernels/common/grid_dependency.cuh). Arguments are checked by the caller.
  void (*launch)(const DenseParams& params, int grid, bool programmatic, cudaStream_t stream);
  // Blocks that fit on one SM of `device`, the current device (registers, shared memory); also
  // makes the kernel's shared-memory opt-in on that device, so call it before every launch (it
  // queries each device once and then answers from a cache).
  int (*resident_blocks_per_sm)(int device);
  int shared_bytes;
};

constexpr int kDenseTilings = 8;

const DenseKernelEntry* dense_kernels_fp16_int4();
const DenseKernelEntry* dense_kernels_fp16_int4_zero_point();
const DenseKernelEntry* dense_kernels_fp16_int8();
const DenseKernelEntry* dense_kernels_bf16_int4();
const DenseKernelEntry* dense_kernels_bf16_int4_zero_point();
const DenseKernelEntry* dense_kernels_bf16_int8();

}  // namespace marlin::kernels::dense

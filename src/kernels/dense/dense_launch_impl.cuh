// Definition of launch_dense_fp16_int4, included by the instantiation files only.
#pragma once

#include "core/cuda_check.h"
#include "kernels/dense/dense_kernel.cuh"
#include "kernels/dense/dense_launch.h"

namespace marlin::kernels::dense {

template <class T>
void launch_dense_fp16_int4(const DenseParams& params, int grid, cudaStream_t stream) {
  // The shared-memory opt-in (above 48 KiB) was made by resident_blocks_per_sm_dense_fp16_int4,
  // which the dispatcher calls before every launch to size the grid.
  dense_fp16_int4_kernel<T><<<grid, T::kThreads, T::kSharedBytes, stream>>>(params);
  CUDA_CHECK_LAUNCH("dense_fp16_int4_kernel");
}

template <class T>
int resident_blocks_per_sm_dense_fp16_int4() {
  CUDA_CHECK(cudaFuncSetAttribute(dense_fp16_int4_kernel<T>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSharedBytes));
  int blocks = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, dense_fp16_int4_kernel<T>,
                                                           T::kThreads, T::kSharedBytes));
  return blocks;
}

}  // namespace marlin::kernels::dense

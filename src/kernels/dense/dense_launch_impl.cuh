// Definition of the launch entries, included by the per-format instantiation files only.
#pragma once

#include "core/cuda_check.h"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_kernel.cuh"
#include "kernels/dense/dense_launch.h"

namespace marlin::kernels::dense {

template <class T, class F>
void launch_dense(const DenseParams& params, int grid, cudaStream_t stream) {
  // The shared-memory opt-in (above 48 KiB) was made by resident_blocks_per_sm_dense, which the
  // dispatcher calls before every launch to size the grid.
  dense_kernel<T, F><<<grid, T::kThreads, StageLayout<T, F>::kSharedBytes, stream>>>(params);
  CUDA_CHECK_LAUNCH("dense_kernel");
}

template <class T, class F>
int resident_blocks_per_sm_dense() {
  constexpr int kShared = StageLayout<T, F>::kSharedBytes;
  CUDA_CHECK(cudaFuncSetAttribute(dense_kernel<T, F>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  kShared));
  int blocks = 0;
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, dense_kernel<T, F>,
                                                           T::kThreads, kShared));
  return blocks;
}

template <class T, class F>
constexpr DenseKernelEntry entry_of() {
  return {&launch_dense<T, F>, &resident_blocks_per_sm_dense<T, F>, StageLayout<T, F>::kSharedBytes};
}

// The entries of every shipped Tiling for format F, in dense_tiling.h's order.
template <class F>
const DenseKernelEntry* all_tilings() {
  static constexpr DenseKernelEntry kEntries[kDenseTilings] = {
      entry_of<TilingSmallM, F>(), entry_of<TilingMediumM, F>(), entry_of<TilingLargeM, F>()};
  return kEntries;
}

}  // namespace marlin::kernels::dense

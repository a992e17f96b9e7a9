// Definition of the launch entries, included by the per-format instantiation files only.
#pragma once

#include "core/cuda_check.h"
#include "kernels/common/launch.cuh"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_kernel.cuh"
#include "kernels/dense/dense_launch.h"

namespace marlin::kernels::dense {

template <class T, class F>
void launch_dense(const DenseParams& params, int grid, bool programmatic, cudaStream_t stream) {
  // The shared-memory opt-in (above 48 KiB) was made by resident_blocks_per_sm_dense, which the
  // dispatcher calls before every launch to size the grid.
  launch_kernel(dense_kernel<T, F>, dim3(grid), dim3(T::kThreads), StageLayout<T, F>::kSharedBytes,
                programmatic, stream, params);
  CUDA_CHECK_LAUNCH("dense_kernel");
}

// Blocks of dense_kernel<T, F> resident per SM on the current device (queried once per device).
template <class T, class F>
int resident_blocks_per_sm_dense(int device) {
  return resident_blocks_per_sm<&dense_kernel<T, F>, T::kThreads, StageLayout<T, F>::kSharedBytes>(
      device);
}

template <class T, class F>
constexpr DenseKernelEntry entry_of() {
  return {&launch_dense<T, F>, &resident_blocks_per_sm_dense<T, F>, StageLayout<T, F>::kSharedBytes};
}

// The entries of every shipped Tiling for format F, in dense_tiling.h's order.
template <class F>
const DenseKernelEntry* all_tilings() {
  static constexpr DenseKernelEntry kEntries[kDenseTilings] = {
      entry_of<TilingSmallM, F>(), entry_of<TilingSmallM16, F>(), entry_of<TilingMediumM, F>(),
      entry_of<TilingLargeM, F>(),
      entry_of<TilingHopperSmallM, F>(), entry_of<TilingHopperMediumM, F>(),
      entry_of<TilingHopperLargeM, F>(), entry_of<TilingHopperWide, F>()};
  return kEntries;
}

}  // namespace marlin::kernels::dense

// A[:, perm] as its own small kernel before the GEMM. A is m x k 16-bit values (a few MB at
// most for m <= 1024), read through L2 in perm order and written with 16-byte stores; the
// alternative, gathering inside the GEMM's A loads, would turn every 16-byte cp.async of A into
// eight 2-byte loads in the pipeline's producer, the part that instruction issue already limits.
#include "kernels/act_order/gather_columns.h"

#include <algorithm>

#include "core/cuda_check.h"
#include "kernels/common/grid_dependency.cuh"
#include "kernels/common/launch.cuh"

namespace marlin::kernels::act_order {
namespace {

constexpr int kThreads = 256;

// The 8 source columns of output chunk `column` (a multiple of 8).
__device__ __forceinline__ void load_indices(const std::int32_t* __restrict__ perm, int column,
                                             int (&indices)[8]) {
  const int4 low = *reinterpret_cast<const int4*>(perm + column);
  const int4 high = *reinterpret_cast<const int4*>(perm + column + 4);
  const int loaded[8] = {low.x, low.y, low.z, low.w, high.x, high.y, high.z, high.w};
#pragma unroll
  for (int i = 0; i < 8; ++i) indices[i] = loaded[i];
}

__global__ void __launch_bounds__(kThreads)
    gather_columns_kernel(const std::uint16_t* __restrict__ a,
                          const std::int32_t* __restrict__ perm, std::uint16_t* __restrict__ out,
                          int m, int k, bool programmatic) {
  // One thread per 8 output columns of one row: 8 permuted reads, one 16-byte write.
  const int chunks_per_row = k / 8;
  const std::int64_t total = static_cast<std::int64_t>(m) * chunks_per_row;
  const std::int64_t first = blockIdx.x * static_cast<std::int64_t>(kThreads) + threadIdx.x;
  const auto column_of = [&](std::int64_t chunk) {
    return static_cast<int>(chunk % chunks_per_row) * 8;
  };
  // Under a programmatic launch (static_weights: the permutation, part of the weights, is not
  // being written) the first chunk's indices are read before the waits below, while the kernel
  // before us still runs. Read after them, they shared DRAM with the weight prefetch of the GEMM
  // after us, which starts as soon as we allow it, and the gather cost up to 5% more of the pair's
  // time at m = 16-32 (H100, docs/dense-kernel-notes.md v17). In stream order, reading them
  // before allowing the GEMM measured 1-2% slower, so there they follow the waits.
  const bool read_early = programmatic && first < total;
  int indices[8] = {};
  if (read_early) load_indices(perm, column_of(first), indices);
  // The GEMM after us may start now and stream its weights; it reads `out` only once we are done.
  // Under a programmatic launch of our own, A may still be being written by the kernel before us.
  ptx::allow_next_grid_launch();
  ptx::wait_for_previous_grid();
  for (std::int64_t chunk = first; chunk < total;
       chunk += static_cast<std::int64_t>(gridDim.x) * kThreads) {
    const int column = column_of(chunk);
    if (!read_early || chunk != first) load_indices(perm, column, indices);
    const std::int64_t row_start = chunk / chunks_per_row * k;
    alignas(16) std::uint16_t values[8];
#pragma unroll
    for (int i = 0; i < 8; ++i) values[i] = a[row_start + indices[i]];
    *reinterpret_cast<uint4*>(out + row_start + column) = *reinterpret_cast<const uint4*>(values);
  }
}

}  // namespace

void gather_columns(const std::uint16_t* a, const std::int32_t* perm, std::uint16_t* out, int m,
                    int k, bool programmatic, cudaStream_t stream) {
  const std::int64_t chunks = static_cast<std::int64_t>(m) * (k / 8);
  const int blocks =
      static_cast<int>(std::min<std::int64_t>((chunks + kThreads - 1) / kThreads, 4096));
  launch_kernel(gather_columns_kernel, dim3(blocks), dim3(kThreads), 0, programmatic, stream, a,
                perm, out, m, k, programmatic);
  CUDA_CHECK_LAUNCH("gather_columns_kernel");
}

}  // namespace marlin::kernels::act_order

// Act-order support: A's columns in the order of the packed weight rows (packed_format.h, 6).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace marlin::kernels::act_order {

// out[r][i] = a[r][perm[i]] for r < m, i < k; 16-bit elements, row-major, k a multiple of 8,
// `out` 16-byte aligned. `programmatic`: a programmatic dependent launch (sm_90+), which waits
// for the kernel before it only before reading A (kernels/common/grid_dependency.cuh) and reads
// the permutation, which must then not be written by that kernel, before waiting.
void gather_columns(const std::uint16_t* a, const std::int32_t* perm, std::uint16_t* out, int m,
                    int k, bool programmatic, cudaStream_t stream);

}  // namespace marlin::kernels::act_order

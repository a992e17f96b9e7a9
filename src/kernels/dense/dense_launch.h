// Host-side launchers of the shipped dense-kernel configurations (one per Tiling in
// dense_tiling.h), compiled in dense_fp16_int4_*.cu.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/dense/dense_params.h"

namespace marlin::kernels::dense {

// Launches the kernel of Tiling T on `grid` blocks. Arguments are checked by the caller.
template <class T>
void launch_dense_fp16_int4(const DenseParams& params, int grid, cudaStream_t stream);

// Blocks of Tiling T that fit on one SM of the current device (registers, shared memory).
template <class T>
int resident_blocks_per_sm_dense_fp16_int4();

}  // namespace marlin::kernels::dense

// Host-side launchers of the shipped dense-kernel configurations (one per Tiling in
// dense_tiling.h), compiled in dense_fp16_int4_*.cu.
#pragma once

#include <cuda_runtime_api.h>

#include "kernels/dense/dense_params.h"

namespace marlin::kernels::dense {

// Launches the kernel of Tiling T on `grid` blocks. Arguments are checked by the caller.
template <class T>
void launch_dense_fp16_int4(const DenseParams& params, int grid, cudaStream_t stream);

}  // namespace marlin::kernels::dense

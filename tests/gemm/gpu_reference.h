// fp64 reference GEMM on the GPU, for shapes too large for the CPU reference: C = A * W with A
// fp16 [m,k] and W fp32 [k,n] (dequantized weights), accumulated in double.
#pragma once

#include <cuda_runtime_api.h>

namespace marlin::testing {

void reference_gemm_fp64_gpu(const void* a_fp16, const float* w, double* c, int m, int n, int k,
                             cudaStream_t stream);

}  // namespace marlin::testing

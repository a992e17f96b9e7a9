// fp64 reference GEMM on the GPU, for shapes too large for the CPU reference: C = A * W with A
// fp16 or bf16 [m,k] and W fp32 [k,n] (dequantized weights), accumulated in double.
#pragma once

#include <cuda_runtime_api.h>

#include "marlin/dtype.h"

namespace marlin::testing {

// a_dtype: kFloat16 or kBFloat16 (anything else throws marlin::Error).
void reference_gemm_fp64_gpu(const void* a, DType a_dtype, const float* w, double* c, int m, int n,
                             int k, cudaStream_t stream);

}  // namespace marlin::testing

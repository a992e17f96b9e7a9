#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <string>

#include "core/cuda_check.h"
#include "gpu_reference.h"
#include "marlin/status.h"

namespace marlin::testing {
namespace {

constexpr int kTile = 16;

__device__ double to_double(__half value) { return static_cast<double>(__half2float(value)); }
__device__ double to_double(__nv_bfloat16 value) {
  return static_cast<double>(__bfloat162float(value));
}

// Plain shared-memory tiled GEMM in fp64: obviously right, fast enough for tests.
template <class Element>
__global__ void reference_kernel(const Element* a, const float* w, double* c, int m, int n, int k) {
  __shared__ double a_tile[kTile][kTile];
  __shared__ double w_tile[kTile][kTile];
  const int row = blockIdx.y * kTile + threadIdx.y;
  const int col = blockIdx.x * kTile + threadIdx.x;
  double sum = 0.0;
  for (int k0 = 0; k0 < k; k0 += kTile) {
    const int a_col = k0 + threadIdx.x;
    const int w_row = k0 + threadIdx.y;
    a_tile[threadIdx.y][threadIdx.x] =
        (row < m && a_col < k) ? to_double(a[static_cast<long long>(row) * k + a_col]) : 0.0;
    w_tile[threadIdx.y][threadIdx.x] =
        (w_row < k && col < n) ? static_cast<double>(w[static_cast<long long>(w_row) * n + col]) : 0.0;
    __syncthreads();
    for (int i = 0; i < kTile; ++i) sum += a_tile[threadIdx.y][i] * w_tile[i][threadIdx.x];
    __syncthreads();
  }
  if (row < m && col < n) c[static_cast<long long>(row) * n + col] = sum;
}

}  // namespace

void reference_gemm_fp64_gpu(const void* a, DType a_dtype, const float* w, double* c, int m, int n,
                             int k, cudaStream_t stream) {
  const dim3 block(kTile, kTile);
  const dim3 grid((n + kTile - 1) / kTile, (m + kTile - 1) / kTile);
  if (a_dtype == DType::kFloat16) {
    reference_kernel<<<grid, block, 0, stream>>>(static_cast<const __half*>(a), w, c, m, n, k);
  } else if (a_dtype == DType::kBFloat16) {
    reference_kernel<<<grid, block, 0, stream>>>(static_cast<const __nv_bfloat16*>(a), w, c, m,
                                                 n, k);
  } else {
    require(false, "reference_gemm_fp64_gpu: A must be fp16 or bf16, not " +
                       std::string(dtype_name(a_dtype)));
  }
  CUDA_CHECK_LAUNCH("reference_kernel");
}

}  // namespace marlin::testing

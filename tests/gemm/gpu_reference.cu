#include <cuda_fp16.h>

#include "core/cuda_check.h"
#include "gpu_reference.h"

namespace marlin::testing {
namespace {

constexpr int kTile = 16;

// Plain shared-memory tiled GEMM in fp64: obviously right, fast enough for tests.
__global__ void reference_kernel(const __half* a, const float* w, double* c, int m, int n, int k) {
  __shared__ double a_tile[kTile][kTile];
  __shared__ double w_tile[kTile][kTile];
  const int row = blockIdx.y * kTile + threadIdx.y;
  const int col = blockIdx.x * kTile + threadIdx.x;
  double sum = 0.0;
  for (int k0 = 0; k0 < k; k0 += kTile) {
    const int a_col = k0 + threadIdx.x;
    const int w_row = k0 + threadIdx.y;
    a_tile[threadIdx.y][threadIdx.x] =
        (row < m && a_col < k) ? static_cast<double>(__half2float(a[static_cast<long long>(row) * k + a_col])) : 0.0;
    w_tile[threadIdx.y][threadIdx.x] =
        (w_row < k && col < n) ? static_cast<double>(w[static_cast<long long>(w_row) * n + col]) : 0.0;
    __syncthreads();
    for (int i = 0; i < kTile; ++i) sum += a_tile[threadIdx.y][i] * w_tile[i][threadIdx.x];
    __syncthreads();
  }
  if (row < m && col < n) c[static_cast<long long>(row) * n + col] = sum;
}

}  // namespace

void reference_gemm_fp64_gpu(const void* a_fp16, const float* w, double* c, int m, int n, int k,
                             cudaStream_t stream) {
  const dim3 block(kTile, kTile);
  const dim3 grid((n + kTile - 1) / kTile, (m + kTile - 1) / kTile);
  reference_kernel<<<grid, block, 0, stream>>>(static_cast<const __half*>(a_fp16), w, c, m, n, k);
  CUDA_CHECK_LAUNCH("reference_kernel");
}

}  // namespace marlin::testing

// GPTQ's device code. The host side (gptq_cuda.cu) plans the work: cuBLAS accumulates the Hessian
// and applies each block's errors to the later features (one GEMM per block), cuSOLVER factors the
// Hessian; these kernels do the rest: reorder the weights, build the damped Hessian, check the
// factor, and quantize one block of features with its error feedback.
//
// Working layout: W is k x n row-major in *processing order* (row p = feature order[p]), i.e.
// marlin's QuantizedMatrix orientation. A thread that owns output j reads W[p * n + j]: the threads
// of a warp touch consecutive addresses for every feature p, which is why we work in this
// orientation rather than the Linear one (n x k).
//
// U (upper Cholesky factor of H^-1) is column-major k x k, as cuSOLVER leaves it: U(a, b) at
// a + b * k, read only for a <= b.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "quant/gptq_grid.h"

namespace marlin::gptq {

constexpr int kTransposeTile = 32;      // (32, 32) tile; threads (32, kTransposeRows)
constexpr int kTransposeRows = 8;
constexpr int kBlockThreads = 64;       // threads (= outputs) per CTA of the block kernel
constexpr int kMaxBlockFeatures = 128;  // GptqOptions::block_size limit

__device__ inline float to_float(float value) { return value; }
__device__ inline float to_float(__half value) { return __half2float(value); }
__device__ inline float to_float(__nv_bfloat16 value) { return __bfloat162float(value); }

// W[p, j] = weight[j, order[p]] (0 for dead features), fp32. weight is n x k row-major (Linear).
// A (32 x 32) tile goes through shared memory so that both the read (along k, gathered by
// `order`) and the write (along n) are row-contiguous across a warp. The pad column avoids the
// 32-way bank conflict of reading the tile's columns.
// Sets *non_finite when a weight is NaN or Inf.
template <typename T>
__global__ void load_weights_in_order_kernel(const T* __restrict__ weight,
                                             const std::int32_t* __restrict__ order,
                                             const std::uint8_t* __restrict__ dead, int n, int k,
                                             float* __restrict__ w, int* __restrict__ non_finite) {
  __shared__ float tile[kTransposeTile][kTransposeTile + 1];  // (output, feature) of this tile
  const int p0 = blockIdx.x * kTransposeTile;
  const int j0 = blockIdx.y * kTransposeTile;
  for (int row = threadIdx.y; row < kTransposeTile; row += kTransposeRows) {
    const int j = j0 + row;
    const int p = p0 + threadIdx.x;
    float value = 0.0f;
    if (j < n && p < k) {
      const int feature = order[p];
      value = to_float(weight[static_cast<std::size_t>(j) * k + feature]);
      if (!isfinite(value)) atomicOr(non_finite, 1);
      if (dead[feature]) value = 0.0f;
    }
    tile[row][threadIdx.x] = value;
  }
  __syncthreads();
  for (int row = threadIdx.y; row < kTransposeTile; row += kTransposeRows) {
    const int p = p0 + row;
    const int j = j0 + threadIdx.x;
    if (p < k && j < n) w[static_cast<std::size_t>(p) * n + j] = tile[threadIdx.x][row];
  }
}

// H_damped(a, b) = H(order[a], order[b]), column-major, with dead diagonals set to 1 and `damp`
// added to the diagonal. `hessian` is read from its lower triangle (row-major (i, j), i >= j).
__global__ void build_damped_hessian_kernel(const float* __restrict__ hessian,
                                            const std::int32_t* __restrict__ order, int k,
                                            float damp, float* __restrict__ damped) {
  const std::size_t count = static_cast<std::size_t>(k) * k;
  for (std::size_t e = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const int a = static_cast<int>(e % k);
    const int b = static_cast<int>(e / k);
    const int fa = order[a];
    const int fb = order[b];
    const int high = fa > fb ? fa : fb;
    const int low = fa > fb ? fb : fa;
    float value = hessian[static_cast<std::size_t>(high) * k + low];
    if (a == b) value = (value == 0.0f ? 1.0f : value) + damp;
    damped[e] = value;
  }
}

// Counts entries of U's upper triangle that are not finite, and diagonal entries that are not
// positive: a factor GPTQ cannot use (cuSOLVER's info does not catch NaN inputs).
__global__ void check_factor_kernel(const float* __restrict__ u, int k, int* __restrict__ bad) {
  const std::size_t count = static_cast<std::size_t>(k) * k;
  int local_bad = 0;
  for (std::size_t e = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const int a = static_cast<int>(e % k);
    const int b = static_cast<int>(e / k);
    if (a > b) continue;
    const float value = u[e];
    if (!isfinite(value) || (a == b && !(value > 0.0f))) ++local_bad;
  }
  if (local_bad) atomicAdd(bad, local_bad);
}

__global__ void set_identity_kernel(float* __restrict__ u, int k) {
  const std::size_t count = static_cast<std::size_t>(k) * k;
  for (std::size_t e = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; e < count;
       e += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    u[e] = (e % k == e / k) ? 1.0f : 0.0f;
  }
}

// Everything the block kernel needs besides the arrays.
struct BlockArgs {
  int n = 0;
  int k = 0;
  int first = 0;   // first feature (processing order) of this block
  int count = 0;   // features in this block, <= kMaxBlockFeatures
  int group = 0;   // features per group (k for per-channel)
  GridSpec grid;
};

// One block of `count` features: quantize each feature, feed its error forward to the block's
// later features, and record the errors for the GEMM that updates the rest of W.
//
// Ownership: CTA c owns outputs [c * 64, c * 64 + 64), thread t owns output j = c * 64 + t and
// walks the block's features in order; no thread ever needs another thread's values, so the
// feature loop has no synchronisation. Shared memory:
//
//   w_block  (count, 64) fp32   w_block[p * 64 + t] = W[first + p, j]   (bank = t: conflict-free)
//   u_block  (count, count)     u_block[l * count + p] = U(first + p, first + l), all threads read
//                                the same word at a time (broadcast)
//
// Per feature p (the paper's Algorithm 1, inner loop):
//   group start?  scale/zero from the group's current weights (block: w_block, beyond: W)
//   q  = quant(w_p);  e = (w_p - dequant(q)) / U_pp
//   w_l -= e * U_pl   for the later features l of the block
__global__ void __launch_bounds__(kBlockThreads)
gptq_block_kernel(const float* __restrict__ w, const float* __restrict__ u, BlockArgs args,
                  std::uint8_t* __restrict__ codes, float* __restrict__ errors,
                  float* __restrict__ scales, std::uint8_t* __restrict__ zeros,
                  int* __restrict__ bad_scale) {
  extern __shared__ float shared[];
  const int count = args.count;
  float* w_block = shared;                        // (count, kBlockThreads)
  float* u_block = shared + count * kBlockThreads;  // (count, count), [l][p]
  const int t = threadIdx.x;
  const int j = blockIdx.x * kBlockThreads + t;
  const int n = args.n;

  for (int e = t; e < count * count; e += kBlockThreads) {
    const int p = e % count;
    const int l = e / count;
    u_block[e] = u[static_cast<std::size_t>(args.first + p) + static_cast<std::size_t>(args.first + l) * args.k];
  }
  for (int p = 0; p < count; ++p) {
    w_block[p * kBlockThreads + t] =
        j < n ? w[static_cast<std::size_t>(args.first + p) * n + j] : 0.0f;
  }
  __syncthreads();
  if (j >= n) return;

  // The group in progress when the block starts may have begun in an earlier block.
  GroupParams<float> params{1.0f, 0};
  if (args.first % args.group != 0) {
    const std::size_t index = static_cast<std::size_t>(args.first / args.group) * n + j;
    params.scale = scales[index];
    params.zero = args.grid.implicit_zero >= 0 ? args.grid.implicit_zero : zeros[index];
  }

  for (int p = 0; p < count; ++p) {
    const int feature = args.first + p;
    if (feature % args.group == 0) {
      const int block_end = args.first + count;
      auto load = [&](int i) -> float {
        const int f = feature + i;
        return f < block_end ? w_block[(f - args.first) * kBlockThreads + t]
                             : w[static_cast<std::size_t>(f) * n + j];
      };
      params = choose_group_params<float>(load, args.group, args.grid);
      if (!isfinite(params.scale)) atomicOr(bad_scale, 1);
      const std::size_t index = static_cast<std::size_t>(feature / args.group) * n + j;
      scales[index] = params.scale;
      if (args.grid.implicit_zero < 0) zeros[index] = static_cast<std::uint8_t>(params.zero);
    }
    const float value = w_block[p * kBlockThreads + t];
    const int code = quantize_code(value, params, args.grid.max_code);
    codes[static_cast<std::size_t>(feature) * n + j] = static_cast<std::uint8_t>(code);
    const float error = (value - dequantize_code(code, params)) / u_block[p * count + p];
    errors[static_cast<std::size_t>(p) * n + j] = error;
#pragma unroll 4
    for (int l = p + 1; l < count; ++l) {
      w_block[l * kBlockThreads + t] -= error * u_block[l * count + p];
    }
  }
}

}  // namespace marlin::gptq

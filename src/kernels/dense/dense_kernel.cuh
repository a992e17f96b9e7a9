// The dense MARLIN kernel: C = A * dequant(W), fp16 A and C, symmetric INT4 W with fp16 group
// scales, fp32 accumulation (MARLIN paper, section 3).
//
// Work partition ("striped", paper figure 3). The output is cut into slices of kRows x kTileN
// (m chunk p, n tile nt); each slice needs k_tiles k-steps. All (slice, k-step) pairs are lined up
// with k fastest, and every block takes one contiguous stripe of tiles_per_block of them:
//
//   slice 0: [k0 k1 k2 k3 k4 k5] slice 1: [k0 k1 k2 k3 k4 k5] slice 2: [k0 ...
//            |--- block 0 ---|--- block 1 ---|--- block 2 ---|
//
// so every SM streams the same number of weight bytes whatever the shape. A slice shared by
// several blocks is summed serially through C under a per-slice lock, in REVERSE block order: the
// last block of a slice reaches it first (it is the start of that block's stripe), so it goes
// first and never waits; the others finish the slice at the end of their stripes, at about the
// same time. (In forward order every block would wait at its first slice for the previous block
// to finish its whole stripe: a chain through the grid.) The first block to go writes its partial
// sum to C, each next one adds its own, the final one writes the result and resets the lock to
// zero. The order is fixed, so results are bitwise deterministic. Consecutive slices
// are the m chunks of one n tile, so blocks running at the same time read the same weights (from
// L2, once m exceeds one chunk).
//
// Per block, a kStages-deep cp.async pipeline streams stage after stage of (A tile, W tile, scale
// rows) into shared memory while the warps dequantize and multiply the oldest resident stage.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/common/cp_async.cuh"
#include "kernels/common/dequant.cuh"
#include "kernels/common/mma.cuh"
#include "kernels/common/sync.cuh"
#include "kernels/dense/dense_params.h"
#include "kernels/dense/dense_tiling.h"
#include "layout/packed_format.h"

namespace marlin::kernels::dense {

// Shared memory of one stage:
//   A      (kRows, kTileK) fp16; 16-byte chunk c of row r stored at chunk c ^ (r % 8), so that
//          the 8 row addresses of one ldmatrix 8x8 matrix fall in 8 different bank groups
//          (rows are a multiple of 128 bytes apart, they would all hit the same banks unswizzled)
//   B      (kKSteps, kNSlices, 32 lanes) uint4: the packed tiles exactly as in global memory
//   scales (kMaxScaleRows, kTileN) fp16, still transposed per 64 columns
template <class T>
struct StageView {
  std::uint8_t* a;
  uint4* b;
  __half* scales;

  __device__ static StageView at(std::uint8_t* shared, int stage) {
    std::uint8_t* base = shared + stage * T::kStageBytes;
    return {base, reinterpret_cast<uint4*>(base + T::kABytes),
            reinterpret_cast<__half*>(base + T::kABytes + T::kBBytes)};
  }
};

template <class T>
__device__ __forceinline__ int a_chunk_offset(int row, int chunk) {
  return (row * T::kAChunksPerRow + (chunk ^ (row % 8))) * 16;
}

// Where a (slice, k-step) pair of the linear work order lives.
struct TileCoord {
  int m_chunk;
  int n_tile;
  int k_tile;
};

__device__ __forceinline__ TileCoord tile_coord(int linear, int k_tiles, int m_chunks) {
  const int slice = linear / k_tiles;
  return {slice % m_chunks, slice / m_chunks, linear % k_tiles};
}

// The next pair in the work order, without divisions (this runs once per stage).
__device__ __forceinline__ void advance(TileCoord& tile, int k_tiles, int m_chunks) {
  if (++tile.k_tile == k_tiles) {
    tile.k_tile = 0;
    if (++tile.m_chunk == m_chunks) {
      tile.m_chunk = 0;
      ++tile.n_tile;
    }
  }
}

// Issues the cp.async copies of one stage; every thread copies a few 16-byte chunks.
template <class T>
__device__ __forceinline__ void load_stage(const DenseParams& p, StageView<T> stage,
                                           TileCoord tile) {
  // A: kRows x kTileK halves; rows past m are zero-filled.
  const __half* a = static_cast<const __half*>(p.a);
  constexpr int kAChunks = T::kRows * T::kAChunksPerRow;
#pragma unroll
  for (int pass = 0; pass < (kAChunks + T::kThreads - 1) / T::kThreads; ++pass) {
    const int i = threadIdx.x + pass * T::kThreads;
    if (kAChunks % T::kThreads != 0 && i >= kAChunks) break;
    const int row = i / T::kAChunksPerRow;
    const int chunk = i % T::kAChunksPerRow;
    const int global_row = tile.m_chunk * T::kRows + row;
    const bool valid = global_row < p.m;
    const __half* src =
        a + static_cast<std::int64_t>(valid ? global_row : 0) * p.k + tile.k_tile * T::kTileK +
        chunk * 8;
    ptx::cp_async_16_zfill(stage.a + a_chunk_offset<T>(row, chunk), src, valid);
  }
  // B: kKSteps bands of kTileN * 8 contiguous bytes each.
  constexpr int kBChunksPerBand = T::kNSlices * 32;
  constexpr int kBChunks = T::kKSteps * kBChunksPerBand;
  static_assert(kBChunks % T::kThreads == 0, "B chunks must split evenly over threads");
#pragma unroll
  for (int pass = 0; pass < kBChunks / T::kThreads; ++pass) {
    const int i = threadIdx.x + pass * T::kThreads;
    const int band = i / kBChunksPerBand;
    const int offset_in_band = i % kBChunksPerBand;
    const std::int64_t word =
        layout::int4_tile_word_offset(static_cast<std::int64_t>(tile.k_tile) * T::kKSteps + band,
                                      static_cast<std::int64_t>(tile.n_tile) * T::kNSlices, p.n) +
        offset_in_band * layout::kWordsPerLane;
    ptx::cp_async_16(stage.b + i, p.b + word);
  }
  // Scale rows of the groups this k tile touches (group sizes are powers of two, or k).
  const int rows = max(1, T::kTileK >> p.group_shift);
  const int first_row = (tile.k_tile * T::kTileK) >> p.group_shift;
  constexpr int kChunksPerRow = T::kTileN / 8;
  const __half* scales = static_cast<const __half*>(p.scales);
  if (threadIdx.x < rows * kChunksPerRow) {
    const int row = threadIdx.x / kChunksPerRow;
    const int chunk = threadIdx.x % kChunksPerRow;
    ptx::cp_async_16(stage.scales + row * T::kTileN + chunk * 8,
                     scales + static_cast<std::int64_t>(first_row + row) * p.n +
                         tile.n_tile * T::kTileN + chunk * 8);
  }
}

template <class T>
struct Accumulators {
  ptx::FragmentC frag[T::kMBlocks][layout::kColumnGroups];

  __device__ __forceinline__ void zero() {
#pragma unroll
    for (int mb = 0; mb < T::kMBlocks; ++mb)
#pragma unroll
      for (int j = 0; j < layout::kColumnGroups; ++j)
#pragma unroll
        for (int v = 0; v < 4; ++v) frag[mb][j].value[v] = 0.0f;
  }
};

// One warp's share of a stage: its k16 steps of its 64-column slice.
template <class T>
__device__ __forceinline__ void compute_stage(const DenseParams& p, StageView<T> stage,
                                              Accumulators<T>& acc, int slice, int k_group) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int s = 0; s < T::kKStepsPerWarp; ++s) {
    const int k_step = k_group * T::kKStepsPerWarp + s;
    // (16 x 64) int4 weights: this lane's 4 words = B fragments of all 8 column groups.
    const uint4 words = stage.b[(k_step * T::kNSlices + slice) * 32 + lane];
    // The 8 scales of this lane's columns (8j + lane/4), contiguous thanks to the transpose.
    const int scale_row = (k_step * 16) >> p.group_shift;  // 0 when a group spans the tile
    const uint4 scale_bits = *reinterpret_cast<const uint4*>(
        stage.scales + scale_row * T::kTileN + slice * layout::kTileN + (lane / 4) * 8);
    const __half* column_scales = reinterpret_cast<const __half*>(&scale_bits);

    ptx::FragmentB b[layout::kColumnGroups];
    const std::uint32_t word_list[4] = {words.x, words.y, words.z, words.w};
#pragma unroll
    for (int w = 0; w < 4; ++w) {
      ptx::dequant_int4_word_f16(word_list[w], b[2 * w], b[2 * w + 1]);
      ptx::scale_fragment(b[2 * w], column_scales[2 * w]);
      ptx::scale_fragment(b[2 * w + 1], column_scales[2 * w + 1]);
    }
#pragma unroll
    for (int mb = 0; mb < T::kMBlocks; ++mb) {
      // ldmatrix x4: lanes 0-15 address rows 0-15 of k half 0, lanes 16-31 rows 0-15 of k half 1.
      ptx::FragmentA a;
      const int row = mb * 16 + lane % 16;
      const int chunk = k_step * 2 + lane / 16;
      ptx::ldmatrix_x4(a, ptx::shared_address(stage.a + a_chunk_offset<T>(row, chunk)));
      // Matrix q of the x4 is addressed by lanes 8q..8q+7: (rows 0-7 | 8-15) x (k 0-7 | 8-15)
      // in the order a0, a1, a2, a3 of the mma A operand (see mma.cuh).
#pragma unroll
      for (int j = 0; j < layout::kColumnGroups; ++j) ptx::mma_m16n8k16_f32_f16(acc.frag[mb][j], a, b[j]);
    }
  }
}

// Sums the k-group warps of each slice into the k_group 0 warps (shared memory, fixed order).
template <class T>
__device__ __forceinline__ void reduce_within_block(Accumulators<T>& acc, float4* reduce_buffer,
                                                    int slice, int k_group) {
  if constexpr (T::kKGroups > 1) {
    const int lane = threadIdx.x % 32;
    float4* mine = reduce_buffer + slice * (T::kMBlocks * 8 * 32);
#pragma unroll
    for (int step = T::kKGroups - 1; step >= 0; --step) {
      if (k_group == step) {
#pragma unroll
        for (int mb = 0; mb < T::kMBlocks; ++mb)
#pragma unroll
          for (int j = 0; j < 8; ++j) {
            float4* cell = mine + (mb * 8 + j) * 32 + lane;
            float* v = acc.frag[mb][j].value;
            if (step < T::kKGroups - 1) {
              const float4 partial = *cell;
              v[0] += partial.x;
              v[1] += partial.y;
              v[2] += partial.z;
              v[3] += partial.w;
            }
            if (step > 0) *cell = make_float4(v[0], v[1], v[2], v[3]);
          }
      }
      if (step > 0) __syncthreads();
    }
  }
}

// k_group 0 warps: add the partial sum already in C (rank > 0), then write C (fp16).
template <class T>
__device__ __forceinline__ void accumulate_and_store(const DenseParams& p, Accumulators<T>& acc,
                                                     TileCoord tile, int slice, bool add_partial) {
  const int lane = threadIdx.x % 32;
  __half* c = static_cast<__half*>(p.c);
  const int column_base = tile.n_tile * T::kTileN + slice * layout::kTileN + 2 * (lane % 4);
#pragma unroll
  for (int mb = 0; mb < T::kMBlocks; ++mb) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = tile.m_chunk * T::kRows + mb * 16 + lane / 4 + 8 * half;
      if (row >= p.m) continue;
      __half* c_row = c + static_cast<std::int64_t>(row) * p.n;
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        __half2* out = reinterpret_cast<__half2*>(c_row + column_base + 8 * j);
        float x = acc.frag[mb][j].value[2 * half];
        float y = acc.frag[mb][j].value[2 * half + 1];
        if (add_partial) {
          // .cg: the partial was written by another SM; bypass this SM's (incoherent) L1.
          const float2 partial = __half22float2(__ldcg(out));
          x += partial.x;
          y += partial.y;
        }
        *out = __floats2half2_rn(x, y);
      }
    }
  }
}

// The block has finished its part of one slice: reduce and publish it.
template <class T>
__device__ __forceinline__ void finish_slice(const DenseParams& p, Accumulators<T>& acc,
                                             float4* reduce_buffer, int linear, int slice_warp,
                                             int k_group) {
  const int k_tiles = p.k / T::kTileK;
  const TileCoord tile = tile_coord(linear, k_tiles, p.m_chunks);
  reduce_within_block<T>(acc, reduce_buffer, slice_warp, k_group);

  // Blocks sharing this slice, in stripe order.
  const int slice_index = linear / k_tiles;
  const int first_block = slice_index * k_tiles / p.tiles_per_block;
  const int last_block = (slice_index * k_tiles + k_tiles - 1) / p.tiles_per_block;
  const int rank = last_block - blockIdx.x;  // reverse order, see the top of this file
  const bool shared_slice = last_block > first_block;
  int* lock = p.locks + slice_index;

  if (shared_slice) ptx::block_wait_for_turn(lock, rank);
  if (k_group == 0) accumulate_and_store<T>(p, acc, tile, slice_warp, rank > 0);
  if (shared_slice) {
    const bool final_turn = blockIdx.x == first_block;
    ptx::block_pass_turn(lock, final_turn ? 0 : rank + 1);
  }
  acc.zero();
}

template <class T>
__global__ void __launch_bounds__(T::kThreads, T::kBlocksPerSM)
    dense_fp16_int4_kernel(const DenseParams p) {
  extern __shared__ __align__(128) std::uint8_t shared[];
  const int k_tiles = p.k / T::kTileK;
  const int total = p.m_chunks * (p.n / T::kTileN) * k_tiles;
  const int begin = blockIdx.x * p.tiles_per_block;
  const int count = min(p.tiles_per_block, total - begin);
  if (count <= 0) return;

  const int warp = threadIdx.x / 32;
  const int slice_warp = warp % T::kNSlices;  // which 64-column slice this warp computes
  const int k_group = warp / T::kNSlices;     // which k16 steps of a stage it takes
  float4* reduce_buffer = reinterpret_cast<float4*>(shared + T::kStages * T::kStageBytes);

  // Prologue: fill kStages - 1 stages. Every step commits one group (possibly empty) so that
  // wait_group counts stay aligned with stage numbers.
  TileCoord load_tile = tile_coord(begin, k_tiles, p.m_chunks);
#pragma unroll
  for (int s = 0; s < T::kStages - 1; ++s) {
    if (s < count) {
      load_stage<T>(p, StageView<T>::at(shared, s), load_tile);
      advance(load_tile, k_tiles, p.m_chunks);
    }
    ptx::cp_async_commit_group();
  }

  Accumulators<T> acc;
  acc.zero();
  int compute_k_tile = begin % k_tiles;
  for (int i = 0; i < count; ++i) {
    ptx::cp_async_wait_group<T::kStages - 2>();
    // Stage i has landed for every thread, and everyone is done with stage i - 1, whose buffer
    // the next load reuses.
    __syncthreads();
    const int next = i + T::kStages - 1;
    if (next < count) {
      load_stage<T>(p, StageView<T>::at(shared, next % T::kStages), load_tile);
      advance(load_tile, k_tiles, p.m_chunks);
    }
    ptx::cp_async_commit_group();

    compute_stage<T>(p, StageView<T>::at(shared, i % T::kStages), acc, slice_warp, k_group);

    const bool slice_done = ++compute_k_tile == k_tiles;
    if (slice_done) compute_k_tile = 0;
    if (slice_done || i == count - 1)
      finish_slice<T>(p, acc, reduce_buffer, begin + i, slice_warp, k_group);
  }
  ptx::cp_async_wait_group<0>();
}

}  // namespace marlin::kernels::dense

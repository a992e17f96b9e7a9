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
// several blocks is reduced without any block waiting for another: each block writes its fp32
// partial sum to a slot of the workspace (two slots per block: the slice its stripe starts in,
// and the one it ends in), then counts itself in on the slice's arrival counter. The block that
// arrives last sums all the slots of the slice in block order, writes C and resets the counter.
// The summation order is fixed, so results are bitwise deterministic. (A serial hand-over through
// C, block after block, made slices shared by 8 blocks wait on a chain of 8 lock hand-overs:
// 4096x4096 at m=1 took 18.6 us instead of the 2.5 us its bytes need.) Consecutive slices are the
// m chunks of one n tile, so blocks running at the same time read the same weights (from L2,
// once m exceeds one chunk).
//
// Per block, a kStages-deep cp.async pipeline streams stage after stage of (A tile, W tile, scale
// rows) into shared memory while the warps dequantize and multiply the oldest resident stage.
#pragma once

#include <cuda_fp16.h>

#include <cstdint>

#include "kernels/common/cp_async.cuh"
#include "kernels/common/dequant.cuh"
#include "kernels/common/mma.cuh"
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

// Calls fn(mb, j, half, row, column) for this lane's accumulator pairs that fall inside C: the
// pair acc.frag[mb][j].value[2 half + {0, 1}] holds columns (column, column + 1) of `row`; rows
// are relative to the slice's m chunk, columns to its n tile.
template <class T, class Fn>
__device__ __forceinline__ void for_each_output_pair(const DenseParams& p, TileCoord tile,
                                                     int slice, Fn fn) {
  const int lane = threadIdx.x % 32;
  const int rows_left = p.m - tile.m_chunk * T::kRows;
#pragma unroll
  for (int mb = 0; mb < T::kMBlocks; ++mb) {
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      const int row = mb * 16 + lane / 4 + 8 * half;
      if (row >= rows_left) continue;
#pragma unroll
      for (int j = 0; j < 8; ++j) fn(mb, j, half, row, slice * layout::kTileN + 8 * j + 2 * (lane % 4));
    }
  }
}

template <class T>
__device__ __forceinline__ __half2* output_pair(const DenseParams& p, TileCoord tile, int row,
                                                int column) {
  __half* c = static_cast<__half*>(p.c);
  return reinterpret_cast<__half2*>(c + static_cast<std::int64_t>(tile.m_chunk * T::kRows + row) * p.n +
                                    tile.n_tile * T::kTileN + column);
}

// Slot of `block` for a slice: 0 if the slice is the one its stripe starts in, else 1.
template <class T>
__device__ __forceinline__ float* partial_slot(const DenseParams& p, int block, int slice_index,
                                               int k_tiles) {
  const int first_slice = block * p.tiles_per_block / k_tiles;
  const int slot = 2 * block + (first_slice == slice_index ? 0 : 1);
  return p.partials + static_cast<std::int64_t>(slot) * p.slot_rows * T::kTileN;
}

// The block has finished its part of one slice: reduce and publish it.
template <class T>
__device__ __forceinline__ void finish_slice(const DenseParams& p, Accumulators<T>& acc,
                                             float4* reduce_buffer, int linear, int slice_warp,
                                             int k_group) {
  const int k_tiles = p.k / T::kTileK;
  const TileCoord tile = tile_coord(linear, k_tiles, p.m_chunks);
  reduce_within_block<T>(acc, reduce_buffer, slice_warp, k_group);

  // Blocks sharing this slice: a contiguous range of stripes.
  const int slice_index = linear / k_tiles;
  const int first_block = slice_index * k_tiles / p.tiles_per_block;
  const int last_block = (slice_index * k_tiles + k_tiles - 1) / p.tiles_per_block;

  // The whole slice ours: straight to C (fp16). Shared: our part to our fp32 slot. (One store
  // loop for both: two unrolled copies pushed the 64-row configuration past 255 registers.)
  const bool shared_slice = last_block > first_block;
  if (k_group == 0) {
    float* slot = partial_slot<T>(p, blockIdx.x, slice_index, k_tiles);
    for_each_output_pair<T>(p, tile, slice_warp, [&](int mb, int j, int half, int row, int column) {
      const float* v = acc.frag[mb][j].value + 2 * half;
      if (shared_slice) {
        __stcg(reinterpret_cast<float2*>(slot + row * T::kTileN + column), make_float2(v[0], v[1]));
      } else {
        *output_pair<T>(p, tile, row, column) = __floats2half2_rn(v[0], v[1]);
      }
    });
  }
  acc.zero();
  if (!shared_slice) return;
  __shared__ int arrived_last;
  __threadfence();  // our slot is visible device-wide before we are counted
  __syncthreads();
  if (threadIdx.x == 0) {
    const int before = atomicAdd(p.arrivals + slice_index, 1);
    arrived_last = before == last_block - first_block;
  }
  __syncthreads();
  if (arrived_last) {
    __threadfence();  // the other blocks' slots, counted before our atomic, are visible to us
    // All threads sum the slots in block order, 4 columns at a time, and write C.
    const int rows = min(p.m - tile.m_chunk * T::kRows, T::kRows);
    for (int i = threadIdx.x; i < rows * T::kTileN / 4; i += T::kThreads) {
      const int row = i / (T::kTileN / 4);
      const int column = (i % (T::kTileN / 4)) * 4;
      float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      for (int block = first_block; block <= last_block; ++block) {
        const float* slot = partial_slot<T>(p, block, slice_index, k_tiles);
        // .cg: written by other SMs; this SM's L1 is not coherent with them.
        const float4 part = __ldcg(reinterpret_cast<const float4*>(slot + row * T::kTileN + column));
        sum.x += part.x;
        sum.y += part.y;
        sum.z += part.z;
        sum.w += part.w;
      }
      __half2* out = output_pair<T>(p, tile, row, column);
      out[0] = __floats2half2_rn(sum.x, sum.y);
      out[1] = __floats2half2_rn(sum.z, sum.w);
    }
    if (threadIdx.x == 0) p.arrivals[slice_index] = 0;  // clean for the next launch
  }
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

// The end of a slice in the dense kernel: the warps of a block sum their k shares in shared
// memory, then the block either owns the whole slice and writes C, or publishes an fp32 partial
// sum and the last block to arrive sums all of them in a fixed order (dense_kernel.cuh explains
// the partition). Bias and accumulate-into-C happen here, once per output element.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <type_traits>

#include "kernels/dense/dense_compute.cuh"
#include "kernels/dense/dense_params.h"

namespace marlin::kernels::dense {

// Sums the k-group warps of each slice into the k_group 0 warps (shared memory, fixed order).
template <class T>
__device__ __forceinline__ void reduce_within_block(Accumulators<T>& acc, float4* reduce_buffer,
                                                    int slice, int k_group) {
  if constexpr (T::kKGroups > 1) {
    const int lane = threadIdx.x % 32;
    float4* mine = reduce_buffer + slice * (T::kFragments * 32);
#pragma unroll
    for (int step = T::kKGroups - 1; step >= 0; --step) {
      if (k_group == step) {
#pragma unroll
        for (int f = 0; f < T::kFragments; ++f) {
          float4* cell = mine + f * 32 + lane;
          float* v = acc.frag[f].value;
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

template <class F>
__device__ __forceinline__ typename ElementOf<F::kActivation>::Pair* output_pair(
    const DenseParams& p, std::int64_t row, int column) {
  using Pair = typename ElementOf<F::kActivation>::Pair;
  return reinterpret_cast<Pair*>(static_cast<std::uint16_t*>(p.c) + row * p.n + column);
}

template <class F>
__device__ __forceinline__ void store_plain_pair(const DenseParams& p, std::int64_t row, int column,
                                                 float v0, float v1) {
  if constexpr (F::kActivation == Activation::kFp16) {
    *output_pair<F>(p, row, column) = __floats2half2_rn(v0, v1);
  } else {
    *output_pair<F>(p, row, column) = __floats2bfloat162_rn(v0, v1);
  }
}

template <class F>
__device__ __forceinline__ void store_plain_one(const DenseParams& p, std::int64_t row, int column,
                                                float value) {
  auto* out = static_cast<std::uint16_t*>(p.c) + row * p.n + column;
  if constexpr (F::kActivation == Activation::kFp16) {
    *reinterpret_cast<__half*>(out) = __float2half_rn(value);
  } else {
    *reinterpret_cast<__nv_bfloat16*>(out) = __float2bfloat16_rn(value);
  }
}

// Writes columns (column, column + 1) of C's `row`: + bias, + the old C when accumulating.
template <class F>
__device__ __forceinline__ void store_output_pair(const DenseParams& p, std::int64_t row,
                                                  int column, float v0, float v1) {
  using Pair = typename ElementOf<F::kActivation>::Pair;
  if (p.bias) {
    const Pair bias = static_cast<const Pair*>(p.bias)[column / 2];
    v0 += static_cast<float>(bias.x);
    v1 += static_cast<float>(bias.y);
  }
  if (p.accumulate) {
    const Pair old = *output_pair<F>(p, row, column);
    v0 += static_cast<float>(old.x);
    v1 += static_cast<float>(old.y);
  }
  store_plain_pair<F>(p, row, column, v0, v1);
}

// Calls fn(values, row, column, kCount) for this lane's accumulator values that fall inside C:
// values[0 .. kCount-1] are columns column .. column + kCount - 1 of `row`; rows are relative to
// the slice's m chunk, columns to its n tile. Only for warps of slices inside n.
//   normal:   fragment mb * 8 + j holds rows mb*16 + g (+8), columns 8j + 2r, +1: pairs.
//   swapped:  fragment 4bb + b holds columns 16b + g (+8), batch rows 8bb + 2r, +1: singles.
template <class T, class Fn>
__device__ __forceinline__ void for_each_output(const DenseParams& p, TileCoord tile, int slice,
                                                Accumulators<T>& acc, Fn fn) {
  const int lane = threadIdx.x % 32;
  const int g = lane / 4;
  const int r = lane % 4;
  const int rows_left = p.m - tile.m_chunk * T::kRows;
  if constexpr (T::kWgmma) {
    // fragment f holds, of the warp's 16 columns 16q .. 16q + 15: columns 16q + g (+8) x batch
    // rows 8f + 2r, +1 (wgmma.cuh).
    const int quarter = (threadIdx.x / 32) % 4;
#pragma unroll
    for (int f = 0; f < T::kFragments; ++f)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int row = 8 * f + 2 * r + v % 2;
        if (row < rows_left) {
          fn(acc.frag[f].value + v, row, slice * layout::kTileN + 16 * quarter + g + 8 * (v / 2),
             std::integral_constant<int, 1>{});
        }
      }
  } else if constexpr (T::kSwapOperands) {
#pragma unroll
    for (int f = 0; f < T::kFragments; ++f)
#pragma unroll
      for (int v = 0; v < 4; ++v) {
        const int row = 8 * (f / 4) + 2 * r + v % 2;
        if (row < rows_left) {
          fn(acc.frag[f].value + v, row, slice * layout::kTileN + 16 * (f % 4) + g + 8 * (v / 2),
             std::integral_constant<int, 1>{});
        }
      }
  } else {
#pragma unroll
    for (int mb = 0; mb < T::kMBlocks; ++mb) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int row = mb * 16 + g + 8 * half;
        if (row >= rows_left) continue;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          fn(acc.frag[mb * 8 + j].value + 2 * half, row, slice * layout::kTileN + 8 * j + 2 * r,
             std::integral_constant<int, 2>{});
        }
      }
    }
  }
}

// Slot of `block` for a slice: 0 if the slice is the one its stripe starts in, else 1.
template <class T>
__device__ __forceinline__ float* partial_slot(const DenseParams& p, int block, int slice_index,
                                               int k_tiles) {
  const int first_slice = block * p.tiles_per_block / k_tiles;
  const int slot = 2 * block + (first_slice == slice_index ? 0 : 1);
  return p.partials + static_cast<std::int64_t>(slot) * p.slot_rows * T::kTileN;
}

// The last block of a shared slice: all threads sum the slice's partial slots, 4 columns at a
// time, and write C.
template <class T, class F>
__device__ __forceinline__ void write_slot_sums(const DenseParams& p, int slice_index,
                                                int first_block, int last_block, int k_tiles,
                                                std::int64_t row0, int column0, int rows,
                                                int columns) {
  const auto add = [](float4& sum, float4 part) {
    sum.x += part.x;
    sum.y += part.y;
    sum.z += part.z;
    sum.w += part.w;
  };
  if constexpr (T::kWgmma && (T::kRows == 128 || (T::kRows == 64 && F::kBits == 8))) {
    // m > 64 (and INT8 at m = 33..64): a tile has more positions than the block has threads, and
    // slices are shared by few blocks. One thread per position, the slots in block order (ptxas
    // unrolls this by 4, 4 loads in flight; the batches of 8 below cost these tilings 60-250
    // bytes more of spills at their register caps, and INT8 at m = 64 4-5% of its speed).
    for (int i = threadIdx.x; i < rows * T::kTileN / 4; i += T::kThreads) {
      const int row = i / (T::kTileN / 4);
      const int column = (i % (T::kTileN / 4)) * 4;
      if (column >= columns) continue;
      float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      for (int block = first_block; block <= last_block; ++block) {
        const float* slot = partial_slot<T>(p, block, slice_index, k_tiles);
        // .cg: written by other SMs; this SM's L1 is not coherent with them.
        add(sum, __ldcg(reinterpret_cast<const float4*>(slot + row * T::kTileN + column)));
      }
      store_output_pair<F>(p, row0 + row, column0 + column, sum.x, sum.y);
      store_output_pair<F>(p, row0 + row, column0 + column + 2, sum.z, sum.w);
    }
    return;
  }
  // The rest sum in explicit batches of loads in flight (ptxas does not unroll a loop of run-time
  // stride by more than 4).
  //  - mma.sync (m <= 32 before Hopper, m <= 16 on it): a slice of a small layer is shared by up
  //    to ~20 blocks, and at m = 1-2 a tile has fewer float4 positions than the block has
  //    threads. Summing each position's slots in one thread, one L2 round trip per 4 slots, made
  //    this the longest step of the launch's tail. So `lanes` adjacent lanes share a position:
  //    lane q sums slots q, q + lanes, ... in block order, 4 loads in flight at once, and a
  //    butterfly of shuffles adds the lanes' sums. Fixed partition, fixed order: still bitwise
  //    deterministic.
  //  - wgmma, 32 and 64 rows: one thread per position, batches of 8. With ptxas's 4, the sum of a
  //    64 x 256 tile's 8 slots took 16 L2 round trips per thread, the longest step of a small
  //    layer's tail (ncu, 7B o_proj at m = 64: SMs idle half the kernel). H100, same run: 7B and
  //    8B layers with n <= 14336 0.89-0.94x the time at m = 32 and 64; the rest within -1..+3%.
  constexpr int kBatch = T::kWgmma ? 8 : 4;
  constexpr int kMaxLanes = T::kWgmma ? 1 : 8;
  const int positions = rows * T::kTileN / 4;
  int lanes = 1;
  while (lanes < kMaxLanes && positions * lanes * 2 <= T::kThreads) lanes *= 2;
  const int lane = threadIdx.x % lanes;
  const unsigned group_mask = ((1u << lanes) - 1) << (threadIdx.x % 32 - lane);
  // Every block after the first starts its stripe inside the slice: its slot is slot 0, so those
  // slots are a constant stride apart.
  const std::int64_t stride = 2 * static_cast<std::int64_t>(p.slot_rows) * T::kTileN;
  const float* const first_slot = partial_slot<T>(p, first_block, slice_index, k_tiles);
  for (int i = threadIdx.x / lanes; i < positions; i += T::kThreads / lanes) {
    const int row = i / (T::kTileN / 4);
    const int column = (i % (T::kTileN / 4)) * 4;
    if (column >= columns) continue;  // (the same for all lanes of the position)
    const int offset = row * T::kTileN + column;
    float4 sum = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    for (int batch = first_block + lane; batch <= last_block; batch += kBatch * lanes) {
      float4 part[kBatch];
#pragma unroll
      for (int j = 0; j < kBatch; ++j) {
        const int block = batch + j * lanes;
        const float* slot = block == first_block ? first_slot : p.partials + block * stride;
        if (block <= last_block) part[j] = __ldcg(reinterpret_cast<const float4*>(slot + offset));
      }
#pragma unroll
      for (int j = 0; j < kBatch; ++j) {
        if (batch + j * lanes <= last_block) add(sum, part[j]);
      }
    }
    for (int distance = 1; distance < lanes; distance *= 2) {
      // (a + b == b + a exactly: every lane of the position ends with the same sum)
      sum.x += __shfl_xor_sync(group_mask, sum.x, distance);
      sum.y += __shfl_xor_sync(group_mask, sum.y, distance);
      sum.z += __shfl_xor_sync(group_mask, sum.z, distance);
      sum.w += __shfl_xor_sync(group_mask, sum.w, distance);
    }
    if (lane == 0) {
      store_output_pair<F>(p, row0 + row, column0 + column, sum.x, sum.y);
      store_output_pair<F>(p, row0 + row, column0 + column + 2, sum.z, sum.w);
    }
  }
}

// The block has finished its part of one slice: reduce and publish it.
template <class T, class F>
__device__ __forceinline__ void finish_slice(const DenseParams& p, Accumulators<T>& acc,
                                             float4* reduce_buffer, TileCoord tile, int k_tiles,
                                             int slice_warp, int k_group, bool warp_in_n) {
  reduce_within_block<T>(acc, reduce_buffer, slice_warp, k_group);

  // Blocks sharing this slice: a contiguous range of stripes.
  const int slice_index = tile.n_tile * p.m_chunks + tile.m_chunk;
  const int first_block = slice_index * k_tiles / p.tiles_per_block;
  const int last_block = (slice_index * k_tiles + k_tiles - 1) / p.tiles_per_block;
  const std::int64_t row0 = static_cast<std::int64_t>(tile.m_chunk) * T::kRows;
  const int column0 = tile.n_tile * T::kTileN;

  // The whole slice ours and nothing to add: straight to C. Otherwise our part goes to our fp32
  // slot, and the last block to arrive (we ourselves, for a slice of our own) sums the slots and
  // adds bias and old C in the coalesced loop below. (Adding them here, inside the unrolled
  // store loop, pushed the 64-row configuration past 255 registers into spills.)
  const bool shared_slice = last_block > first_block;
  const bool direct = !shared_slice && p.bias == nullptr && !p.accumulate;
  if (k_group == 0 && warp_in_n) {
    float* slot = partial_slot<T>(p, blockIdx.x, slice_index, k_tiles);
    for_each_output<T>(p, tile, slice_warp, acc, [&](const float* v, int row, int column, auto count) {
      if constexpr (decltype(count)::value == 2) {
        if (direct) {
          store_plain_pair<F>(p, row0 + row, column0 + column, v[0], v[1]);
        } else {
          __stcg(reinterpret_cast<float2*>(slot + row * T::kTileN + column), make_float2(v[0], v[1]));
        }
      } else {
        if (direct) {
          store_plain_one<F>(p, row0 + row, column0 + column, v[0]);
        } else {
          __stcg(slot + row * T::kTileN + column, v[0]);
        }
      }
    });
  }
  acc.zero();
  if (direct) return;
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
    const int rows = min(p.m - tile.m_chunk * T::kRows, T::kRows);
    const int columns = min(p.n - column0, T::kTileN);
    write_slot_sums<T, F>(p, slice_index, first_block, last_block, k_tiles, row0, column0, rows,
                          columns);
    if (threadIdx.x == 0) p.arrivals[slice_index] = 0;  // clean for the next launch
  }
}

}  // namespace marlin::kernels::dense

// The large-batch kernel (sm_90a): C = A * dequant(W) for batches of 40 rows and more, with
// the weights dequantized in the consumers' registers and multiplied as wgmma's register operand,
// so that no fp16 weight goes through shared memory (docs/dense-kernel-notes.md v13-v14: in v5,
// which stored them, the stored and re-read weights were ~100 KB of the ~160 KB of shared-memory
// traffic a stage, and v5 took 1.25x this kernel's time).
//
//   warpgroup 0 (producer)   one thread issues every copy (bulk copies): stage t's A (kRows
//                            x 64 k) and its codes (a tensor map each) and its scale rows into
//                            stage slot t, once the consumers have released the slot's stage
//                            t - kStages
//   warpgroups 1, 2          wait for slot t ("full"), dequantize their 128 columns of W^T at
//   (consumers)              every k16 step into wgmma A fragments (64 columns an instruction),
//                            multiply them by the slot's A tile (wgmma's B operand, N = kRows
//                            batch rows, from shared memory; one wgmma group a stage), release
//                            the slot ("consumed") once the stage's multiplies retired
//
// Block tile: kRows (128, or 64 for m <= 64) rows of A x 256 columns of W, and one of `splits`
// equal shares of k. The accumulators are C^T: consumer warpgroup h holds columns 128h .. 128h +
// 127 (two 64 x kRows blocks); the epilogue transposes them through shared memory. With one
// share, it writes C. With several (few tiles: the host splits k so that the blocks fill the
// SMs), each warpgroup publishes its fp32 half tile and counts itself in; the last of a half
// tile's warpgroups to arrive sums the shares in split order (bitwise deterministic), writes C.
//
//   grid: splits x tiles blocks, block b = share b / tiles of tile b % tiles; consecutive blocks
//         take the m tiles of one n tile, which read the same weights (from L2 after the first)
//
//   shared memory:  stage ring  kStages x [A kRows x 64 (128-byte swizzle) | codes 64 x 256 |
//                                          scale rows | zero rows]   (128 rows: 26 KB a slot,
//                                                                     INT8 33 KB; 64 rows: 17 KB)
//                   barriers    full[kStages], consumed[kStages]; the halves' "last" flags
//
// 384 threads start with 168 registers each; the producer keeps 40 and the consumers take 232:
// 128 accumulators (64 with 64-row tiles), a stage's 32 weight-fragment registers, addresses.
#pragma once

#include <cstdint>

#include "kernels/common/bulk_copy.cuh"
#include "kernels/common/dequant.cuh"
#include "kernels/common/grid_dependency.cuh"
#include "kernels/common/mbarrier.cuh"
#include "kernels/common/tensor_map.h"
#include "kernels/common/warpgroup_registers.cuh"
#include "kernels/common/wgmma.cuh"
#include "kernels/dense/dense_epilogue.cuh"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_params.h"
#include "kernels/large_batch/weight_fragment.h"

namespace marlin::kernels::large_batch {

using dense::DenseParams;

// kRowsOfA: 128 (m > 64) or 64 (m <= 64: a 128-row tile would multiply as many padding rows).
template <int kRowsOfA>
struct LargeBatchShape {
  static constexpr int kRows = kRowsOfA;  // rows of A per block (wgmma N)
  // A's tensor-map boxes of at most 64 rows, stacked
  static constexpr int kBoxRows = kRows < 64 ? kRows : 64;
  static constexpr int kTileN = 256;  // columns of W per block: 128 per consumer warpgroup
  static constexpr int kTileK = 64;   // k per stage
  static constexpr int kProducerThreads = 128;  // warpgroup 0
  static constexpr int kThreads = 384;          // + consumer warpgroups 1, 2
  static constexpr int kProducerRegisters = 40;
  static constexpr int kConsumerRegisters = 232;
  static constexpr int kMaxScaleRows = kTileK / 32;  // groups of at least 32 rows
};
static_assert(LargeBatchShape<128>::kProducerRegisters * 128 +
                  LargeBatchShape<128>::kConsumerRegisters * 256 <=
              65536);

template <class F, int kRows>
struct LargeBatchLayout {
  using S = LargeBatchShape<kRows>;
  static constexpr int kStages = F::kBits == 8 ? 6 : 8;
  // A first: the swizzled tile's 1024-byte atoms need the slot's 1024-byte alignment.
  static constexpr int kABytes = S::kRows * S::kTileK * 2;
  static constexpr int kCodeOffset = kABytes;
  static constexpr int kCodeBytes = S::kTileK * S::kTileN * F::kBits / 8;
  // A band's bytes of one block (a 16 x 256 slice of the packed codes) in code_map's chunks.
  static constexpr int kCodeChunks = kCodeBytes / 4 / kChunkBytes;
  static_assert(kCodeChunks * kChunkBytes * 4 == kCodeBytes, "a band is whole chunks");
  // The block's piece of each group's device scale row (layout/packed_format.h, 7.): 256 scales,
  // then (zero-point formats) 256 zero bytes. Zero-point pieces (768 bytes) sit 1024 bytes apart,
  // so that the inner loop's row offset is a shift; the stage rounds up to 1 KiB either way.
  static_assert(S::kTileN == layout::kScaleBlockColumns, "one scale block per block of columns");
  static constexpr int kGroupBytes = F::kHasZeros ? layout::kScaleBlockBytes : S::kTileN * 2;
  static constexpr int kGroupStride = F::kHasZeros ? 1024 : kGroupBytes;
  static constexpr int kScaleOffset = kCodeOffset + kCodeBytes;
  static constexpr int kZeroOffset = kScaleOffset + layout::kZeroOffsetInBlock;  // + row stride
  static constexpr int kStageBytes =
      (kScaleOffset + S::kMaxScaleRows * kGroupStride + 1023) / 1024 * 1024;
  static constexpr int kBarrierOffset = kStages * kStageBytes;
  static constexpr int kFlagOffset = kBarrierOffset + 2 * kStages * 8;
  // + slack to align the dynamic shared memory base to 1024 bytes
  static constexpr int kSharedBytes = kFlagOffset + 2 * 4 + 1024;
  // The epilogue's C^T -> C staging: one [128 rows][128 columns] fp32 tile per consumer
  // warpgroup, rows padded to 132 floats (the transposed writes then hit 32 banks).
  static constexpr int kEpilogueStride = 132;
  static constexpr int kEpilogueBytes = S::kRows * kEpilogueStride * 4;
  static_assert(2 * kEpilogueBytes <= kBarrierOffset, "the epilogue reuses the stage ring");
};

namespace detail {

// Barrier `id` (1-15; 0 is __syncthreads') among `threads` threads, whole warps.
__device__ __forceinline__ void named_barrier(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// Issues stage t's copies into its slot (one thread): A's two 64-row boxes (rows past m read as
// zeros), the codes of four 16 x 256 bands (one box of code_map), the block's piece of the scale
// rows (zero points inside) of the groups the stage touches; they report their bytes to `full`.
template <class F, int kRows>
__device__ __forceinline__ void load_stage(const DenseParams& p, const CUtensorMap& a_map,
                                           const CUtensorMap& code_map, std::uint8_t* slot,
                                           std::uint64_t* full, int t, int n_tile, int m0) {
  using S = LargeBatchShape<kRows>;
  using L = LargeBatchLayout<F, kRows>;
  const int rows = max(1, S::kTileK >> p.group_shift);
  const int first_row = (t * S::kTileK) >> p.group_shift;
  ptx::mbarrier_expect_bytes(full, L::kABytes + L::kCodeBytes + rows * L::kGroupBytes);
#pragma unroll
  for (int box = 0; box < S::kRows / S::kBoxRows; ++box) {
    ptx::tensor_box_to_shared(slot + box * S::kBoxRows * S::kTileK * 2, a_map, t * S::kTileK,
                              m0 + box * S::kBoxRows, full);
  }
  // Band b of the stage is packed row-band 4t + b; its 4 tiles of this block's 256 columns are
  // contiguous (layout/packed_format.h), kCodeChunks chunks of code_map's rows. One box holds
  // the four bands, one after the other. (With four bulk copies, one a band, the 64-row tiles
  // took 1-9% longer at m = 48-64, H100, docs/dense-kernel-notes.md v17.)
  ptx::tensor_box_to_shared(slot + L::kCodeOffset, code_map, 0, n_tile * L::kCodeChunks,
                            4 * t, full);
  const std::int64_t row_bytes = layout::device_scale_row_bytes(p.n, F::kHasZeros);
  for (int row = 0; row < rows; ++row) {
    ptx::bulk_copy_to_shared(slot + L::kScaleOffset + row * L::kGroupStride,
                             static_cast<const std::uint8_t*>(p.scales) +
                                 (first_row + row) * row_bytes +
                                 static_cast<std::int64_t>(n_tile) * L::kGroupBytes,
                             L::kGroupBytes, full);
  }
}

// The zero terms (dequant.cuh) of the lane's two column groups of one 64-column tile.
struct FragmentZeros {
  ptx::ZeroTerms low;   // column group 2 quarter of the packed tile
  ptx::ZeroTerms high;  // column group 2 quarter + 1
};

// Those of tile `tile` from the stage's group `scale_row`; symmetric codes' are constants.
template <class F, int kRows>
__device__ __forceinline__ FragmentZeros fragment_zeros(const std::uint8_t* stage, int tile,
                                                        int quarter, int lane, int scale_row) {
  using E = dense::ElementOf<F::kActivation>;
  if constexpr (F::kHasZeros) {
    using L = LargeBatchLayout<F, kRows>;
    const std::uint32_t zero_pair = *reinterpret_cast<const std::uint16_t*>(
        stage + L::kZeroOffset + scale_row * L::kGroupStride +
        fragment_zero_offset(tile, quarter, lane));
    const ptx::ZeroTermPair pair = ptx::zero_term_pair_of_two<E>(zero_pair);
    return {ptx::zero_terms<E>(pair, 0), ptx::zero_terms<E>(pair, 1)};
  } else {
    return {ptx::symmetric_zero_terms<E>(), ptx::symmetric_zero_terms<E>()};
  }
}

// The lane's wgmma A fragment of W^T's 16 x 16 block `quarter` of 64-column tile `tile` at k16
// step `band` of a stage, dequantized and scaled (weight_fragment.h has which weights); `zero`
// are the tile's zero terms at that step (INT4).
template <class F, int kRows>
__device__ __forceinline__ ptx::FragmentA weight_block(const std::uint8_t* stage, int band,
                                                       int tile, int quarter, int lane,
                                                       int scale_row,
                                                       const FragmentZeros& zero) {
  using L = LargeBatchLayout<F, kRows>;
  using E = dense::ElementOf<F::kActivation>;
  const std::uint8_t* const codes =
      stage + L::kCodeOffset + fragment_code_offset<F::kBits>(band, tile, quarter, lane);
  ptx::FragmentB low;   // a0, a2: column group 2 quarter of the packed tile
  ptx::FragmentB high;  // a1, a3: column group 2 quarter + 1
  if constexpr (F::kBits == 4) {
    ptx::dequant_int4_word<E>(*reinterpret_cast<const std::uint32_t*>(codes), zero.low,
                              zero.high, low, high);
  } else {
    const uint2 words = *reinterpret_cast<const uint2*>(codes);
    ptx::dequant_int8_word<E>(words.x, low);
    ptx::dequant_int8_word<E>(words.y, high);
  }
  const std::uint32_t scale_pair = *reinterpret_cast<const std::uint32_t*>(
      stage + L::kScaleOffset + scale_row * L::kGroupStride +
      fragment_scale_offset(tile, quarter, lane));
  const auto* scales = reinterpret_cast<const typename E::Scalar*>(&scale_pair);
  ptx::scale_fragment<E>(low, scales[0]);
  ptx::scale_fragment<E>(high, scales[1]);
  return {{low.reg[0], high.reg[0], low.reg[1], high.reg[1]}};
}

}  // namespace detail

template <class F, int kRows>
__global__ void __launch_bounds__(LargeBatchShape<kRows>::kThreads, 1)
    large_batch_kernel(const DenseParams p, const int splits,
                       const __grid_constant__ CUtensorMap a_map,
                       const __grid_constant__ CUtensorMap code_map) {
#if MARLIN_WGMMA_AVAILABLE
  using S = LargeBatchShape<kRows>;
  using L = LargeBatchLayout<F, kRows>;
  using E = dense::ElementOf<F::kActivation>;
  extern __shared__ __align__(128) std::uint8_t raw_shared[];
  std::uint8_t* const shared =
      raw_shared + ((1024 - ptx::shared_address(raw_shared) % 1024) % 1024);
  auto* const full = reinterpret_cast<std::uint64_t*>(shared + L::kBarrierOffset);
  std::uint64_t* const consumed = full + L::kStages;
  const int m_tiles = (p.m + S::kRows - 1) / S::kRows;
  const int tiles = m_tiles * (p.n / S::kTileN);
  const int tile = blockIdx.x % tiles;
  const int split = blockIdx.x / tiles;
  const int m0 = (tile % m_tiles) * S::kRows;
  const int n_tile = tile / m_tiles;
  // k steps [first_step, end_step): the host keeps splits <= k / 64, so no share is empty.
  const int k_steps = p.k / S::kTileK;
  const int first_step = static_cast<int>(static_cast<long long>(k_steps) * split / splits);
  const int end_step = static_cast<int>(static_cast<long long>(k_steps) * (split + 1) / splits);
  // Stage t (counted from first_step) goes to slot t % kStages.
  const auto slot = [&](int t) { return shared + (t % L::kStages) * L::kStageBytes; };

  if (threadIdx.x == 0) {
    // full: the loader's one arrival plus the copies' bytes; consumed: every consumer thread.
    for (int i = 0; i < L::kStages; ++i) {
      ptx::mbarrier_init(&full[i], 1);
      ptx::mbarrier_init(&consumed[i], S::kThreads - S::kProducerThreads);
    }
    ptx::fence_barrier_init();
  }
  __syncthreads();
  // A, C (and, under a programmatic launch, everything) may be the previous kernel's output.
  ptx::wait_for_previous_grid();
  ptx::allow_next_grid_launch();

  if (threadIdx.x < S::kProducerThreads) {
    ptx::warpgroup_release_registers<S::kProducerRegisters>();
    if (threadIdx.x == 0) {
      for (int t = 0; t < end_step - first_step; ++t) {
        // Slot t last held stage t - kStages.
        if (t >= L::kStages) {
          ptx::mbarrier_wait(&consumed[t % L::kStages], (t / L::kStages - 1) & 1);
        }
        detail::load_stage<F, kRows>(p, a_map, code_map, slot(t), &full[t % L::kStages],
                                     first_step + t, n_tile, m0);
      }
    }
    return;
  }

  ptx::warpgroup_claim_registers<S::kConsumerRegisters>();
  const int half = threadIdx.x / 128 - 1;
  const int quarter = threadIdx.x / 32 % 4;
  const int lane = threadIdx.x % 32;
  ptx::FragmentC acc[2][S::kRows / 8];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < S::kRows / 8; ++j) acc[i][j] = {{0.f, 0.f, 0.f, 0.f}};
  }
  for (int t = 0; t < end_step - first_step; ++t) {
    ptx::mbarrier_wait(&full[t % L::kStages], (t / L::kStages) & 1);
    const std::uint8_t* const stage = slot(t);
    const std::uint32_t a_tile = ptx::shared_address(stage);
    const int k0 = (first_step + t) * S::kTileK;
    const int first_group = k0 >> p.group_shift;
    // Each k16 step's multiplies are issued as soon as its weights are ready and run while the
    // next steps are dequantized; distinct registers per step keep them valid until the stage's
    // one wait. (A wait after every step took ~3% longer, H200 v15; carrying a stage's group over
    // into the next stage, with two register sets, gained nothing at m <= 128 and lost 1-4% above.)
    ptx::FragmentA weights[S::kTileK / 16][2];
    // Groups are at least 32 rows and stages start at multiples of 64, so steps 2j and 2j + 1
    // share their group: its zero terms are made at the even step only.
    detail::FragmentZeros zeros[2];
#pragma unroll
    for (int s = 0; s < S::kTileK / 16; ++s) {
      const int scale_row = ((k0 + 16 * s) >> p.group_shift) - first_group;
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        const int packed_tile = 2 * half + i;  // of the block's four 64-column tiles
        if (s % 2 == 0) {
          zeros[i] = detail::fragment_zeros<F, kRows>(stage, packed_tile, quarter, lane, scale_row);
        }
        weights[s][i] = detail::weight_block<F, kRows>(stage, s, packed_tile, quarter, lane,
                                                       scale_row, zeros[i]);
      }
      ptx::wgmma_fence();
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        ptx::wgmma_m64k16<S::kRows, E>(acc[i], weights[s][i],
                                       ptx::k_major_swizzle128_descriptor(a_tile + 32 * s));
      }
    }
    ptx::wgmma_commit_group();
    ptx::wgmma_wait_group<0>();
    // The loader refills the slot through the async proxy (bulk copies): each thread's reads of
    // it (generic proxy) must be ordered before those writes, so each thread fences and arrives
    // itself. (With lane 0 arriving for its warp after __syncwarp, racecheck reported the refills
    // racing with the other lanes' code and scale reads once k wrapped the ring.)
    ptx::fence_proxy_async_shared();
    ptx::mbarrier_arrive(&consumed[t % L::kStages]);
  }

  // Epilogue: fragment j of block i holds C^T rows (columns of C) 64i + 16 quarter + g (+ 8) and
  // batch rows 8j + 2r, + 1. Both warpgroups must be done with the ring before it is reused.
  detail::named_barrier(1, 256);
  float* const staged = reinterpret_cast<float*>(shared + half * L::kEpilogueBytes);
  const int g = lane / 4;
  const int r = lane % 4;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < S::kRows / 8; ++j) {
      const int column = 64 * i + 16 * quarter + g;
      const int row = 8 * j + 2 * r;
      staged[row * L::kEpilogueStride + column] = acc[i][j].value[0];
      staged[(row + 1) * L::kEpilogueStride + column] = acc[i][j].value[1];
      staged[row * L::kEpilogueStride + column + 8] = acc[i][j].value[2];
      staged[(row + 1) * L::kEpilogueStride + column + 8] = acc[i][j].value[3];
    }
  }
  // From here on each warpgroup finishes its half tile alone, on named barrier 2 + half.
  const int barrier = 2 + half;
  detail::named_barrier(barrier, 128);
  const int thread = threadIdx.x % 128;
  const int rows = min(S::kRows, p.m - m0);
  // The half tile as float4 positions, 32 a row: a warp reads one row's 512 bytes, conflict-free.
  const auto staged_at = [&](int position) {
    return *reinterpret_cast<const float4*>(
        &staged[(position / 32) * L::kEpilogueStride + 4 * (position % 32)]);
  };
  const int positions = rows * 32;
  const int column0 = n_tile * S::kTileN + 128 * half;
  const auto store = [&](int position, float4 sum) {
    const int row = m0 + position / 32;
    const int column = column0 + 4 * (position % 32);
    dense::store_output_pair<F>(p, row, column, sum.x, sum.y);
    dense::store_output_pair<F>(p, row, column + 2, sum.z, sum.w);
  };
  if (splits == 1) {
    for (int position = thread; position < positions; position += 128) {
      store(position, staged_at(position));
    }
    return;
  }
  // Share s's slot in the workspace: [min(m, 128) rows][128 columns] fp32, this tile's rows.
  const auto slot_of = [&](int share) {
    const std::int64_t index = (static_cast<std::int64_t>(share) * tiles + tile) * 2 + half;
    return reinterpret_cast<float4*>(p.partials + index * min(p.m, S::kRows) * 128);
  };
  float4* const mine = slot_of(split);
  for (int position = thread; position < positions; position += 128) {
    __stcg(mine + position, staged_at(position));
  }
  __threadfence();
  detail::named_barrier(barrier, 128);
  int* const last_flag = reinterpret_cast<int*>(shared + L::kFlagOffset) + half;
  if (thread == 0) {
    int* const counter = p.arrivals + 2 * tile + half;
    const bool last = atomicAdd(counter, 1) == splits - 1;
    // Every other share has arrived: zero the counter again for the next launch.
    if (last) *counter = 0;
    *last_flag = last;
  }
  detail::named_barrier(barrier, 128);
  if (!*last_flag) return;
  __threadfence();
  // The last arrival sums the shares in split order, whichever arrived last: bitwise the same
  // every run. A share's slot is up to 64 KB. Summed one position at a time, each thread waited
  // one L2 round trip per load (H200: 8 shares of a 4096 x 4096 layer at m = 128 took 55 us,
  // where their multiplies take ~7); so each thread keeps kBatch positions' loads in flight.
  constexpr int kBatch = 16;
  for (int base = thread; base < positions; base += 128 * kBatch) {
    float4 sum[kBatch];
    for (int share = 0; share < splits; ++share) {
      float4 part[kBatch];
      // (.cg: the other shares were written by other SMs, whose writes this L1 does not see)
      const float4* const slot = slot_of(share);
#pragma unroll
      for (int j = 0; j < kBatch; ++j) {
        const int position = base + 128 * j;
        part[j] = float4{0.f, 0.f, 0.f, 0.f};
        if (position < positions) {
          part[j] = share == split ? staged_at(position) : __ldcg(slot + position);
        }
      }
#pragma unroll
      for (int j = 0; j < kBatch; ++j) {
        if (share == 0) {
          sum[j] = part[j];
        } else {
          sum[j].x += part[j].x;
          sum[j].y += part[j].y;
          sum[j].z += part[j].z;
          sum[j].w += part[j].w;
        }
      }
    }
#pragma unroll
    for (int j = 0; j < kBatch; ++j) {
      if (base + 128 * j < positions) store(base + 128 * j, sum[j]);
    }
  }
#else
  __trap();
#endif
}

}  // namespace marlin::kernels::large_batch

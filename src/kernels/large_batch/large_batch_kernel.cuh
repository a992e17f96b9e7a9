// The large-batch kernel (sm_90a), WIP variant "swapped consumers": C = A * dequant(W) for
// batches of more than 128 rows, with the weights dequantized in the consumers' registers and
// multiplied as wgmma's register operand, so that no fp16 weight goes through shared memory
// (docs/dense-kernel-notes.md v13: in v5, the stored and re-read weights were ~100 KB of the
// ~160 KB of shared-memory traffic a stage).
//
//   warpgroup 0 (producer)   one thread issues every copy (bulk copies): stage t's A (128 rows x
//                            64 k, a tensor map) and its codes and scale rows into stage slot t,
//                            once the consumers have released the slot's stage t - kStages
//   warpgroups 1, 2          wait for slot t ("full"), dequantize their 128 columns of W^T at
//   (consumers)              every k16 step into wgmma A fragments (64 columns an instruction),
//                            multiply them by the slot's A tile (wgmma's B operand, N = 128 batch
//                            rows, from shared memory), release the slot ("consumed") once the
//                            stage's multiplies retired
//
// Block tile: 128 rows of A x 256 columns of W, all of k. The accumulators are C^T: consumer
// warpgroup h holds columns 128h .. 128h + 127 (two 64 x 128 blocks); the epilogue transposes
// them through shared memory.
//
//   shared memory:  stage ring  kStages x [A 128 x 64 (128-byte swizzle) | codes 64 x 256 |
//                                          scale rows | zero rows]      (26 KB; INT8 33 KB)
//                   barriers    full[kStages], consumed[kStages]
//
// 384 threads start with 168 registers each; the producer keeps 40 and the consumers take 232:
// 128 accumulators, a stage's 32 weight-fragment registers, addresses.
#pragma once

#include <cstdint>

#include "kernels/common/bulk_copy.cuh"
#include "kernels/common/dequant.cuh"
#include "kernels/common/grid_dependency.cuh"
#include "kernels/common/mbarrier.cuh"
#include "kernels/common/warpgroup_registers.cuh"
#include "kernels/common/wgmma.cuh"
#include "kernels/dense/dense_epilogue.cuh"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_params.h"
#include "kernels/large_batch/weight_fragment.h"

namespace marlin::kernels::large_batch {

using dense::DenseParams;

struct LargeBatchShape {
  static constexpr int kRows = 128;   // rows of A per block (wgmma N)
  static constexpr int kTileN = 256;  // columns of W per block: 128 per consumer warpgroup
  static constexpr int kTileK = 64;   // k per stage
  static constexpr int kProducerThreads = 128;  // warpgroup 0
  static constexpr int kThreads = 384;          // + consumer warpgroups 1, 2
  static constexpr int kProducerRegisters = 40;
  static constexpr int kConsumerRegisters = 232;
  static constexpr int kMaxScaleRows = kTileK / 32;  // groups of at least 32 rows
};
static_assert(LargeBatchShape::kProducerRegisters * 128 +
                  LargeBatchShape::kConsumerRegisters * 256 <=
              65536);

template <class F>
struct LargeBatchLayout {
  using S = LargeBatchShape;
  static constexpr int kStages = F::kBits == 8 ? 6 : 8;
  // A first: the swizzled tile's 1024-byte atoms need the slot's 1024-byte alignment.
  static constexpr int kABytes = S::kRows * S::kTileK * 2;
  static constexpr int kCodeOffset = kABytes;
  static constexpr int kCodeBytes = S::kTileK * S::kTileN * F::kBits / 8;
  static constexpr int kScaleOffset = kCodeOffset + kCodeBytes;
  static constexpr int kScaleBytes = S::kMaxScaleRows * S::kTileN * 2;
  static constexpr int kZeroOffset = kScaleOffset + kScaleBytes;
  static constexpr int kZeroBytes = F::kHasZeros ? S::kMaxScaleRows * S::kTileN : 0;
  static constexpr int kStageBytes = (kZeroOffset + kZeroBytes + 1023) / 1024 * 1024;
  static constexpr int kBarrierOffset = kStages * kStageBytes;
  // + slack to align the dynamic shared memory base to 1024 bytes
  static constexpr int kSharedBytes = kBarrierOffset + 2 * kStages * 8 + 1024;
  // The epilogue's C^T -> C staging: one [128 rows][128 columns] fp32 tile per consumer
  // warpgroup, rows padded to 132 floats (the transposed writes then hit 32 banks).
  static constexpr int kEpilogueStride = 132;
  static constexpr int kEpilogueBytes = S::kRows * kEpilogueStride * 4;
  static_assert(2 * kEpilogueBytes <= kBarrierOffset, "the epilogue reuses the stage ring");
};

namespace detail {

template <int kId, int kThreads>
__device__ __forceinline__ void named_barrier() {
  asm volatile("bar.sync %0, %1;\n" ::"n"(kId), "n"(kThreads) : "memory");
}

// Issues stage t's copies into its slot (one thread): A's two 64-row boxes (rows past m read as
// zeros), the codes of four 16 x 256 bands, the scale (and zero-point) rows of the groups the
// stage touches; they report their bytes to `full`.
template <class F>
__device__ __forceinline__ void load_stage(const DenseParams& p, const CUtensorMap& a_map,
                                           std::uint8_t* slot, std::uint64_t* full, int t,
                                           int n_tile, int m0) {
  using S = LargeBatchShape;
  using L = LargeBatchLayout<F>;
  constexpr int kBandBytes = L::kCodeBytes / 4;
  constexpr int kScaleRowBytes = S::kTileN * 2;
  constexpr int kZeroRowBytes = F::kHasZeros ? S::kTileN : 0;
  const int rows = max(1, S::kTileK >> p.group_shift);
  const int first_row = (t * S::kTileK) >> p.group_shift;
  ptx::mbarrier_expect_bytes(
      full, L::kABytes + L::kCodeBytes + rows * (kScaleRowBytes + kZeroRowBytes));
  ptx::tensor_box_to_shared(slot, a_map, t * S::kTileK, m0, full);
  ptx::tensor_box_to_shared(slot + L::kABytes / 2, a_map, t * S::kTileK, m0 + S::kRows / 2, full);
  // Band b of the stage is packed row-band 4t + b; its 4 tiles of this block's 256 columns are
  // contiguous (layout/packed_format.h).
  const auto* codes = reinterpret_cast<const std::uint8_t*>(p.b);
  const std::int64_t band_stride = static_cast<std::int64_t>(p.n) * 2 * F::kBits;
#pragma unroll
  for (int band = 0; band < 4; ++band) {
    ptx::bulk_copy_to_shared(slot + L::kCodeOffset + band * kBandBytes,
                             codes + (4LL * t + band) * band_stride +
                                 static_cast<std::int64_t>(n_tile) * kBandBytes,
                             kBandBytes, full);
  }
  for (int row = 0; row < rows; ++row) {
    const std::int64_t at = static_cast<std::int64_t>(first_row + row) * p.n + n_tile * S::kTileN;
    ptx::bulk_copy_to_shared(slot + L::kScaleOffset + row * kScaleRowBytes,
                             static_cast<const std::uint16_t*>(p.scales) + at, kScaleRowBytes,
                             full);
    if constexpr (F::kHasZeros) {
      ptx::bulk_copy_to_shared(slot + L::kZeroOffset + row * kZeroRowBytes, p.zeros + at,
                               kZeroRowBytes, full);
    }
  }
}

// The lane's wgmma A fragment of W^T's 16 x 16 block `quarter` of 64-column tile `tile` at k16
// step `band` of a stage, dequantized and scaled (weight_fragment.h has which weights).
template <class F>
__device__ __forceinline__ ptx::FragmentA weight_block(const std::uint8_t* stage, int band,
                                                       int tile, int quarter, int lane,
                                                       int scale_row) {
  using S = LargeBatchShape;
  using L = LargeBatchLayout<F>;
  using E = dense::ElementOf<F::kActivation>;
  const std::uint8_t* const codes =
      stage + L::kCodeOffset + fragment_code_offset<F::kBits>(band, tile, quarter, lane);
  ptx::FragmentB low;   // a0, a2: column group 2 quarter of the packed tile
  ptx::FragmentB high;  // a1, a3: column group 2 quarter + 1
  if constexpr (F::kBits == 4) {
    ptx::ZeroTerms zero[2] = {ptx::symmetric_zero_terms<E>(), ptx::symmetric_zero_terms<E>()};
    if constexpr (F::kHasZeros) {
      const std::uint32_t zero_pair = *reinterpret_cast<const std::uint16_t*>(
          stage + L::kZeroOffset + scale_row * S::kTileN +
          fragment_zero_offset(tile, quarter, lane));
      zero[0] = ptx::zero_terms<E>(zero_pair, 0);
      zero[1] = ptx::zero_terms<E>(zero_pair, 1);
    }
    ptx::dequant_int4_word<E>(*reinterpret_cast<const std::uint32_t*>(codes), zero[0], zero[1],
                              low, high);
  } else {
    const uint2 words = *reinterpret_cast<const uint2*>(codes);
    ptx::dequant_int8_word<E>(words.x, low);
    ptx::dequant_int8_word<E>(words.y, high);
  }
  const std::uint32_t scale_pair = *reinterpret_cast<const std::uint32_t*>(
      stage + L::kScaleOffset + scale_row * S::kTileN * 2 +
      fragment_scale_offset(tile, quarter, lane));
  const auto* scales = reinterpret_cast<const typename E::Scalar*>(&scale_pair);
  ptx::scale_fragment<E>(low, scales[0]);
  ptx::scale_fragment<E>(high, scales[1]);
  return {{low.reg[0], high.reg[0], low.reg[1], high.reg[1]}};
}

}  // namespace detail

template <class F>
__global__ void __launch_bounds__(LargeBatchShape::kThreads, 1)
    large_batch_kernel(const DenseParams p, const __grid_constant__ CUtensorMap a_map) {
#if MARLIN_WGMMA_AVAILABLE
  using S = LargeBatchShape;
  using L = LargeBatchLayout<F>;
  using E = dense::ElementOf<F::kActivation>;
  extern __shared__ __align__(128) std::uint8_t raw_shared[];
  std::uint8_t* const shared =
      raw_shared + ((1024 - ptx::shared_address(raw_shared) % 1024) % 1024);
  auto* const full = reinterpret_cast<std::uint64_t*>(shared + L::kBarrierOffset);
  std::uint64_t* const consumed = full + L::kStages;
  // Consecutive blocks take the m tiles of one n tile: they read the same weights, from L2.
  const int m_tiles = (p.m + S::kRows - 1) / S::kRows;
  const int m0 = (blockIdx.x % m_tiles) * S::kRows;
  const int n_tile = blockIdx.x / m_tiles;
  const int k_steps = p.k / S::kTileK;
  const auto slot = [&](int t) { return shared + (t % L::kStages) * L::kStageBytes; };

  if (threadIdx.x == 0) {
    // full: the loader's one arrival plus the copies' bytes; consumed: lane 0 of each of the 8
    // consumer warps.
    for (int i = 0; i < L::kStages; ++i) {
      ptx::mbarrier_init(&full[i], 1);
      ptx::mbarrier_init(&consumed[i], 8);
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
      for (int t = 0; t < k_steps; ++t) {
        // Slot t last held stage t - kStages.
        if (t >= L::kStages) {
          ptx::mbarrier_wait(&consumed[t % L::kStages], (t / L::kStages - 1) & 1);
        }
        detail::load_stage<F>(p, a_map, slot(t), &full[t % L::kStages], t, n_tile, m0);
      }
    }
    return;
  }

  ptx::warpgroup_claim_registers<S::kConsumerRegisters>();
  const int half = threadIdx.x / 128 - 1;
  const int quarter = threadIdx.x / 32 % 4;
  const int lane = threadIdx.x % 32;
  ptx::FragmentC acc[2][16];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < 16; ++j) acc[i][j] = {{0.f, 0.f, 0.f, 0.f}};
  }
  for (int t = 0; t < k_steps; ++t) {
    ptx::mbarrier_wait(&full[t % L::kStages], (t / L::kStages) & 1);
    const std::uint8_t* const stage = slot(t);
    const std::uint32_t a_tile = ptx::shared_address(stage);
    const int first_group = (t * S::kTileK) >> p.group_shift;
    // Each k16 step's multiplies are issued as soon as its weights are ready and run while the
    // next step is dequantized; distinct registers per step keep them valid until retired.
    ptx::FragmentA weights[S::kTileK / 16][2];
#pragma unroll
    for (int s = 0; s < S::kTileK / 16; ++s) {
      const int scale_row = ((t * S::kTileK + 16 * s) >> p.group_shift) - first_group;
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        weights[s][i] = detail::weight_block<F>(stage, s, 2 * half + i, quarter, lane, scale_row);
      }
      ptx::wgmma_fence();
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        ptx::wgmma_m64k16<S::kRows, E>(acc[i], weights[s][i],
                                       ptx::k_major_swizzle128_descriptor(a_tile + 32 * s));
      }
      ptx::wgmma_commit_group();
      ptx::wgmma_wait_group<1>();
    }
    ptx::wgmma_wait_group<0>();
    __syncwarp();
    if (lane == 0) ptx::mbarrier_arrive(&consumed[t % L::kStages]);
  }

  // Epilogue: fragment j of block i holds C^T rows (columns of C) 64i + 16 quarter + g (+ 8) and
  // batch rows 8j + 2r, + 1. Both warpgroups must be done with the ring before it is reused.
  detail::named_barrier<1, 256>();
  float* const tile = reinterpret_cast<float*>(shared + half * L::kEpilogueBytes);
  const int g = lane / 4;
  const int r = lane % 4;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int column = 64 * i + 16 * quarter + g;
      const int row = 8 * j + 2 * r;
      tile[row * L::kEpilogueStride + column] = acc[i][j].value[0];
      tile[(row + 1) * L::kEpilogueStride + column] = acc[i][j].value[1];
      tile[row * L::kEpilogueStride + column + 8] = acc[i][j].value[2];
      tile[(row + 1) * L::kEpilogueStride + column + 8] = acc[i][j].value[3];
    }
  }
  if (half == 0) {
    detail::named_barrier<2, 128>();
  } else {
    detail::named_barrier<3, 128>();
  }
  const int column0 = n_tile * S::kTileN + 128 * half;
  for (int index = threadIdx.x % 128; index < S::kRows * 64; index += 128) {
    const int row = index / 64;
    const int column = 2 * (index % 64);
    if (m0 + row < p.m) {
      const float2 pair =
          *reinterpret_cast<const float2*>(&tile[row * L::kEpilogueStride + column]);
      dense::store_output_pair<F>(p, m0 + row, column0 + column, pair.x, pair.y);
    }
  }
#else
  __trap();
#endif
}

}  // namespace marlin::kernels::large_batch

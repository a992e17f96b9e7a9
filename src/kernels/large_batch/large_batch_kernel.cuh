// The large-batch kernel (sm_90a): C = A * dequant(W) for batches of more than 128 rows, where
// the dense kernel's multiplies wait for its own dequantization (docs/dense-kernel-notes.md, v10).
//
// Here the dequantization and the multiplies run in different warps, on different data:
//
//   warpgroups 0, 1 (producers) wait for stage t's codes ("codes_full[t]"), dequantize them into
//                               the weight ring as fp16/bf16 (half of the stage's 64 k each),
//                               signal "ready[t]"; one producer thread then refills the code slot
//                               with stage t + 4 (bulk copies of the codes and scale rows)
//   warpgroups 2, 3 (consumers) wait for their 64 rows of A ("a_full") and ready[t], multiply
//                               them by the 256 weight columns straight from shared memory (wgmma,
//                               both operands K-major), signal "consumed[t]" once those multiplies
//                               retired, and refill their A slot with stage t + 4 (a tensor-map
//                               box of A)
//
// Block tile: 128 rows of A x 256 columns of W, all of k (no split: used only where the tiles
// fill one or two waves of the SMs). A stage is 64 k: one 128-byte row of every operand tile.
//
//   shared memory:  A rings     2 x 4 x [A 64 x 64, 128-byte swizzle]          (8 KB each)
//                   code ring   4 x [codes 64 x 256 | scale rows | zero rows]  (9-10 KB; INT8:
//                                                                               3 x 17 KB)
//                   weight ring 3 x [W^T 256 x 64, 128-byte swizzle, K-major]  (32 KB each)
//                   barriers    ready[3], consumed[3], codes_full[4], a_full[2][4]
//
// Each ring is refilled by the warps that drain it, so no side waits for the other's next signal
// (docs/dense-kernel-notes.md v12 has the measurements behind each choice):
// - Two producer warpgroups: one dequantized a stage in about twice the time its multiplies take
//   (one warp per scheduler issues a dependent chain at ~0.3 instructions a cycle).
// - Three weight slots let the producers run two stages ahead.
// - Consumers retire a stage before signalling it, and A has rings of its own: when A shared a
//   slot with the codes, the producers' refills waited for the consumers, and the producers ran
//   out of codes.
// - 512 threads leave 128 registers a thread; the producers hand 40 of theirs to the consumers
//   (setmaxnreg), whose 128 accumulators need more. No single instruction may need more than the
//   128 a thread starts with, so the multiplies are two 64 x 128 wgmma, not one 64 x 256.
//
// The weights are stored as wgmma's B operand K-major, i.e. W^T: row n holds the 64 k of column n,
// 16-byte chunk c of row n at chunk c ^ (n % 8). A producer lane dequantizes, as in the dense
// kernel, the B fragments of 8 column groups of a 16 x 64 tile: for column n = 8j + lane / 4 the
// k pairs (2r, 2r + 1) and (2r + 8, 2r + 9), r = lane % 4, one 32-bit store each. Within one
// store instruction the 8 rows n % 8 = 0..7 hit chunks (2b) ^ (n % 8), all different, and the 4
// lanes of a row 4 consecutive banks: 32 different banks, no conflict.
#pragma once

#include <cstdint>

#include "kernels/common/bulk_copy.cuh"
#include "kernels/common/dequant.cuh"
#include "kernels/common/grid_dependency.cuh"
#include "kernels/common/mbarrier.cuh"
#include "kernels/common/swizzle.h"
#include "kernels/common/warpgroup_registers.cuh"
#include "kernels/common/wgmma.cuh"
#include "kernels/dense/dense_epilogue.cuh"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_params.h"
#include "kernels/large_batch/weight_tile.h"

namespace marlin::kernels::large_batch {

using dense::DenseParams;

struct LargeBatchShape {
  static constexpr int kRows = 128;   // rows of A per block: 64 per consumer warpgroup
  static constexpr int kTileN = 256;  // columns of W per block (wgmma N)
  static constexpr int kTileK = 64;   // k per stage
  static constexpr int kWeightStages = 3;
  static constexpr int kProducerThreads = 256;  // warpgroups 0, 1
  static constexpr int kThreads = 512;          // + consumer warpgroups 2, 3
  // Registers a thread: the launch gives every thread 128 (65536 / 512); the producers keep 88,
  // the consumers take 168 (their 128 accumulators, the descriptors, the epilogue's addresses).
  static constexpr int kProducerRegisters = 88;
  static constexpr int kConsumerRegisters = 168;
  static constexpr int kMaxScaleRows = kTileK / 32;  // groups of at least 32 rows
};
static_assert((LargeBatchShape::kProducerRegisters + LargeBatchShape::kConsumerRegisters) * 256 <=
              65536);

template <class F>
struct LargeBatchLayout {
  using S = LargeBatchShape;
  // Each consumer warpgroup's own ring of A: 64 rows x 64 k a slot.
  static constexpr int kAStages = 4;
  static constexpr int kAStageBytes = S::kRows / 2 * S::kTileK * 2;
  static constexpr int kARingBytes = kAStages * kAStageBytes;
  // The producers' ring of codes and scale (and zero-point) rows: 4 slots, INT8 3.
  static constexpr int kCodeStages = F::kBits == 8 ? 3 : 4;
  static constexpr int kCodeBytes = S::kTileK * S::kTileN * F::kBits / 8;
  static constexpr int kScaleOffset = kCodeBytes;  // within a code slot
  static constexpr int kScaleBytes = S::kMaxScaleRows * S::kTileN * 2;
  static constexpr int kZeroOffset = kScaleOffset + kScaleBytes;
  static constexpr int kZeroBytes = F::kHasZeros ? S::kMaxScaleRows * S::kTileN : 0;
  // (every slot starts 1024-byte aligned: the swizzled tiles' atoms are 1024 bytes)
  static constexpr int kCodeStageBytes = (kZeroOffset + kZeroBytes + 1023) / 1024 * 1024;
  static constexpr int kCodeRingOffset = 2 * kARingBytes;
  static constexpr int kWeightOffset = kCodeRingOffset + kCodeStages * kCodeStageBytes;
  static constexpr int kWeightStageBytes = S::kTileN * S::kTileK * 2;
  static constexpr int kBarrierOffset = kWeightOffset + S::kWeightStages * kWeightStageBytes;
  static constexpr int kBarriers = 2 * S::kWeightStages + kCodeStages + 2 * kAStages;
  // + slack to align the dynamic shared memory base to 1024 bytes
  static constexpr int kSharedBytes = kBarrierOffset + kBarriers * 8 + 1024;
};

namespace detail {

// Named barriers: 1 over the producers, 2 and 3 over consumer warpgroups 2 and 3 (0 is
// __syncthreads).
template <int kId, int kThreads>
__device__ __forceinline__ void named_barrier() {
  asm volatile("bar.sync %0, %1;\n" ::"n"(kId), "n"(kThreads) : "memory");
}

// Issues the copies of stage t's weights into code slot `slot` (one thread): the codes of four
// 16 x 256 bands, the scale (and zero-point) rows of the groups the stage touches; they report
// their bytes to `full`.
template <class F>
__device__ __forceinline__ void load_codes(const DenseParams& p, std::uint8_t* slot,
                                           std::uint64_t* full, int t, int n_tile) {
  using S = LargeBatchShape;
  using L = LargeBatchLayout<F>;
  constexpr int kBandBytes = L::kCodeBytes / 4;
  constexpr int kScaleRowBytes = S::kTileN * 2;
  constexpr int kZeroRowBytes = F::kHasZeros ? S::kTileN : 0;
  const int rows = max(1, S::kTileK >> p.group_shift);
  const int first_row = (t * S::kTileK) >> p.group_shift;
  ptx::mbarrier_expect_bytes(full, L::kCodeBytes + rows * (kScaleRowBytes + kZeroRowBytes));
  // Band b of the stage is packed row-band 4t + b; its 4 tiles of this block's 256 columns are
  // contiguous (layout/packed_format.h).
  const auto* codes = reinterpret_cast<const std::uint8_t*>(p.b);
  const std::int64_t band_stride = static_cast<std::int64_t>(p.n) * 2 * F::kBits;
#pragma unroll
  for (int band = 0; band < 4; ++band) {
    ptx::bulk_copy_to_shared(slot + band * kBandBytes,
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

// Issues the copy of A's 64 x 64 box at (row0, stage t) into an A slot (one thread); rows past m
// read as zeros.
template <class F>
__device__ __forceinline__ void load_a(const CUtensorMap& a_map, std::uint8_t* slot,
                                       std::uint64_t* full, int t, int row0) {
  ptx::mbarrier_expect_bytes(full, LargeBatchLayout<F>::kAStageBytes);
  ptx::tensor_box_to_shared(slot, a_map, t * LargeBatchShape::kTileK, row0, full);
}

// Dequantizes stage t's codes (code slot) into a weight slot: producer warp w takes the 64
// columns 64 (w % 4) .. 64 (w % 4) + 63 of the 16-row bands 2 (w / 4) and 2 (w / 4) + 1.
template <class F>
__device__ __forceinline__ void dequantize_stage(const DenseParams& p, const std::uint8_t* slot,
                                                 std::uint8_t* weights, int t, int tid) {
  using S = LargeBatchShape;
  using L = LargeBatchLayout<F>;
  using E = dense::ElementOf<F::kActivation>;
  // (unsigned: weight_pair_offset's row % 8 then folds to lane / 4)
  const unsigned warp = static_cast<unsigned>(tid) / 32 % 4;
  const unsigned lane = static_cast<unsigned>(tid) % 32;
  const unsigned c = lane / 4;  // the lane's scales: columns 8j + c
  const int first_band = 2 * (tid / 128);
  const int first_group = (t * S::kTileK) >> p.group_shift;
#pragma unroll
  for (int band = first_band; band < first_band + 2; ++band) {
    const int scale_row = ((t * S::kTileK + 16 * band) >> p.group_shift) - first_group;
    const uint4 scale_bits = *reinterpret_cast<const uint4*>(
        slot + L::kScaleOffset + scale_row * 512 + warp * 128 + c * 16);
    const auto* scales = reinterpret_cast<const typename E::Scalar*>(&scale_bits);
    // The lane's 16 bytes of tile (band, warp); INT8: of each 512-byte half of it.
    const std::uint8_t* const tile = slot + (band * 4 + warp) * 512 * F::kChunksPerLane;
    // Scales column group j's B fragment, stores it as two k pairs of W^T.
    const auto store = [&](int j, ptx::FragmentB& group) {
      ptx::scale_fragment<E>(group, scales[j]);
#pragma unroll
      for (int reg = 0; reg < 2; ++reg) {
        const unsigned offset = weight_pair_offset(dequantized_pair(warp, lane, band, j, reg));
        *reinterpret_cast<std::uint32_t*>(weights + offset) = group.reg[reg];
      }
    };
    if constexpr (F::kBits == 4) {
      // The zero terms of the lane's 8 columns (stored transposed like the scales: 8 bytes).
      ptx::ZeroTerms zero[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) zero[j] = ptx::symmetric_zero_terms<E>();
      if constexpr (F::kHasZeros) {
        const uint2 zero_bytes = *reinterpret_cast<const uint2*>(
            slot + L::kZeroOffset + scale_row * 256 + warp * 64 + c * 8);
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          zero[j] = ptx::zero_terms<E>(j < 4 ? zero_bytes.x : zero_bytes.y, j % 4);
        }
      }
      // Word w holds column groups 2w and 2w + 1.
      const uint4 chunk = *reinterpret_cast<const uint4*>(tile + lane * 16);
      const std::uint32_t words[4] = {chunk.x, chunk.y, chunk.z, chunk.w};
#pragma unroll
      for (int w = 0; w < 4; ++w) {
        ptx::FragmentB group[2];
        ptx::dequant_int4_word<E>(words[w], zero[2 * w], zero[2 * w + 1], group[0], group[1]);
        store(2 * w, group[0]);
        store(2 * w + 1, group[1]);
      }
    } else {
      // Word w of half h holds column group 4h + w.
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const uint4 chunk = *reinterpret_cast<const uint4*>(tile + h * 512 + lane * 16);
        const std::uint32_t words[4] = {chunk.x, chunk.y, chunk.z, chunk.w};
#pragma unroll
        for (int w = 0; w < 4; ++w) {
          ptx::FragmentB group;
          ptx::dequant_int8_word<E>(words[w], group);
          store(4 * h + w, group);
        }
      }
    }
  }
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
  auto* const ready = reinterpret_cast<std::uint64_t*>(shared + L::kBarrierOffset);
  std::uint64_t* const consumed = ready + S::kWeightStages;
  std::uint64_t* const codes_full = consumed + S::kWeightStages;
  std::uint64_t* const a_full = codes_full + L::kCodeStages;  // [2][kAStages]
  // Consecutive blocks take the m tiles of one n tile: they read the same weights, from L2.
  const int m_tiles = (p.m + S::kRows - 1) / S::kRows;
  const int m0 = (blockIdx.x % m_tiles) * S::kRows;
  const int n_tile = blockIdx.x / m_tiles;
  const int k_steps = p.k / S::kTileK;
  const int warpgroup = threadIdx.x / 128;
  constexpr int kCodeStages = L::kCodeStages;
  constexpr int kAStages = L::kAStages;
  const auto code_slot = [&](int t) {
    return shared + L::kCodeRingOffset + (t % kCodeStages) * L::kCodeStageBytes;
  };
  const auto weight_slot = [&](int t) {
    return shared + L::kWeightOffset + (t % S::kWeightStages) * L::kWeightStageBytes;
  };

  if (threadIdx.x == 0) {
    // ready: every producer thread arrives; consumed: lane 0 of each of the 8 consumer warps;
    // codes_full, a_full: their loader's one arrival, plus the bytes of the copies.
    for (int i = 0; i < S::kWeightStages; ++i) {
      ptx::mbarrier_init(&ready[i], S::kProducerThreads);
      ptx::mbarrier_init(&consumed[i], 8);
    }
    for (int i = 0; i < kCodeStages + 2 * kAStages; ++i) ptx::mbarrier_init(&codes_full[i], 1);
    ptx::fence_barrier_init();
  }
  __syncthreads();
  // A, C (and, under a programmatic launch, everything) may be the previous kernel's output.
  ptx::wait_for_previous_grid();
  ptx::allow_next_grid_launch();

  if (threadIdx.x < S::kProducerThreads) {
    ptx::warpgroup_release_registers<S::kProducerRegisters>();
    const bool loader = threadIdx.x == 0;
    for (int t = 0; loader && t < kCodeStages && t < k_steps; ++t) {
      detail::load_codes<F>(p, code_slot(t), &codes_full[t], t, n_tile);
    }
    for (int t = 0; t < k_steps; ++t) {
      ptx::mbarrier_wait(&codes_full[t % kCodeStages], (t / kCodeStages) & 1);
      // The weight slot of stage t last held stage t - 3.
      if (t >= S::kWeightStages) {
        ptx::mbarrier_wait(&consumed[t % S::kWeightStages], (t / S::kWeightStages - 1) & 1);
      }
      detail::dequantize_stage<F>(p, code_slot(t), weight_slot(t), t, threadIdx.x);
      // The weights (st.shared) are read by wgmma through the async proxy; the fence also orders
      // this thread's reads of the code slot before the copy engine refills it.
      ptx::fence_proxy_async_shared();
      ptx::mbarrier_arrive(&ready[t % S::kWeightStages]);
      // Every producer has read the code slot: it takes stage t + 4 (INT8: t + 3).
      if (t + kCodeStages < k_steps) {
        detail::named_barrier<1, S::kProducerThreads>();
        if (loader) {
          detail::load_codes<F>(p, code_slot(t), &codes_full[t % kCodeStages], t + kCodeStages,
                                n_tile);
        }
      }
    }
    return;
  }

  // Consumers: warpgroup 2 takes rows 0..63 of the tile, warpgroup 3 rows 64..127, each with its
  // own ring of A.
  ptx::warpgroup_claim_registers<S::kConsumerRegisters>();
  const int half = warpgroup - 2;
  const int lane = threadIdx.x % 32;
  const bool loader = threadIdx.x % 128 == 0;
  std::uint64_t* const my_a_full = a_full + half * kAStages;
  const auto a_slot = [&](int t) {
    return shared + half * L::kARingBytes + (t % kAStages) * L::kAStageBytes;
  };
  for (int t = 0; loader && t < kAStages && t < k_steps; ++t) {
    detail::load_a<F>(a_map, a_slot(t), &my_a_full[t], t, m0 + 64 * half);
  }
  ptx::FragmentC acc[32];
#pragma unroll
  for (int j = 0; j < 32; ++j) acc[j] = {{0.f, 0.f, 0.f, 0.f}};
  for (int t = 0; t < k_steps; ++t) {
    ptx::mbarrier_wait(&my_a_full[t % kAStages], (t / kAStages) & 1);
    ptx::mbarrier_wait(&ready[t % S::kWeightStages], (t / S::kWeightStages) & 1);
    const std::uint32_t a_tile = ptx::shared_address(a_slot(t));
    const std::uint32_t w_tile = ptx::shared_address(weight_slot(t));
    ptx::wgmma_fence();
#pragma unroll
    for (int step = 0; step < S::kTileK / 16; ++step) {
      // Columns 0..127, then 128..255 (W^T rows 128.., 16 KB further).
#pragma unroll
      for (int half_n = 0; half_n < 2; ++half_n) {
        ptx::wgmma_m64n128k16_ss<E>(
            *reinterpret_cast<ptx::FragmentC(*)[16]>(&acc[16 * half_n]),
            ptx::k_major_swizzle128_descriptor(a_tile + 32 * step),
            ptx::k_major_swizzle128_descriptor(w_tile + 128 * 128 * half_n + 32 * step));
      }
    }
    ptx::wgmma_commit_group();
    // Retire stage t before signalling it: then nothing the producers wait for depends on their
    // own next signal. (The other warpgroup's multiplies keep the tensor cores busy meanwhile.)
    ptx::wgmma_wait_group<0>();
    __syncwarp();
    if (lane == 0) ptx::mbarrier_arrive(&consumed[t % S::kWeightStages]);
    // The whole warpgroup is done with the A slot: it takes stage t + 4.
    if (t + kAStages < k_steps) {
      if (half == 0) {
        detail::named_barrier<2, 128>();
      } else {
        detail::named_barrier<3, 128>();
      }
      if (loader) {
        detail::load_a<F>(a_map, a_slot(t), &my_a_full[t % kAStages], t + kAStages,
                          m0 + 64 * half);
      }
    }
  }

  // Epilogue: warp q of the warpgroup holds rows 16q + lane / 4 (and + 8) of its 64, columns
  // 8j + 2 (lane % 4), + 1 of fragment j (wgmma.cuh).
  const int warp_in_group = (threadIdx.x / 32) % 4;
  const int row = m0 + half * 64 + warp_in_group * 16 + lane / 4;
  const int column0 = n_tile * S::kTileN + 2 * (lane % 4);
#pragma unroll
  for (int j = 0; j < 32; ++j) {
    if (row < p.m) {
      dense::store_output_pair<F>(p, row, column0 + 8 * j, acc[j].value[0], acc[j].value[1]);
    }
    if (row + 8 < p.m) {
      dense::store_output_pair<F>(p, row + 8, column0 + 8 * j, acc[j].value[2], acc[j].value[3]);
    }
  }
#else
  __trap();
#endif
}

}  // namespace marlin::kernels::large_batch

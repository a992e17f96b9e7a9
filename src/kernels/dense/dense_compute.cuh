// The consumer side of the dense kernel's pipeline: one warp's share of a resident stage
// (its k16 steps of its 64-column slice): dequantize the weight fragments, scale them, and
// multiply them with A on the tensor cores.
#pragma once

#include <cstdint>

#include "kernels/common/dequant.cuh"
#include "kernels/common/mma.cuh"
#include "kernels/common/wgmma.cuh"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_load.cuh"
#include "layout/packed_format.h"

namespace marlin::kernels::dense {

template <Activation kActivation>
using ElementOf = std::conditional_t<kActivation == Activation::kFp16, ptx::Fp16, ptx::Bf16>;

// A warp's accumulators: fragment mb * 8 + j = m block mb x column group j; with swapped
// operands, fragment b = output columns 16b .. 16b + 15 of the slice x batch rows 0-7.
template <class T>
struct Accumulators {
  ptx::FragmentC frag[T::kFragments];

  __device__ __forceinline__ void zero() {
#pragma unroll
    for (int f = 0; f < T::kFragments; ++f)
#pragma unroll
      for (int v = 0; v < 4; ++v) frag[f].value[v] = 0.0f;
  }
};

// Where a k16 step reloads its group (scales, zero terms) inside a stage.
enum class GroupReload {
  kNever,             // one group spans the stage (group size >= kTileK, or per-channel)
  kWhereGroupsStart,  // a branch per step on the group size
  kEveryMinGroup,     // every 32 rows, whether or not a group starts there
};

// With zero points in the overlapped wgmma tilings, a branch between two multiplies in flight,
// around the zero terms, made ptxas serialize every wgmma of the stage (C7513: a full wait after
// each). So there the reload is unconditional where groups are shorter than a stage (every 32
// rows), and a loop without any reload serves groups that span a stage; the kernel picks one of
// the two once per launch (dense_kernel.cuh). Group 128 then reloads 3 times a stage fewer: zero
// points' time relative to fp16 (H100, two runs) went from 1.08-1.16 to 1.06-1.11 at m = 32 and
// from 1.06-1.07 to 1.00-1.02 at m = 64 (7B, 8B, 70B). Choosing per stage instead, both loops
// inside the stage loop, took 1-2% longer (H100, summed zero-point time per model at m = 32-128,
// docs/dense-kernel-notes.md v18). Elsewhere the reload is a branch per step.
template <class T, class F>
constexpr bool kReloadChosenPerLaunch = F::kHasZeros && T::kWgmmaOverlap;

// That choice: kNever where a group spans a stage (the group shift is at least the stage's).
template <class T>
__device__ __forceinline__ bool group_spans_stage(int group_shift) {
  constexpr int kTileKShift = T::kTileK == 128 ? 7 : 6;
  static_assert(1 << kTileKShift == T::kTileK, "stages are 64 or 128 rows of k");
  return group_shift >= kTileKShift;
}

// Per-warp constants of the compute loop, computed once per launch: shared-memory offsets of
// this lane's operands inside a stage.
template <class T, class F>
struct WarpOperands {
  int a_offset[T::kKStepsPerWarp];  // ldmatrix address of m block 0 at each of the warp's steps
  int b_index;                      // uint4 index of the lane's first chunk at the first step
  int group_offset;                 // element offset of the lane's 8 scales / zeros, first step
  int group_mask;                   // group size - 1 (all bits for per-channel)
  int group_shift;                  // log2 of the group size (31 for per-channel)
  int quarter;                      // wgmma: the warp's 16-column block of its slice (0-3)

  __device__ __forceinline__ WarpOperands(const DenseParams& p, int slice, int k_group) {
    const int lane = threadIdx.x % 32;
#pragma unroll
    for (int s = 0; s < T::kKStepsPerWarp; ++s) {
      // ldmatrix x4: lanes 0-15 address rows 0-15 of k half 0, lanes 16-31 rows 0-15 of k half
      // 1; matrix q of the x4 is addressed by lanes 8q..8q+7: (rows 0-7 | 8-15) x (k 0-7 | 8-15)
      // in the order a0, a1, a2, a3 of the mma A operand (see mma.cuh).
      const int k_step = k_group * T::kKStepsPerWarp + s;
      // Swapped operands: ldmatrix x2, lanes 0-7 address batch rows 0-7 of k half 0, lanes
      // 8-15 the same rows of k half 1: the B operand (k16 x 8 batch rows) of the mma. With
      // 16 batch rows, ldmatrix x4: lanes 16-31 address rows 8-15 the same way (x2 ignores them).
      a_offset[s] = T::kSwapOperands
                        ? a_chunk_offset<T>(lane % 8 + 8 * (lane / 16), k_step * 2 + (lane / 8) % 2)
                        : a_chunk_offset<T>(lane % 16, k_step * 2 + lane / 16);
    }
    b_index = ((k_group * T::kKStepsPerWarp * T::kNSlices + slice) * F::kChunksPerLane) * 32 + lane;
    // Stages start on group boundaries when groups are no longer than a stage, else a stage
    // holds the one scale row of its group.
    const int group_row = (k_group * T::kKStepsPerWarp * 16) >> p.group_shift;
    group_offset = group_row * T::kTileN + slice * layout::kTileN + (lane / 4) * 8;
    group_mask = p.group_shift >= 31 ? -1 : (1 << p.group_shift) - 1;
    group_shift = p.group_shift;
    quarter = (threadIdx.x / 32) % 4;
    // Keep these in registers: left alone, ptxas recomputes them from the thread index in every
    // stage (~25 instructions per warp-stage in the m <= 8 loop, SASS sm_90a) to save registers
    // it does not need.
#pragma unroll
    for (int s = 0; s < T::kKStepsPerWarp; ++s) a_offset[s] = ptx::opaque(a_offset[s]);
    b_index = ptx::opaque(b_index);
    group_offset = ptx::opaque(group_offset);
    group_mask = ptx::opaque(group_mask);
  }
};

// What a lane needs of one quantization group: the 8 scales of its columns (8j + lane/4),
// contiguous thanks to the transpose, and the zero terms per column group (dequant.cuh); the
// symmetric ones are constants.
template <class T, class F>
struct LaneGroup {
  using E = ElementOf<F::kActivation>;
  uint4 scale_bits;
  ptx::ZeroTerms zero[layout::kColumnGroups];

  __device__ __forceinline__ void load(const std::uint8_t* stage, int group_offset) {
    using Layout = StageLayout<T, F>;
    scale_bits = *reinterpret_cast<const uint4*>(stage + Layout::kScaleOffset + group_offset * 2);
    if constexpr (F::kHasZeros) {
      const uint2 zero_bytes =
          *reinterpret_cast<const uint2*>(stage + Layout::kZeroOffset + group_offset);
      // Column group j's zero point is byte j % 4 of word j / 4; bytes b and b + 2 of a word
      // share a pair (dequant.cuh).
      const ptx::ZeroTermPair pairs[4] = {
          ptx::zero_term_pair<E>(zero_bytes.x), ptx::zero_term_pair<E>(zero_bytes.x >> 8),
          ptx::zero_term_pair<E>(zero_bytes.y), ptx::zero_term_pair<E>(zero_bytes.y >> 8)};
#pragma unroll
      for (int j = 0; j < layout::kColumnGroups; ++j)
        zero[j] = ptx::zero_terms<E>(pairs[(j / 4) * 2 + j % 2], (j % 4) / 2);
    } else {
#pragma unroll
      for (int j = 0; j < layout::kColumnGroups; ++j) zero[j] = ptx::symmetric_zero_terms<E>();
    }
  }
  __device__ __forceinline__ const typename E::Scalar* scales() const {
    return reinterpret_cast<const typename E::Scalar*>(&scale_bits);
  }
};

// The words of the lane's packed chunks of one (16 x 64) weight tile: 4 for INT4 (one chunk), 8
// for INT8 (two). Column groups 2w, 2w + 1 are INT4 word w; INT8 column group j is word j.
template <class F>
struct LaneWords {
  std::uint32_t word[F::kBits];

  __device__ __forceinline__ LaneWords(const uint4* b_stage, int b_index) {
#pragma unroll
    for (int half = 0; half < F::kChunksPerLane; ++half) {
      const uint4 chunk = b_stage[b_index + half * 32];
      word[4 * half] = chunk.x;
      word[4 * half + 1] = chunk.y;
      word[4 * half + 2] = chunk.z;
      word[4 * half + 3] = chunk.w;
    }
  }

  // B fragments of column groups 2 * pair and 2 * pair + 1, values q - z (unscaled).
  template <class E>
  __device__ __forceinline__ void dequant_pair(int pair, const ptx::ZeroTerms& zero_low,
                                               const ptx::ZeroTerms& zero_high,
                                               ptx::FragmentB& low, ptx::FragmentB& high) const {
    if constexpr (F::kBits == 4) {
      ptx::dequant_int4_word<E>(word[pair], zero_low, zero_high, low, high);
    } else {
      ptx::dequant_int8_word<E>(word[2 * pair], low);
      ptx::dequant_int8_word<E>(word[2 * pair + 1], high);
    }
  }
};

// This lane's B fragments of the 8 column groups of one (16 x 64) weight tile, values q - z
// (unscaled).
template <class T, class F>
__device__ __forceinline__ void dequant_tile(const uint4* b_stage, int b_index,
                                             const ptx::ZeroTerms (&zero)[8],
                                             ptx::FragmentB (&b)[layout::kColumnGroups]) {
  using E = ElementOf<F::kActivation>;
  const LaneWords<F> words(b_stage, b_index);
#pragma unroll
  for (int pair = 0; pair < layout::kColumnGroups / 2; ++pair) {
    words.template dequant_pair<E>(pair, zero[2 * pair], zero[2 * pair + 1], b[2 * pair],
                                   b[2 * pair + 1]);
  }
}

// m <= 16 with swapped operands: C^T = W^T A^T. The B fragments of column groups 2b and 2b + 1
// (packed_format.h) are, register for register, the A fragment of the 16 x 16 block W^T[16b ..
// 16b + 15][k16] (mma.cuh: a0 = rows g, k 2r..; a1 = rows g + 8; a2, a3 = k + 8), so the packed
// layout serves unchanged. Each mma then covers 16 output columns x 8 batch rows: 4 mma per
// 16 x 64 tile and batch block of 8 rows (kSwapBatchBlocks: 1 or 2). And a lane's accumulators of
// block b hold output columns 16b + g and 16b + 8 + g only, the two columns whose scales it
// already loads, so the group scales are applied to fp32 partial sums once per group instead of
// to every weight fragment (16 HMUL2 per tile in the unswapped loop):
//
//   partial = sum over the group's k steps of (q - z) * a      (fresh mma at the group's start)
//   acc    += scale * partial                     (16 FFMA per 64 columns and batch block)
//
// Fragment bb * 4 + b: columns 16b + g (+8) x batch rows 8bb + 2r, +1 (for_each_output).
template <class T, class F, bool kGroupsEndInside>
__device__ __forceinline__ void compute_steps_swapped(const std::uint8_t* stage,
                                                      const WarpOperands<T, F>& operands,
                                                      Accumulators<T>& acc) {
  using E = ElementOf<F::kActivation>;
  using Layout = StageLayout<T, F>;
  constexpr int kFragments = T::kFragments;  // 4 per batch block
  LaneGroup<T, F> group;
  ptx::FragmentC partial[kFragments];
  const auto apply_scales = [&]() {
    const auto* scales = group.scales();
#pragma unroll
    for (int f = 0; f < kFragments; ++f) {
      const int block = f % 4;
      const float low = static_cast<float>(scales[2 * block]);       // column 16b + g
      const float high = static_cast<float>(scales[2 * block + 1]);  // column 16b + 8 + g
      acc.frag[f].value[0] += low * partial[f].value[0];
      acc.frag[f].value[1] += low * partial[f].value[1];
      acc.frag[f].value[2] += high * partial[f].value[2];
      acc.frag[f].value[3] += high * partial[f].value[3];
    }
  };
  int group_offset = operands.group_offset;
  group.load(stage, group_offset);
  const uint4* b_stage = reinterpret_cast<const uint4*>(stage + Layout::kBOffset);
#pragma unroll
  for (int s = 0; s < T::kKStepsPerWarp; ++s) {
    // With 32-row groups a new group starts every 2 steps (only then is kGroupsEndInside set).
    const bool fresh = s == 0 || (kGroupsEndInside && (s * 16) % T::kMinGroupSize == 0);
    if (s > 0 && fresh) {
      apply_scales();
      group_offset += T::kTileN;
      group.load(stage, group_offset);
    }
    // Each 16 x 16 block is dequantized right before its multiplies rather than the whole tile
    // first: ptxas still schedules as it likes, but the m <= 8 zero-point loop came out 10
    // instructions shorter a warp-stage (602 to 592, SASS sm_90a; fp16 unchanged at 533).
    const LaneWords<F> words(b_stage,
                             operands.b_index + s * T::kNSlices * F::kChunksPerLane * 32);
    ptx::FragmentB activations[T::kSwapBatchBlocks];
    if constexpr (T::kSwapBatchBlocks == 1) {
      ptx::ldmatrix_x2(activations[0], ptx::shared_address(stage + operands.a_offset[s]));
    } else {
      ptx::FragmentA both;  // registers 0, 1: batch rows 0-7; 2, 3: rows 8-15
      ptx::ldmatrix_x4(both, ptx::shared_address(stage + operands.a_offset[s]));
      activations[0] = {{both.reg[0], both.reg[1]}};
      activations[1] = {{both.reg[2], both.reg[3]}};
    }
#pragma unroll
    for (int block = 0; block < 4; ++block) {
      ptx::FragmentB low;   // column group 2b: output columns 16b + g
      ptx::FragmentB high;  // column group 2b + 1: output columns 16b + 8 + g
      words.template dequant_pair<E>(block, group.zero[2 * block], group.zero[2 * block + 1], low,
                                     high);
      const ptx::FragmentA weights{{low.reg[0], high.reg[0], low.reg[1], high.reg[1]}};
#pragma unroll
      for (int bb = 0; bb < T::kSwapBatchBlocks; ++bb) {
        if (fresh) {
          ptx::mma_m16n8k16_fresh<E>(partial[bb * 4 + block], weights, activations[bb]);
        } else {
          ptx::mma_m16n8k16<E>(partial[bb * 4 + block], weights, activations[bb]);
        }
      }
    }
  }
  apply_scales();
}

template <class T, class F>
__device__ __forceinline__ void compute_stage_swapped(const std::uint8_t* stage,
                                                      const WarpOperands<T, F>& operands,
                                                      Accumulators<T>& acc) {
  // Two copies of the loop, chosen once per stage: predicating the group change inside one loop
  // cost ~50 issue slots per stage even where no group ends (SASS, sm_90a).
  // (Per-channel scales have group_mask -1: as unsigned, no group ends inside a stage.)
  if (static_cast<unsigned>(operands.group_mask) < T::kKStepsPerWarp * 16 - 1) {
    compute_steps_swapped<T, F, true>(stage, operands, acc);
  } else {
    compute_steps_swapped<T, F, false>(stage, operands, acc);
  }
}

// The wgmma path (Tiling::kWgmma, sm_90a). Warp q of a slice's warpgroup dequantizes W^T's
// 16 x 16 block q (output columns 16q .. 16q + 15 of the slice) at every k16 step of the stage:
// the A fragment of the block, exactly as in compute_steps_swapped. The stage's A tile (kRows = 64
// or 128 batch rows x 64 k, 128-byte swizzle) is wgmma's B operand, read through a descriptor.
//
//   per stage and warpgroup, 4 k16 steps:  dequantize 64 x 16 (16 x 16 per warp) -> registers,
//                                           then wgmma m64nNk16 (64 columns x N = kRows batch
//                                           rows), which runs while the next step is dequantized
//
// Scales are applied to the dequantized fragments (2 HMUL2 per warp and k16 step), cheap next to
// 64 x N x 16 multiply-adds. The two columns this lane dequantizes, 16q + g and 16q + 8 + g, are
// column groups 2q and 2q + 1 of the lane's 8 (LaneGroup): their scales (and zero bytes) are
// adjacent in the stage, so they are loaded by address, with no run-time register indexing.
template <class T, class F>
struct QuarterGroup {
  using E = ElementOf<F::kActivation>;
  std::uint32_t scale_pair;     // scales of column groups 2q, 2q + 1
  ptx::ZeroTerms zero[2];       // zero terms of the same (dequant.cuh)

  __device__ __forceinline__ void load(const std::uint8_t* stage, int group_offset, int quarter) {
    using Layout = StageLayout<T, F>;
    const int element = group_offset + 2 * quarter;
    scale_pair = *reinterpret_cast<const std::uint32_t*>(stage + Layout::kScaleOffset + element * 2);
    if constexpr (F::kHasZeros) {
      const std::uint32_t zero_pair =
          *reinterpret_cast<const std::uint16_t*>(stage + Layout::kZeroOffset + element);
      const ptx::ZeroTermPair pair = ptx::zero_term_pair_of_two<E>(zero_pair);
      zero[0] = ptx::zero_terms<E>(pair, 0);
      zero[1] = ptx::zero_terms<E>(pair, 1);
    } else {
      zero[0] = zero[1] = ptx::symmetric_zero_terms<E>();
    }
  }
};

// The lane's A fragment of W^T's block `quarter` at one k16 step, dequantized and scaled.
template <class T, class F>
__device__ __forceinline__ ptx::FragmentA weight_block(const uint4* b_stage, int b_index,
                                                       int quarter,
                                                       const QuarterGroup<T, F>& group) {
  using E = ElementOf<F::kActivation>;
  ptx::FragmentB low;   // column group 2q
  ptx::FragmentB high;  // column group 2q + 1
  if constexpr (F::kBits == 4) {
    // Word w of the lane's 16-byte chunk holds column groups 2w and 2w + 1.
    const std::uint32_t word = reinterpret_cast<const std::uint32_t*>(b_stage + b_index)[quarter];
    ptx::dequant_int4_word<E>(word, group.zero[0], group.zero[1], low, high);
  } else {
    // INT8: column group j is word j % 4 of the lane's chunk j / 4.
    const uint2 words = reinterpret_cast<const uint2*>(b_stage + b_index + (quarter / 2) * 32)
        [quarter % 2];
    ptx::dequant_int8_word<E>(words.x, low);
    ptx::dequant_int8_word<E>(words.y, high);
  }
  const auto* scales = reinterpret_cast<const typename E::Scalar*>(&group.scale_pair);
  ptx::scale_fragment<E>(low, scales[0]);
  ptx::scale_fragment<E>(high, scales[1]);
  return {{low.reg[0], high.reg[0], low.reg[1], high.reg[1]}};
}

template <class T, class F, GroupReload kReload>
__device__ __forceinline__ void compute_steps_wgmma(const std::uint8_t* stage,
                                                    const WarpOperands<T, F>& operands,
                                                    Accumulators<T>& acc) {
  using E = ElementOf<F::kActivation>;
  using Layout = StageLayout<T, F>;
  QuarterGroup<T, F> group;
  int group_offset = operands.group_offset;
  group.load(stage, group_offset, operands.quarter);
  const uint4* b_stage = reinterpret_cast<const uint4*>(stage + Layout::kBOffset);
  // A starts the stage (StageLayout), 1024-byte aligned, in panels of 64 k: k16 step s is in
  // panel s / 4, 32 (s % 4) bytes into each row.
  const std::uint32_t a_tile = ptx::shared_address(stage);
  ptx::FragmentA weights[T::kKSteps];
#pragma unroll
  for (int s = 0; s < T::kKSteps; ++s) {
    // Groups of 32 or 64 rows change inside the stage. kEveryMinGroup: the row of step s is
    // (16 s) >> group_shift, the same row again where no group starts.
    if constexpr (kReload == GroupReload::kEveryMinGroup) {
      if (s > 0 && (s * 16) % T::kMinGroupSize == 0) {
        group.load(stage, operands.group_offset + ((s * 16) >> operands.group_shift) * T::kTileN,
                   operands.quarter);
      }
    } else if constexpr (kReload == GroupReload::kWhereGroupsStart) {
      if (s > 0 && (s * 16) % T::kMinGroupSize == 0 && ((s * 16) & operands.group_mask) == 0) {
        group_offset += T::kTileN;
        group.load(stage, group_offset, operands.quarter);
      }
    }
    weights[s] = weight_block<T, F>(
        b_stage, operands.b_index + s * T::kNSlices * F::kChunksPerLane * 32, operands.quarter,
        group);
    // Each step's multiply is issued as soon as its weights are ready and runs while the next
    // step is dequantized; the fence orders the new A registers before the wgmma reads them.
    ptx::wgmma_fence();
    ptx::wgmma_m64k16<T::kRows, E>(
        acc.frag, weights[s],
        ptx::k_major_swizzle128_descriptor(a_tile + (s / 4) * T::kRows * 128 + (s % 4) * 32));
    // A group per 64 k. The weight registers and the stage must outlive the multiplies.
    // Overlapped: the group just committed may run on, the one before has retired (at a stage's
    // end that frees the buffer the next load refills, after the barrier: StageLayout::kLoadAhead; in
    // mid-stage it bounds the weight registers held for running multiplies). Else all retire
    // at the stage's end.
    if (s % 4 == 3) {
      ptx::wgmma_commit_group();
      if constexpr (T::kWgmmaOverlap) {
        ptx::wgmma_wait_group<1>();
      } else if (s == T::kKSteps - 1) {
        ptx::wgmma_wait_group<0>();
      }
    }
  }
}

// One warp's share of a stage; kReload is the wgmma loop's (kReloadChosenPerLaunch).
template <class T, class F, GroupReload kReload>
__device__ __forceinline__ void compute_stage(const std::uint8_t* stage,
                                              const WarpOperands<T, F>& operands,
                                              Accumulators<T>& acc) {
  if constexpr (T::kWgmma) {
    compute_steps_wgmma<T, F, kReload>(stage, operands, acc);
    return;
  }
  if constexpr (T::kSwapOperands) {
    compute_stage_swapped<T, F>(stage, operands, acc);
    return;
  }
  using E = ElementOf<F::kActivation>;
  using Layout = StageLayout<T, F>;
  LaneGroup<T, F> group;
  int group_offset = operands.group_offset;
  group.load(stage, group_offset);
  const auto* column_scales = group.scales();

  const uint4* b_stage = reinterpret_cast<const uint4*>(stage + Layout::kBOffset);
#pragma unroll
  for (int s = 0; s < T::kKStepsPerWarp; ++s) {
    // A warp's steps may cross into the next group (32-row groups, 4 steps of 16 rows).
    if (s > 0 && (s * 16) % T::kMinGroupSize == 0 && ((s * 16) & operands.group_mask) == 0) {
      group_offset += T::kTileN;
      group.load(stage, group_offset);
    }
    // This lane's B fragments of all 8 column groups of the (16 x 64) tile.
    ptx::FragmentB b[layout::kColumnGroups];
    dequant_tile<T, F>(b_stage, operands.b_index + s * T::kNSlices * F::kChunksPerLane * 32,
                       group.zero, b);
#pragma unroll
    for (int j = 0; j < layout::kColumnGroups; ++j) ptx::scale_fragment<E>(b[j], column_scales[j]);

#pragma unroll
    for (int mb = 0; mb < T::kMBlocks; ++mb) {
      ptx::FragmentA a;
      ptx::ldmatrix_x4(a, ptx::shared_address(stage + operands.a_offset[s] +
                                              mb * 16 * T::kAChunksPerRow * 16));
#pragma unroll
      for (int j = 0; j < layout::kColumnGroups; ++j) ptx::mma_m16n8k16<E>(acc.frag[mb * 8 + j], a, b[j]);
    }
  }
}

}  // namespace marlin::kernels::dense

// Weight formats of the dense kernel: activation type x quantization scheme, and what each needs
// in shared memory per pipeline stage.
#pragma once

#include "marlin/quant.h"

namespace marlin::kernels::dense {

enum class Activation { kFp16, kBf16 };

template <Activation kActivation_, QuantScheme kScheme_>
struct Format {
  static constexpr Activation kActivation = kActivation_;
  static constexpr QuantScheme kScheme = kScheme_;
  static constexpr int kBits = kScheme == QuantScheme::kSymmetricInt8 ? 8 : 4;
  static constexpr bool kHasZeros = kScheme == QuantScheme::kAsymmetricInt4;
  // 16-byte chunks a lane holds of one 16 x 64 tile (layout/packed_format.h: one for INT4, one
  // per half for INT8).
  static constexpr int kChunksPerLane = kBits / 4;
};

// Byte layout of one pipeline stage of Tiling T for format F:
//   A      (kRows, kTileK) 16-bit; 16-byte chunk c of row r stored at chunk c ^ (r % 8), so that
//          the 8 row addresses of one ldmatrix 8x8 matrix fall in 8 different bank groups
//          (rows are a multiple of 128 bytes apart, they would all hit the same banks unswizzled).
//          wgmma tilings store it as kTileK / 64 panels of (kRows, 64), one after another: each
//          panel is the canonical 128-byte-swizzled K-major tile a wgmma descriptor reads
//   B      (kKSteps, kNSlices, kChunksPerLane, 32 lanes) uint4: packed tiles as in global memory
//   scales (kMaxScaleRows, kTileN) 16-bit, still transposed per 64 columns
//   zeros  (kMaxScaleRows, kTileN) bytes, likewise (asymmetric formats only)
template <class T, class F>
struct StageLayout {
  static constexpr int kABytes = T::kRows * T::kTileK * 2;
  static constexpr int kBBytes = T::kTileK * T::kTileN * F::kBits / 8;
  static constexpr int kScaleBytes = T::kMaxScaleRows * T::kTileN * 2;
  static constexpr int kZeroBytes = F::kHasZeros ? T::kMaxScaleRows * T::kTileN : 0;
  static constexpr int kBOffset = kABytes;
  static constexpr int kScaleOffset = kBOffset + kBBytes;
  static constexpr int kZeroOffset = kScaleOffset + kScaleBytes;
  // wgmma reads A through a 128-byte-swizzle descriptor: every stage starts 1024-byte aligned.
  static constexpr int kStageAlignment = T::kWgmma ? 1024 : 128;
  static constexpr int kStageBytes =
      (kZeroOffset + kZeroBytes + kStageAlignment - 1) / kStageAlignment * kStageAlignment;
  // Intra-block reduction: one float4 per lane per (m block, n8 group) per warp slice.
  static constexpr int kReduceBytes = T::kKGroups > 1 ? T::kNSlices * T::kFragments * 32 * 16 : 0;
  // Pipeline depth: the Tiling's, less the stages that do not fit. A wgmma tiling (Hopper) has at
  // most 227 KiB a block. An mma.sync tiling keeps room for its kBlocksPerSM blocks on an H100 SM
  // (228 KiB, 1 KiB of it reserved per block). Only INT8 loses stages (its weight tiles are twice
  // the bytes). At m <= 8 its 2 stages let two blocks share an SM: H100, same run, summed INT8
  // speedup over FP16 cuBLASLt against 4 stages at one block per SM, m = 1: 7B 1.65 / 1.58, 70B
  // 1.89 / 1.86, large 2.00 / 1.92. At m <= 16 its 5 stages fill exactly half an SM, which
  // leaves no room for the epilogue's 128 bytes of static shared memory (dense_epilogue.cuh), so
  // it runs one block an SM with 5 stages (7B m = 16: 1.50 against 1.45 with 6); two blocks (the
  // flag moved out of shared memory) took 1.5-5.6% longer at m = 16 (H100, v18 of the notes).
  // tests/gemm/test_dense_gemm_gpu.cpp pins both. The wgmma 32-row tiling (m = 17..32) keeps
  // its 6 stages and one block: with 4 stages and two blocks it lost 1-3% (summed) at m = 32.
  static constexpr int kSmSharedBytes = 228 * 1024;
  static constexpr int kMaxBlockSharedBytes = 227 * 1024;
  static constexpr int kBlockSharedLimit =
      T::kWgmma || kSmSharedBytes / T::kBlocksPerSM - 1024 > kMaxBlockSharedBytes
          ? kMaxBlockSharedBytes
          : kSmSharedBytes / T::kBlocksPerSM - 1024;
  // (+ slack to align the dynamic shared memory base itself, for wgmma)
  static constexpr int kFixedBytes = kReduceBytes + (T::kWgmma ? kStageAlignment : 0);
  static constexpr int kStages =
      T::kStages * kStageBytes + kFixedBytes <= kBlockSharedLimit
          ? T::kStages
          : (kBlockSharedLimit - kFixedBytes) / kStageBytes;
  // Stages loaded ahead of the one computed (Tiling::kWgmmaOverlap: one less).
  static constexpr int kLoadAhead = T::kWgmmaOverlap ? kStages - 2 : kStages - 1;
  static_assert(kLoadAhead >= 1, "the pipeline needs a stage in flight");
  static constexpr int kSharedBytes = kStages * kStageBytes + kFixedBytes;
  static_assert(kStageBytes % 128 == 0, "stages must stay 128-byte aligned");
};

}  // namespace marlin::kernels::dense

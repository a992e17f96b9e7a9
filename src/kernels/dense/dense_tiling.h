// Compile-time shape of one dense-kernel configuration: block tile, warp roles, pipeline depth.
// Host code (dispatch, workspace sizing) and the kernel both read it; the bytes of a pipeline
// stage also depend on the weight format (dense_format.h: StageLayout).
//
// A block of 8 warps computes a (kRows x kTileN) output tile, walking k in steps of kTileK:
//
//            kTileN columns = kNSlices warp slices of 64
//          +--------+--------+--------+--------+
//   kTileK |  w0 w4 |  w1 w5 |  w2 w6 |  w3 w7 |   (kTileN = 256: 4 slices x 2 k-groups)
//   rows   |        |        |        |        |
//          +--------+--------+--------+--------+
//
// Each warp owns one 64-column slice and every kKGroups-th k16 step of a stage; the kKGroups warps
// of a slice sum their accumulators in shared memory when the block finishes a slice.
#pragma once

namespace marlin::kernels::dense {

template <int kMBlocks_, int kTileK_, int kTileN_, int kStages_, int kBlocksPerSM_,
          bool kSwapOperands_ = false>
struct Tiling {
  static constexpr int kMBlocks = kMBlocks_;  // 16-row mma blocks of A per tile
  static constexpr int kTileK = kTileK_;
  static constexpr int kTileN = kTileN_;
  static constexpr int kStages = kStages_;    // cp.async pipeline depth
  // Resident blocks per SM the configuration is built for (registers are capped to allow it).
  static constexpr int kBlocksPerSM = kBlocksPerSM_;
  // Weights as the mma A operand and activations as B (C^T = W^T A^T), for m <= 8: see
  // dense_compute.cuh. Then a warp holds 4 accumulator fragments per slice, else kMBlocks * 8.
  static constexpr bool kSwapOperands = kSwapOperands_;
  static constexpr int kFragments = kSwapOperands ? 4 : kMBlocks_ * 8;

  static constexpr int kThreads = 256;
  static constexpr int kWarps = kThreads / 32;
  static constexpr int kRows = kMBlocks * 16;
  static constexpr int kNSlices = kTileN / 64;
  static constexpr int kKGroups = kWarps / kNSlices;
  static constexpr int kKSteps = kTileK / 16;  // k16 steps per stage
  static constexpr int kKStepsPerWarp = kKSteps / kKGroups;
  static_assert(kKStepsPerWarp * kKGroups == kKSteps, "k steps must split evenly over warps");

  static constexpr int kAChunksPerRow = kTileK / 8;  // 16-byte chunks of fp16/bf16
  static constexpr int kMinGroupSize = 32;
  static constexpr int kMaxScaleRows = kTileK / kMinGroupSize;
};

// The configurations shipped (dense_launch_impl.cuh instantiates exactly these, in this order;
// src/gemm/dense_dispatch.cpp chooses among them). Measured on an H200 (2026-11-27, Llama-2-7B and
// -70B layers, ratio over FP16 cuBLASLt summed per model; docs/dense-kernel-notes.md has the table):
//  - m <= 8: 128 x 256 weight tiles, two blocks per SM. Each warp takes 4 k16 steps per stage, so
//    the per-stage costs (barrier, copies, loop) spread over 4 tiles: 70B 2.36x at m = 1, against
//    2.04x with 128 x 128 tiles.
//  - m <= 16: 128 x 128 tiles, 6 stages, two blocks per SM: at m = 16 the small 7B layers need the
//    finer partition (1.43x against 1.20x with 128 x 256).
//  - larger m: 32-row chunks of 128 x 256 tiles, one block per SM; better than 64-row tiles at
//    m = 32-128 on both models (70B m = 32: 1.61x against 1.32x).
//  - m <= 8 also swaps the mma operands (v5, H100 2026-11-27: +3-5% over the same tiling
//    without, in one run). It covers 8 batch rows, so it serves m <= 8 only
//    (dense_dispatch.cpp); at m = 9..16 a swapped loop with two 8-row blocks lost to the plain one.
using TilingSmallM = Tiling<1, 128, 256, 4, 2, true>;
using TilingMediumM = Tiling<1, 128, 128, 6, 2>;
using TilingLargeM = Tiling<2, 128, 256, 4, 1>;

}  // namespace marlin::kernels::dense

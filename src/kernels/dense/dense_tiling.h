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

template <int kMBlocks_, int kTileK_, int kTileN_, int kStages_, int kBlocksPerSM_>
struct Tiling {
  static constexpr int kMBlocks = kMBlocks_;  // 16-row mma blocks of A per tile
  static constexpr int kTileK = kTileK_;
  static constexpr int kTileN = kTileN_;
  static constexpr int kStages = kStages_;    // cp.async pipeline depth
  // Resident blocks per SM the configuration is built for (registers are capped to allow it).
  static constexpr int kBlocksPerSM = kBlocksPerSM_;

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

// The configurations shipped (dense_fp16_int4_*_m.cu instantiate exactly these;
// src/gemm/dense_dispatch.cpp chooses among them). Small batches: square 128x128 weight tiles,
// a deep pipeline, and two blocks per SM where registers allow (m<=16). Profiling the one-block version at m=1 on an H200
// (ncu, 2026-11-27) showed it issue-bound, not memory-bound: 2 warps per scheduler issued 0.44
// instructions per cycle and DRAM ran at 20% of peak; a second block doubles the warps that hide
// the dequantization and shared-memory latencies. Larger batches use wide 64x256 tiles so that
// each dequantized weight fragment feeds more tensor-core work.
using TilingM1 = Tiling<1, 128, 256, 4, 2>;
using TilingM2 = Tiling<2, 128, 128, 6, 1>;
using TilingM3 = Tiling<3, 64, 256, 4, 1>;
using TilingM4 = Tiling<4, 64, 256, 4, 1>;

}  // namespace marlin::kernels::dense

// Compile-time shape of one dense-kernel configuration: block tile, warp roles, shared memory.
// Host code (dispatch, workspace sizing) and the kernel both read it.
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

template <int kMBlocks_, int kTileK_, int kTileN_, int kStages_>
struct Tiling {
  static constexpr int kMBlocks = kMBlocks_;  // 16-row mma blocks of A per tile
  static constexpr int kTileK = kTileK_;
  static constexpr int kTileN = kTileN_;
  static constexpr int kStages = kStages_;    // cp.async pipeline depth

  static constexpr int kThreads = 256;
  static constexpr int kWarps = kThreads / 32;
  static constexpr int kRows = kMBlocks * 16;
  static constexpr int kNSlices = kTileN / 64;
  static constexpr int kKGroups = kWarps / kNSlices;
  static constexpr int kKSteps = kTileK / 16;  // k16 steps per stage
  static constexpr int kKStepsPerWarp = kKSteps / kKGroups;
  static_assert(kKStepsPerWarp * kKGroups == kKSteps, "k steps must split evenly over warps");

  // Shared memory of one pipeline stage, bytes.
  static constexpr int kAChunksPerRow = kTileK / 8;  // 16-byte chunks of fp16
  static constexpr int kABytes = kRows * kTileK * 2;
  static constexpr int kBBytes = kTileK * kTileN / 2;
  static constexpr int kMinGroupSize = 32;
  static constexpr int kMaxScaleRows = kTileK / kMinGroupSize;
  static constexpr int kScaleBytes = kMaxScaleRows * kTileN * 2;
  static constexpr int kStageBytes = kABytes + kBBytes + kScaleBytes;
  // Intra-block reduction: one float4 per lane per (m block, n8 group) per warp slice.
  static constexpr int kReduceBytes = kKGroups > 1 ? kNSlices * kMBlocks * 8 * 32 * 16 : 0;
  static constexpr int kSharedBytes = kStages * kStageBytes + kReduceBytes;
};

// The configurations shipped (src/kernels/dense/dense_fp16_int4.cu instantiates exactly these;
// src/gemm/dense_dispatch.cpp chooses among them). Small batches are memory-bound: a deep
// pipeline of square 128x128 weight tiles keeps enough bytes in flight; larger batches use wide
// 64x256 tiles so that each A fragment feeds more tensor-core work.
using TilingM1 = Tiling<1, 128, 128, 6>;
using TilingM2 = Tiling<2, 128, 128, 6>;
using TilingM3 = Tiling<3, 64, 256, 4>;
using TilingM4 = Tiling<4, 64, 256, 4>;

}  // namespace marlin::kernels::dense

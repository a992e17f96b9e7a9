// Compile-time shape of one dense-kernel configuration: block tile, warp roles, pipeline depth.
// Host code (dispatch, workspace sizing) and the kernel both read it; the bytes of a pipeline
// stage also depend on the weight format (dense_format.h: StageLayout).
//
// A block of 8 warps (mma.sync) computes a (kRows x kTileN) output tile, walking k in steps of
// kTileK:
//
//            kTileN columns = kNSlices warp slices of 64
//          +--------+--------+--------+--------+
//   kTileK |  w0 w4 |  w1 w5 |  w2 w6 |  w3 w7 |   (kTileN = 256: 4 slices x 2 k-groups)
//   rows   |        |        |        |        |
//          +--------+--------+--------+--------+
//
// Each warp owns one 64-column slice and every kKGroups-th k16 step of a stage; the kKGroups warps
// of a slice sum their accumulators in shared memory when the block finishes a slice. The Hopper
// tilings (kWgmma) give each 64-column slice a warpgroup of 4 warps instead, which takes every k16
// step: 2 or 4 warpgroups, kThreads = 256 or 512.
#pragma once

namespace marlin::kernels::dense {

template <int kMBlocks_, int kTileK_, int kTileN_, int kStages_, int kBlocksPerSM_,
          int kSwapBatchBlocks_ = 0, bool kWgmma_ = false, int kThreads_ = 256,
          bool kWgmmaOverlap_ = false>
struct Tiling {
  static constexpr int kMBlocks = kMBlocks_;  // 16-row mma blocks of A per tile
  static constexpr int kTileK = kTileK_;
  static constexpr int kTileN = kTileN_;
  static constexpr int kStages = kStages_;    // cp.async pipeline depth (see StageLayout::kStages)
  // Resident blocks per SM the configuration is built for (registers are capped to allow it).
  static constexpr int kBlocksPerSM = kBlocksPerSM_;
  // Weights as the mma A operand and activations as B (C^T = W^T A^T), over kSwapBatchBlocks
  // blocks of 8 batch rows (1: m <= 8, 2: m <= 16): see dense_compute.cuh. Then a warp holds 4
  // accumulator fragments per slice and batch block, else kMBlocks * 8.
  static constexpr int kSwapBatchBlocks = kSwapBatchBlocks_;
  static constexpr bool kSwapOperands = kSwapBatchBlocks_ > 0;
  static_assert(kSwapBatchBlocks_ >= 0 && kSwapBatchBlocks_ <= 2 &&
                    (!kSwapOperands || kMBlocks_ == 1),
                "swapped operands cover 8 or 16 batch rows, one 16-row block of A");
  // The most rows of A one launch can take: the swapped loops cover only their batch blocks;
  // the others walk m in chunks of kRows (0: no limit).
  static constexpr int kMaxM = kSwapBatchBlocks_ * 8;
  // Hopper (sm_90a) warpgroup MMA with swapped operands: each warpgroup computes a 64-column
  // slice x all kRows batch rows (C^T = W^T A^T, N = kRows), its 4 warps dequantizing 16 columns
  // each as the register A operand; A (the activations) is wgmma's B operand straight from the
  // stage (dense_compute.cuh). Then no warps split k, and a warp holds kRows / 8 fragments.
  static constexpr bool kWgmma = kWgmma_;
  static_assert(!kWgmma || ((kTileK_ == 64 || kTileK_ == 128) &&
                            (kMBlocks_ == 8 || kMBlocks_ == 4 || kMBlocks_ == 2) &&
                            kTileN_ == 64 * kThreads_ / 128),
                "the wgmma path is written for 32, 64 or 128 batch rows x 64 or 128 k, a slice per "
                "warpgroup");
  // wgmma: a stage's multiplies stay in flight while the next stage is dequantized (the wait
  // allows one group outstanding), and the loads run one stage less far ahead, so that a buffer is
  // refilled only after the multiplies that read it have retired (StageLayout::kLoadAhead).
  static constexpr bool kWgmmaOverlap = kWgmmaOverlap_;
  static constexpr int kFragments =
      kWgmma ? kMBlocks_ * 2 : kSwapOperands ? 4 * kSwapBatchBlocks_ : kMBlocks_ * 8;

  static constexpr int kThreads = kThreads_;
  static constexpr int kWarps = kThreads / 32;
  static constexpr int kRows = kMBlocks * 16;
  static constexpr int kNSlices = kTileN / 64;
  static constexpr int kKGroups = kWgmma ? 1 : kWarps / kNSlices;
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
//  - larger m (before Hopper; Hopper takes the wgmma tilings below): 32-row chunks of 128 x 256
//    tiles, one block per SM; better than 64-row tiles at m = 32-128 on both models (70B m = 32:
//    1.61x against 1.32x).
//  - m <= 8 also swaps the mma operands (v5, H100 2026-11-27: +3-5% over the same tiling
//    without, in one run). It covers 8 batch rows, so it serves m <= 8 only
//    (dense_dispatch.cpp).
//  - m = 9..16, the largest INT4 layers on cards with much bandwidth per SM (the H200): swapped
//    operands over two 8-row batch blocks, 82 instructions per 16 x 64 tile against the
//    128 x 128 tiling's 120 (SASS, sm_90a, fp16). Its 64 accumulator and partial registers spill
//    at two blocks per SM, so one block with 8 stages. H200, 2026-11-27 (notes v20): 8192 x 57344
//    at m = 16 88.8 us against 93.7, zero points 91.6 against 101.6; the H100 lost 2-7% with it.
using TilingSmallM = Tiling<1, 128, 256, 4, 2, 1>;
using TilingSmallM16 = Tiling<1, 128, 256, 8, 1, 2>;
using TilingMediumM = Tiling<1, 128, 128, 6, 2>;
using TilingLargeM = Tiling<2, 128, 256, 4, 1>;
// Hopper only (compute capability 9.0, sm_90a), m > 16: warpgroup MMA over 32-, 64- or 128-row
// chunks; from m = 33 on, each weight tile is dequantized once per 64 or 128 rows instead of once
// per 32. Measured on an H100 (2026-11-27, same-run ratios over FP16 cuBLASLt, summed per model;
// the notes have the tables):
//  - m = 17..32: 32-row chunks (wgmma N = 32) of 128 columns, 2 warpgroups, two blocks per SM,
//    6 stages, overlapped. One multiply per warpgroup and k16 step instead of 16 mma.sync per
//    warp, and A read by the tensor cores from shared memory (no ldmatrix). m = 32, plain
//    launches: 4 warpgroups on 256 columns (one block per SM) gave 7B 1.59x against 1.47x for
//    the mma.sync tiling, 70B 2.44-2.55x against 2.30-2.34x, every layer faster but Llama-3-8B's
//    4096 x 6144 (10% slower); this one is 0-6% faster again on every layer (another run), the
//    two blocks' barriers interleaving. With 16 rows (N = 16) the 4-warpgroup tiling lost at
//    m = 9..16 to the mma.sync one (7B m = 16: 1.84x against 1.99x) and at m <= 8 to the swapped
//    one (7B m = 1: 2.05x against 2.35x).
//  - m = 33..64: 64-row chunks, 4 warpgroups on 256 columns, multiplies overlapping the next
//    stage. 70B 1.9x at m = 64, against 1.2x for two 32-row mma.sync chunks. More warpgroups won:
//    the same tiling with 2 warpgroups on 128 columns reached 1.44x (64-wide k stages).
//  - m > 64, n < 8192: 128-row chunks of 128 columns, 2 warpgroups, overlapped (247 registers).
//    7B m = 128: 0.81x, against 0.67x with the wide tiling below, whose 256-column slices split
//    the few output tiles of a 4096-wide layer over too many blocks. (Which tiling a layer gets
//    now depends on its size as well: choose_dense_config, dense_dispatch.cpp.)
//  - both: 128-wide k stages (two 64-wide swizzle panels) halve the per-stage cost per weight
//    byte: 70B m = 64 1.9x against 1.74x with 64-wide ones; 4 stages fit INT8 too.
//  - m > 64, n >= 8192: 128-row chunks of 256 columns, 4 warpgroups. 70B m = 128: 1.09x against
//    0.99x for the 2-warpgroup tiling (64-wide k stages). 128-wide k stages again helped (8B
//    m = 128: 0.93x against 0.88x; StageLayout gives INT8 3 stages). It does not overlap the
//    stages: at 128 registers a thread the overlapped version spilled around in-flight multiplies
//    and computed wrong results on the H100. This one spills loader state (~6 L1-resident loads a
//    stage, SASS checked) and is correct on every test.
using TilingHopperSmallM = Tiling<2, 128, 128, 6, 2, 0, true, 256, true>;
using TilingHopperMediumM = Tiling<4, 128, 256, 4, 1, 0, true, 512, true>;
using TilingHopperLargeM = Tiling<8, 128, 128, 4, 1, 0, true, 256, true>;
using TilingHopperWide = Tiling<8, 128, 256, 4, 1, 0, true, 512, false>;

}  // namespace marlin::kernels::dense

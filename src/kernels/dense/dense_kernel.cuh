// The dense MARLIN kernel: C = A * dequant(W) (+ bias, + C), fp16 or bf16 A and C, INT4 (with
// or without zero points) or INT8 W with group scales, fp32 accumulation (MARLIN paper, sec. 3).
//
// Work partition ("striped", paper figure 3). The output is cut into slices of kRows x kTileN
// (m chunk p, n tile nt); each slice needs k_tiles k-steps. All (slice, k-step) pairs are lined up
// with k fastest, and every block takes one contiguous stripe of tiles_per_block of them:
//
//   slice 0: [k0 k1 k2 k3 k4 k5] slice 1: [k0 k1 k2 k3 k4 k5] slice 2: [k0 ...
//            |--- block 0 ---|--- block 1 ---|--- block 2 ---|
//
// so every SM streams the same number of weight bytes whatever the shape. A slice shared by
// several blocks is reduced without any block waiting for another: each block writes its fp32
// partial sum to a slot of the workspace (two slots per block: the slice its stripe starts in,
// and the one it ends in), then counts itself in on the slice's arrival counter. The block that
// arrives last sums all the slots of the slice in block order, writes C and resets the counter.
// The summation order is fixed, so results are bitwise deterministic. (A serial hand-over through
// C, block after block, made slices shared by 8 blocks wait on a chain of 8 lock hand-overs:
// 4096x4096 at m=1 took 18.6 us instead of the 2.5 us its bytes need.) Consecutive slices are the
// m chunks of one n tile, so blocks running at the same time read the same weights (from L2,
// once m exceeds one chunk).
//
// Per block, a kStages-deep cp.async pipeline streams stage after stage of (A tile, W tile, scale
// and zero rows) into shared memory (dense_load.cuh) while the warps dequantize and multiply the
// oldest resident stage (dense_compute.cuh); slices end in dense_epilogue.cuh.
#pragma once

#include <cstdint>

#include "kernels/common/cp_async.cuh"
#include "kernels/common/grid_dependency.cuh"
#include "kernels/dense/dense_compute.cuh"
#include "kernels/dense/dense_epilogue.cuh"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_load.cuh"
#include "kernels/dense/dense_params.h"
#include "kernels/dense/dense_tiling.h"

namespace marlin::kernels::dense {

// The block's stripe after the prologue, whose kLoadAhead stages `loader` has already issued.
template <class T, class F, GroupReload kReload>
__device__ __forceinline__ void run_stripe(const DenseParams& p, std::uint8_t* shared,
                                           StageLoader<T, F>& loader,
                                           const WarpOperands<T, F>& operands, int begin,
                                           int count, int k_tiles, int slice_warp, int k_group) {
  using Layout = StageLayout<T, F>;
  float4* reduce_buffer =
      reinterpret_cast<float4*>(shared + Layout::kStages * Layout::kStageBytes);
  Accumulators<T> acc;
  acc.zero();
  TileCoord compute_tile = tile_coord(begin, k_tiles, p.m_chunks);
  bool warp_in_n = (compute_tile.n_tile * T::kNSlices + slice_warp) * 64 < p.n;
  int compute_stage_index = 0;
  int load_stage_index = Layout::kLoadAhead;
  // The stripe as a sequence of slice segments (k tiles of one output slice), each closed by
  // finish_slice. (A segment loop rather than a per-tile "slice done?" branch: ptxas then keeps the
  // wgmma pipeline's final wait after the segment instead of in every iteration.)
  for (int i = 0; i < count;) {
    const int segment_end = min(count, i + k_tiles - compute_tile.k_tile);
    for (; i < segment_end; ++i) {
      ptx::cp_async_wait_group<Layout::kLoadAhead - 1>();
      if constexpr (T::kWgmma) ptx::fence_proxy_async_shared();  // cp.async data -> wgmma
      // Stage i has landed for every thread, and everyone is done with the stage whose buffer the
      // next load reuses.
      __syncthreads();
      if (i + Layout::kLoadAhead < count) {
        loader.load(p, shared + load_stage_index * Layout::kStageBytes);
        loader.advance(p, k_tiles);
      }
      ptx::cp_async_commit_group();
      if (++load_stage_index == Layout::kStages) load_stage_index = 0;

      // (wgmma: every warpgroup multiplies, also over a slice past n whose results are dropped; a
      // warpgroup-divergent branch around the multiplies would make ptxas serialize them)
      if (T::kWgmma || warp_in_n) {
        compute_stage<T, F, kReload>(shared + compute_stage_index * Layout::kStageBytes,
                                     operands, acc);
      }
      if (++compute_stage_index == Layout::kStages) compute_stage_index = 0;
    }
    if constexpr (T::kWgmma) ptx::wgmma_wait_group<0>();  // the accumulators are final
    finish_slice<T, F>(p, acc, reduce_buffer, compute_tile, k_tiles, slice_warp, k_group,
                       warp_in_n);
    compute_tile.k_tile = 0;
    if (++compute_tile.m_chunk == p.m_chunks) {
      compute_tile.m_chunk = 0;
      ++compute_tile.n_tile;
    }
    warp_in_n = (compute_tile.n_tile * T::kNSlices + slice_warp) * 64 < p.n;
  }
}

template <class T, class F>
__global__ void __launch_bounds__(T::kThreads, T::kBlocksPerSM) dense_kernel(const DenseParams p) {
  using Layout = StageLayout<T, F>;
  extern __shared__ __align__(128) std::uint8_t raw_shared[];
  // wgmma's swizzled A tiles need 1024-byte alignment (StageLayout leaves the slack).
  std::uint8_t* const shared =
      T::kWgmma ? raw_shared + ((1024 - ptx::shared_address(raw_shared) % 1024) % 1024)
                : raw_shared;
  const int k_tiles = p.k / T::kTileK;
  const int total = p.m_chunks * p.n_tiles * k_tiles;
  const int begin = blockIdx.x * p.tiles_per_block;
  const int count = min(p.tiles_per_block, total - begin);
  if (count <= 0) return;

  const int warp = threadIdx.x / 32;
  // Which 64-column slice this warp computes, and which k16 steps of a stage it takes (wgmma:
  // a slice per warpgroup, all steps).
  const int slice_warp = T::kWgmma ? warp / 4 : warp % T::kNSlices;
  const int k_group = T::kWgmma ? 0 : warp / T::kNSlices;
  const WarpOperands<T, F> operands(p, slice_warp, k_group);

  // Prologue: fill kLoadAhead stages, the weights first. Under a programmatic launch (the host
  // chooses it, grid_dependency.cuh) the kernel before us may still be running: the weights are
  // static, but A, C and the workspace may be that kernel's output, so they wait. Every step
  // commits one group (possibly empty) so that wait_group counts stay aligned with stage
  // numbers; the first group also holds the later stages' weights.
  using Loader = StageLoader<T, F>;
  Loader loader;
  loader.seek(p, tile_coord(begin, k_tiles, p.m_chunks));
  Loader activations = loader;
#pragma unroll
  for (int s = 0; s < Layout::kLoadAhead; ++s) {
    if (s < count) {
      loader.load(p, shared + s * Layout::kStageBytes, Loader::kWeights);
      loader.advance(p, k_tiles);
    }
  }
  ptx::wait_for_previous_grid();
  ptx::allow_next_grid_launch();
#pragma unroll
  for (int s = 0; s < Layout::kLoadAhead; ++s) {
    if (s < count) {
      activations.load(p, shared + s * Layout::kStageBytes, Loader::kActivations);
      activations.advance(p, k_tiles);
    }
    ptx::cp_async_commit_group();
  }

  // The stripe, with the stage loop the weights' groups need (kReloadChosenPerLaunch).
  if constexpr (kReloadChosenPerLaunch<T, F>) {
    if (group_spans_stage<T>(p.group_shift)) {
      run_stripe<T, F, GroupReload::kNever>(p, shared, loader, operands, begin, count, k_tiles,
                                            slice_warp, k_group);
    } else {
      run_stripe<T, F, GroupReload::kEveryMinGroup>(p, shared, loader, operands, begin, count,
                                                    k_tiles, slice_warp, k_group);
    }
  } else {
    run_stripe<T, F, GroupReload::kWhereGroupsStart>(p, shared, loader, operands, begin, count,
                                                     k_tiles, slice_warp, k_group);
  }
  ptx::cp_async_wait_group<0>();
}

}  // namespace marlin::kernels::dense

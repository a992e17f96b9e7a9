// The producer side of the dense kernel's pipeline: which 16-byte chunks of A, B, scales and
// zeros each thread copies into a stage, with cp.async.
//
// Instruction count is the budget here. At m = 1 an SM must consume a 512-byte weight tile every
// ~32 cycles to keep up with HBM (4.2 TB/s over 132 SMs), i.e. about 128 warp-instructions per
// tile for everything. Recomputing each chunk's address from (m chunk, n tile, k tile) every
// stage cost ~160 instructions per warp-stage (ncu and SASS, H200, 2026-11-27), more than the
// dequantization itself. So every thread keeps its source pointers and moves them by a constant
// stride from one k tile to the next; only the start of a new slice recomputes them (seek).
#pragma once

#include <cstdint>

#include "kernels/common/cp_async.cuh"
#include "kernels/dense/dense_format.h"
#include "kernels/dense/dense_params.h"
#include "layout/packed_format.h"

namespace marlin::kernels::dense {

// Where a (slice, k-step) pair of the linear work order lives.
struct TileCoord {
  int m_chunk;
  int n_tile;
  int k_tile;
};

__device__ __forceinline__ TileCoord tile_coord(int linear, int k_tiles, int m_chunks) {
  const int slice = linear / k_tiles;
  return {slice % m_chunks, slice / m_chunks, linear % k_tiles};
}

// Byte offset of A's 16-byte chunk (row, chunk) inside a stage (swizzled, see StageLayout).
template <class T>
__device__ __forceinline__ int a_chunk_offset(int row, int chunk) {
  if constexpr (T::kWgmma) {
    // Panels of 64 k (8 chunks) x kRows rows, 128 bytes a row.
    return ((chunk / 8) * T::kRows + row) * 128 + ((chunk % 8) ^ (row % 8)) * 16;
  }
  return (row * T::kAChunksPerRow + (chunk ^ (row % 8))) * 16;
}

template <class T, class F>
class StageLoader {
  using Layout = StageLayout<T, F>;
  // A: kRows x kTileK halves, kAChunksPerRow chunks per row; one pass = 256 consecutive chunks.
  static constexpr int kAChunks = T::kRows * T::kAChunksPerRow;
  static constexpr int kAPasses = (kAChunks + T::kThreads - 1) / T::kThreads;
  static constexpr int kARowsPerPass = T::kThreads / T::kAChunksPerRow;
  static_assert(T::kThreads % T::kAChunksPerRow == 0 && kARowsPerPass % 8 == 0,
                "a pass must cover whole rows, a multiple of the swizzle period");
  // B: kKSteps bands of 16 rows x kTileN codes, each band contiguous in global memory.
  static constexpr int kBChunksPerBand = T::kTileN * F::kBits / 8;
  static constexpr int kBPasses = T::kKSteps * kBChunksPerBand / T::kThreads;
  static constexpr int kBBandsPerPass = T::kThreads / kBChunksPerBand;
  static_assert(T::kThreads % kBChunksPerBand == 0 && kBPasses * T::kThreads ==
                                                          T::kKSteps * kBChunksPerBand,
                "B chunks must split evenly over threads");

 public:
  // Points every copy at `tile` (the first k tile of a stripe, or of a new slice).
  __device__ __forceinline__ void seek(const DenseParams& p, TileCoord tile) {
    tile_ = tile;
    const int tid = threadIdx.x;
    // A
    const int row = tid / T::kAChunksPerRow;
    const int chunk = tid % T::kAChunksPerRow;
    a_valid_ = 0;
#pragma unroll
    for (int pass = 0; pass < kAPasses; ++pass)
      a_valid_ |= (tile.m_chunk * T::kRows + row + pass * kARowsPerPass < p.m) << pass;
    // Rows past m are zero-filled; their source stays at a row that exists.
    const int first_row = (a_valid_ & 1) ? tile.m_chunk * T::kRows + row : 0;
    a_src_ = static_cast<const std::uint16_t*>(p.a) + static_cast<std::int64_t>(first_row) * p.k +
             tile.k_tile * T::kTileK + chunk * 8;
    // B: this thread's chunk of band `band` of the k tile; passes are kBBandsPerPass bands apart.
    const int band = tid / kBChunksPerBand;
    const int offset_in_band = tid % kBChunksPerBand;
    const int band_bytes = p.n * 2 * F::kBits;  // 16 rows x n codes
    b_src_ = reinterpret_cast<const char*>(p.b) +
             (static_cast<std::int64_t>(tile.k_tile) * T::kKSteps + band) * band_bytes +
             static_cast<std::int64_t>(tile.n_tile) * T::kTileN * 2 * F::kBits + offset_in_band * 16;
    // The last n tile may reach past n (n a multiple of 64, not of kTileN): its missing 64-column
    // slices are neither loaded nor computed.
    const int slice = offset_in_band / (32 * F::kChunksPerLane);
    b_enabled_ = (tile.n_tile * T::kNSlices + slice) * 64 < p.n;
    if constexpr (F::kHasZeros) {
      const int column = tile.n_tile * T::kTileN + (tid % (T::kTileN / 8)) * 8;
      scale_in_row_ = layout::scale_offset_in_row(column);
      zero_in_row_ = layout::zero_offset_in_row(column);
    }
  }

  // Which copies a load issues. The weights (codes, scales, zeros) never depend on the kernel
  // before this one in the stream; A does (grid_dependency.cuh).
  enum Part : unsigned { kActivations = 1, kWeights = 2, kAll = 3 };

  // Issues the copies of the current k tile into `stage`; advance() then moves to the next one.
  __device__ __forceinline__ void load(const DenseParams& p, std::uint8_t* stage,
                                       Part part = kAll) {
    const int tid = threadIdx.x;
    if (part & kActivations) {
      const int row = tid / T::kAChunksPerRow;
      const int chunk = tid % T::kAChunksPerRow;
#pragma unroll
      for (int pass = 0; pass < kAPasses; ++pass) {
        if (kAChunks % T::kThreads != 0 && row + pass * kARowsPerPass >= T::kRows) break;
        const bool valid = (a_valid_ >> pass) & 1;
        ptx::cp_async_16_zfill(stage + a_chunk_offset<T>(row + pass * kARowsPerPass, chunk),
                               a_src_ + (valid ? pass * kARowsPerPass * p.k : 0), valid);
      }
    }
    if (part & kWeights) {
      const int band_bytes = p.n * 2 * F::kBits;
      if (b_enabled_) {
#pragma unroll
        for (int pass = 0; pass < kBPasses; ++pass) {
          ptx::cp_async_16(stage + Layout::kBOffset + (tid + pass * T::kThreads) * 16,
                           b_src_ + static_cast<std::int64_t>(pass) * kBBandsPerPass * band_bytes);
        }
      }
      load_group_rows(p, stage);
    }
  }

  __device__ __forceinline__ TileCoord tile() const { return tile_; }

  // The next k tile in the work order; a new slice when this one's k tiles are done.
  __device__ __forceinline__ void advance(const DenseParams& p, int k_tiles) {
    if (++tile_.k_tile < k_tiles) {
      a_src_ += T::kTileK;
      b_src_ += static_cast<std::int64_t>(T::kKSteps) * p.n * 2 * F::kBits;
      return;
    }
    TileCoord next{tile_.m_chunk + 1, tile_.n_tile, 0};
    if (next.m_chunk == p.m_chunks) {
      next.m_chunk = 0;
      ++next.n_tile;
    }
    seek(p, next);
  }

 private:
  // Scale rows (and zero points) of the groups the current k tile touches. Group sizes are
  // powers of two >= 32, or all of k (group_shift 31).
  //
  // Zero points ride in the scale rows (layout/packed_format.h, 7.), one byte a column beside
  // the scales' two, so the zero chunk of columns c .. c + 15 has the same thread as the scale
  // chunk of c .. c + 7: the thread of every even scale chunk copies it, under the scale copy's
  // test. (With zero chunks of their own threads and tests, ptxas predicated both copies instead
  // of branching around them: every thread issued the address arithmetic of both, 16-40
  // instructions a stage, SASS sm_90a.) The column's offsets in the row are kept from seek():
  // computed here every stage, they cost up to 2% at m = 1 (H200, notes v19).
  __device__ __forceinline__ void load_group_rows(const DenseParams& p, std::uint8_t* stage) {
    const int tid = threadIdx.x;
    const int rows = max(1, T::kTileK >> p.group_shift);
    const int first_row = (tile_.k_tile * T::kTileK) >> p.group_shift;
    const int column0 = tile_.n_tile * T::kTileN;
    constexpr int kScaleChunksPerRow = T::kTileN / 8;
    if (tid < rows * kScaleChunksPerRow) {
      const int row = tid / kScaleChunksPerRow;
      const int column = (tid % kScaleChunksPerRow) * 8;
      if (column0 + column < p.n) {
        std::uint8_t* const scale_slot =
            stage + StageLayout<T, F>::kScaleOffset + (row * T::kTileN + column) * 2;
        if constexpr (F::kHasZeros) {
          const std::int64_t row_bytes = layout::device_scale_row_bytes(p.n, true);
          const auto* const group_row =
              static_cast<const std::uint8_t*>(p.scales) + (first_row + row) * row_bytes;
          ptx::cp_async_16(scale_slot, group_row + scale_in_row_);
          if (column % 16 == 0) {
            ptx::cp_async_16(stage + StageLayout<T, F>::kZeroOffset + row * T::kTileN + column,
                             group_row + zero_in_row_);
          }
        } else {
          ptx::cp_async_16(scale_slot, static_cast<const std::uint16_t*>(p.scales) +
                                           static_cast<std::int64_t>(first_row + row) * p.n +
                                           column0 + column);
        }
      }
    }
  }

  TileCoord tile_;
  const std::uint16_t* a_src_;  // the chunk of pass 0; pass p is kARowsPerPass * p rows below
  unsigned a_valid_;            // bit p: the row of pass p is inside A
  const char* b_src_;
  bool b_enabled_;
  int scale_in_row_;  // zero-point formats: byte offsets of this thread's column in a group row
  int zero_in_row_;
};

}  // namespace marlin::kernels::dense

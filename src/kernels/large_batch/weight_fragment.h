// Where a consumer lane of the large-batch kernel finds its weights in a stage: the contract
// between the packed formats (layout/packed_format.h) and the kernel's wgmma A fragments
// (large_batch_kernel.cuh). Host and device use it; tests/layout/test_large_batch_fragment.cpp
// checks it on the CPU.
//
// The kernel multiplies W^T (columns of W as wgmma's M) by A^T. At every k16 step (`band` of the
// stage's four), warp `quarter` of a consumer warpgroup holds, for each of its 64-column tiles,
// the A fragment of W^T's 16 x 16 block `quarter`: lane (g, r) = (lane / 4, lane % 4) holds
//
//   a0: column 16 quarter + g,     k pair 2r        a2: column 16 quarter + g,     k pair 2r + 8
//   a1: column 16 quarter + 8 + g, k pair 2r        a3: column 16 quarter + 8 + g, k pair 2r + 8
//
// (columns within the tile). In the packed tile those two columns are column groups 2 quarter
// and 2 quarter + 1 of the lane's B fragments: word `quarter` of the lane's 16 bytes (INT8: two
// words of one half), and their scales and zero bytes sit side by side.
#pragma once

#include "layout/packed_format.h"

namespace marlin::kernels::large_batch {

// Column (of the block's 256) of the lane's fragment rows: `high` 0 for a0/a2, 1 for a1/a3.
MARLIN_HOST_DEVICE int fragment_column(int tile, int quarter, int lane, int high) {
  return layout::kTileN * tile + 16 * quarter + lane / 4 + 8 * high;
}

// Byte offset, in the stage's codes (bands of four packed tiles, layout/packed_format.h), of the
// lane's codes of band `band`, tile `tile`: INT4 one 32-bit word (column groups 2 quarter and
// 2 quarter + 1), INT8 two consecutive words (the same groups, one each).
template <int kBits>
MARLIN_HOST_DEVICE int fragment_code_offset(int band, int tile, int quarter, int lane) {
  static_assert(kBits == 4 || kBits == 8);
  constexpr int kTileBytes = layout::kInt4TileWords * 4 * kBits / 4;
  const int tile_start = (band * 4 + tile) * kTileBytes;
  if constexpr (kBits == 4) return tile_start + 16 * lane + 4 * quarter;
  return tile_start + (quarter / 2) * (kTileBytes / 2) + 16 * lane + 8 * (quarter % 2);
}

// Byte offset, in a 256-column scale row (fp16 or bf16), of the lane's two scales (a0's column,
// then a1's): one 32-bit load.
MARLIN_HOST_DEVICE int fragment_scale_offset(int tile, int quarter, int lane) {
  return 2 * (layout::kTileN * tile + layout::scale_position_in_tile(16 * quarter + lane / 4));
}

// Byte offset, in the 256 zero points (one byte each) of a block's scale-row piece (the bytes
// after its scales, layout/packed_format.h, 7.), of the lane's two zero points:
// one 16-bit load.
MARLIN_HOST_DEVICE int fragment_zero_offset(int tile, int quarter, int lane) {
  return layout::kTileN * tile + layout::scale_position_in_tile(16 * quarter + lane / 4);
}

}  // namespace marlin::kernels::large_batch

// Which weights a producer lane of the large-batch kernel dequantizes, and where they go: the
// contract between the packed format (layout/packed_format.h), the kernel's producer
// (large_batch_kernel.cuh) and wgmma's view of a stage's weight tile (kernels/common/swizzle.h).
// Host and device use it; tests/layout/test_large_batch_tile.cpp checks it on the CPU.
#pragma once

#include "kernels/common/swizzle.h"
#include "layout/packed_format.h"

namespace marlin::kernels::large_batch {

// Column n (of the block's 256) and the first k (of the stage's 64) of one dequantized k pair.
struct WeightPair {
  unsigned n;
  unsigned k;
};

// Producer warps w and w + 4 (w = 0..3) take 16 x 64 tile w of the stage's 16-row bands 0, 1 and
// 2, 3. A lane holds, after dequantizing its 16 bytes (INT8: 16 of each half tile), the B
// fragments of the tile's 8 column groups j: for column 8j + lane / 4, register 0 the rows 2r,
// 2r + 1 and register 1 the rows 2r + 8, 2r + 9, r = lane % 4 (mma.m16n8k16's B layout, which
// the packed formats follow).
MARLIN_HOST_DEVICE WeightPair dequantized_pair(unsigned warp, unsigned lane, unsigned band,
                                               unsigned j, unsigned reg) {
  return {64 * warp + 8 * j + lane / 4, 16 * band + 2 * (lane % 4) + 8 * reg};
}

// Byte offset of that pair in the weight tile: W^T, row n holding its 64 k (wgmma's B operand,
// K-major, 128-byte swizzle).
MARLIN_HOST_DEVICE unsigned weight_pair_offset(WeightPair pair) {
  return k_major_swizzle128_offset(pair.n, pair.k);
}

}  // namespace marlin::kernels::large_batch

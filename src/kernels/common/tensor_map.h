// Host side of the tensor maps that bulk tensor copies read (kernels/common/bulk_copy.cuh): the
// driver's cuTensorMapEncodeTiled, reached through the runtime (no link against libcuda).
#pragma once

#include <cuda.h>  // CUtensorMap

#include <cstdint>

namespace marlin::kernels {

// A row-major matrix of 16-bit values, `rows` x `columns` (a row `columns * 2` bytes, a multiple
// of 16; `base` 16-byte aligned), read in boxes of `box_rows` x 64 values, each box stored in
// shared memory as the K-major 128-byte-swizzled tile of kernels/common/swizzle.h. Throws
// marlin::Error when the driver refuses.
CUtensorMap k_major_swizzle128_map(const void* base, std::int64_t rows, std::int64_t columns,
                                   int box_rows);

// `rows` rows of `row_bytes` bytes each (a multiple of kChunkBytes; `base` 16-byte aligned), read
// in boxes of `box_rows` rows x `box_chunks` chunks of kChunkBytes, stored in shared memory
// densely, row after row, unswizzled. The packed weights' row bands, several at one copy (a box
// dimension holds at most 256 elements, so the row is cut into chunks of 256 8-byte elements):
//
//   global:  row r   [chunk 0][chunk 1] ... [chunk c][chunk c+1] ...    (row_bytes apart)
//   box at (chunk c, row r), 2 x 2:   shared = [r: c, c+1][r+1: c, c+1]
constexpr int kChunkBytes = 2048;
CUtensorMap row_chunks_map(const void* base, std::int64_t rows, std::int64_t row_bytes,
                           int box_rows, int box_chunks);

}  // namespace marlin::kernels

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

}  // namespace marlin::kernels

// The canonical K-major operand tile with the 128-byte swizzle that a wgmma descriptor reads
// (kernels/common/wgmma.cuh): rows of 64 16-bit values (128 bytes), the 16-byte chunk c of row r
// stored at chunk c ^ (r % 8), so that the 8 rows of an 8-row atom (1024 bytes) put any one chunk
// in 8 different bank groups. Host and device use it (tests check the layout on the CPU).
#pragma once

#include "layout/packed_format.h"  // MARLIN_HOST_DEVICE

namespace marlin::kernels {

// Byte offset of element k (0..63) of row r. (Unsigned, so that callers whose row is a multiple
// of 8 plus a lane-derived residue get the XOR folded to that residue.)
MARLIN_HOST_DEVICE unsigned k_major_swizzle128_offset(unsigned row, unsigned k) {
  return row * 128 + (((k / 8) ^ (row % 8)) * 16) + (k % 8) * 2;
}

}  // namespace marlin::kernels

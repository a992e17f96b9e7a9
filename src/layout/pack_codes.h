// Placing the codes of W into the tiles of packed_format.h (sections 1, 2 and 5), in both
// directions. One slot function serves the packer and the unpacker, so they cannot disagree.
#pragma once

#include <cstdint>
#include <vector>

namespace marlin::layout {

// The k x n codes (row-major, one byte each, `bits` = 4 or 8 per code) as packed words:
// k*n*bits/32 of them. Packed row i takes row perm[i] of `codes` (row i when perm is empty).
std::vector<std::uint32_t> pack_codes(const std::vector<std::uint8_t>& codes, int k, int n,
                                      int bits, const std::vector<std::int32_t>& perm);

// The inverse: packed row i goes back to row perm[i] (row i when perm is empty).
std::vector<std::uint8_t> unpack_codes(const std::vector<std::uint32_t>& words, int k, int n,
                                       int bits, const std::vector<std::int32_t>& perm);

}  // namespace marlin::layout

// Codes <-> packed words, for INT4 and INT8 tiles (pack_codes.h).
#include "layout/pack_codes.h"

#include "layout/packed_format.h"

namespace marlin::layout {

namespace {

// Where code (row, col) of the packed k x n matrix lives: a word of the whole matrix and the bit
// position of the code's lowest bit in it.
struct CodeSlot {
  std::size_t word;
  int shift;
};

CodeSlot code_slot(int row, int col, int n, int bits) {
  const std::int64_t tile = tile_word_offset(row / kTileK, col / kTileN, n, bits);
  if (bits == 8) {
    const ByteSlot slot = int8_slot_in_tile(row % kTileK, col % kTileN);
    return {static_cast<std::size_t>(tile + slot.word), 8 * slot.byte};
  }
  const NibbleSlot slot = int4_slot_in_tile(row % kTileK, col % kTileN);
  return {static_cast<std::size_t>(tile + slot.word), 4 * slot.nibble};
}

std::size_t source_row(const std::vector<std::int32_t>& perm, int packed_row) {
  return static_cast<std::size_t>(perm.empty() ? packed_row : perm[packed_row]);
}

}  // namespace

std::vector<std::uint32_t> pack_codes(const std::vector<std::uint8_t>& codes, int k, int n,
                                      int bits, const std::vector<std::int32_t>& perm) {
  std::vector<std::uint32_t> words(static_cast<std::size_t>(k) * n * bits / 32, 0u);
  for (int row = 0; row < k; ++row) {
    const std::uint8_t* source = &codes[source_row(perm, row) * n];
    for (int col = 0; col < n; ++col) {
      const CodeSlot slot = code_slot(row, col, n, bits);
      words[slot.word] |= static_cast<std::uint32_t>(source[col]) << slot.shift;
    }
  }
  return words;
}

std::vector<std::uint8_t> unpack_codes(const std::vector<std::uint32_t>& words, int k, int n,
                                       int bits, const std::vector<std::int32_t>& perm) {
  const std::uint32_t mask = (1u << bits) - 1u;
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(k) * n);
  for (int row = 0; row < k; ++row) {
    std::uint8_t* target = &codes[source_row(perm, row) * n];
    for (int col = 0; col < n; ++col) {
      const CodeSlot slot = code_slot(row, col, n, bits);
      target[col] = static_cast<std::uint8_t>((words[slot.word] >> slot.shift) & mask);
    }
  }
  return codes;
}

}  // namespace marlin::layout

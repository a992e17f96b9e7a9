// The packed INT8 layout (packed_format.h, section 5) checked position by position against words
// and bytes worked out by hand from the diagram (not from the index functions), then through
// pack() on whole matrices.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "layout/packed_format.h"
#include "marlin/pack.h"

namespace marlin {
namespace {

struct Expected {
  int row, col, word, byte;
};

// Worked out from the diagram: lane t = 4 * (col % 8) + (row % 8) / 2; column group j = col / 8
// lives in half j / 4 (128 words each), word 4t + j % 4 of it; byte = 2 * (row >= 8) + row % 2.
const Expected kHandChecked[] = {
    {0, 0, 0, 0},        // W[2r] of lane 0, column group 0
    {1, 0, 0, 1},        // W[2r+1]: byte 1, same register b0
    {8, 0, 0, 2},        // rows 8..15: register b1, bytes 2 and 3
    {9, 0, 0, 3},
    {0, 8, 1, 0},        // column group 1: the lane's next word
    {0, 24, 3, 0},       // column group 3: last word of lane 0 in half 0
    {0, 32, 128, 0},     // column group 4 starts the second half
    {2, 0, 4, 0},        // rows 2, 3 belong to lane 1 -> words 4..7
    {0, 1, 16, 0},       // column 1 belongs to lane 4 -> words 16..19
    {6, 20, 4 * 19 + 2, 0},          // lane 19 (c=4, r=3), group 2 -> word 78
    {11, 42, 128 + 4 * 9 + 1, 3},    // lane 9 (c=2, r=1), group 5 -> half 1, word 165; b1 odd row
    {15, 63, 255, 3},    // the last value of the tile: lane 31, last word, top byte
};

TEST(PackedFormatInt8, HandCheckedPositionsMatchTheDiagram) {
  for (const auto& e : kHandChecked) {
    const auto slot = layout::int8_slot_in_tile(e.row, e.col);
    EXPECT_EQ(slot.word, e.word) << "row " << e.row << ", col " << e.col;
    EXPECT_EQ(slot.byte, e.byte) << "row " << e.row << ", col " << e.col;
  }
}

TEST(PackedFormatInt8, EveryTileValueHasItsOwnByte) {
  std::set<std::pair<int, int>> seen;
  for (int row = 0; row < layout::kTileK; ++row) {
    for (int col = 0; col < layout::kTileN; ++col) {
      const auto slot = layout::int8_slot_in_tile(row, col);
      ASSERT_GE(slot.word, 0);
      ASSERT_LT(slot.word, layout::kInt8TileWords);
      ASSERT_GE(slot.byte, 0);
      ASSERT_LT(slot.byte, 4);
      EXPECT_TRUE(seen.insert({slot.word, slot.byte}).second)
          << "row " << row << ", col " << col << " collides";
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(layout::kInt8TileWords * 4));
}

// In each 128-word half, lane t's 4 words hold column 8j + c of its own rows (c = t / 4).
TEST(PackedFormatInt8, EachLaneOwnsOneMmaFragmentPerColumnGroup) {
  for (int row = 0; row < layout::kTileK; ++row) {
    for (int col = 0; col < layout::kTileN; ++col) {
      const int word_in_half = layout::int8_slot_in_tile(row, col).word % 128;
      const int lane = word_in_half / layout::kWordsPerLane;
      EXPECT_EQ(lane / 4, col % 8);
      EXPECT_EQ(lane % 4, (row % 8) / 2);
      EXPECT_EQ(layout::int8_slot_in_tile(row, col).word / 128, col / 32);
    }
  }
}

TEST(PackedFormatInt8, TilesAreTwiceTheInt4TilesAndRowMajor) {
  EXPECT_EQ(layout::tile_word_offset(0, 1, 256, 8), 256);
  EXPECT_EQ(layout::tile_word_offset(1, 0, 256, 8), 4 * 256);
  EXPECT_EQ(layout::tile_word_offset(3, 1, 128, 8), 7 * 256);
}

// One non-zero code in a 32 x 128 INT8 matrix (2 x 2 tiles of 256 words) lands in exactly the word
// and byte the diagram names, and nowhere else.
TEST(PackedFormatInt8, PackPutsASingleCodeWhereTheDiagramSays) {
  struct Case {
    int row, col;
    std::size_t word;
    int byte;
  };
  const Case cases[] = {
      {0, 0, 0, 0},
      {9, 0, 0, 3},
      {0, 64, 256, 0},               // tile (0, 1)
      {16, 0, 512, 0},               // tile (1, 0): n/64 = 2 tiles per band
      {17, 70, 768 + 4 * 24, 1},     // tile (1, 1), in-tile (1, 6): lane 24, odd row
      {20, 100, 768 + 128 + 4 * 18 + 0, 0},  // tile (1, 1), in-tile (4, 36): lane 18, group 4
      {31, 127, 768 + 255, 3},       // last value of the matrix
  };
  for (const auto& c : cases) {
    QuantizedMatrix w;
    w.scheme = QuantScheme::kSymmetricInt8;
    w.k = 32;
    w.n = 128;
    w.group_size = 32;
    w.q.assign(32 * 128, 0);
    w.scales.assign(128, 1.0f);
    w.q[static_cast<std::size_t>(c.row) * 128 + c.col] = 0xA5;  // every bit of the byte counts
    const PackedMatrix p = pack(w);
    ASSERT_EQ(p.qweight.size(), 32u * 128u / 4u);
    for (std::size_t i = 0; i < p.qweight.size(); ++i) {
      const std::uint32_t expected = i == c.word ? (0xA5u << (8 * c.byte)) : 0u;
      EXPECT_EQ(p.qweight[i], expected) << "value (" << c.row << ", " << c.col << "), word " << i;
    }
    EXPECT_EQ(unpack(p).q, w.q);
  }
}

}  // namespace
}  // namespace marlin

// The packed INT4 layout (and the scale and zero-point order) checked against the diagram in
// src/layout/packed_format.h, position by position, with the expected words and nibbles worked
// out by hand from the diagram (not from the index functions), then through pack() on whole
// matrices.
#include <gtest/gtest.h>

#include <set>
#include <utility>
#include <vector>

#include "layout/packed_format.h"
#include "marlin/half.h"
#include "marlin/pack.h"

namespace marlin {
namespace {

struct Expected {
  int row, col, word, nibble;
};

// Worked out from the diagram: lane t = 4 * (col % 8) + (row % 8) / 2 owns words 4t..4t+3;
// word 4t + j/2 holds column group j = col / 8; nibble = 2 * (j % 2) + (row >= 8) + 4 * (row odd).
const Expected kHandChecked[] = {
    {0, 0, 0, 0},      // b0.lo of column group 0, lane 0
    {1, 0, 0, 4},      // odd row: upper half of the half2
    {8, 0, 0, 1},      // rows 8..15: register b1
    {9, 0, 0, 5},      // b1.hi
    {0, 8, 0, 2},      // column group 1 shares word 0 with group 0
    {0, 16, 1, 0},     // column group 2: the lane's next word
    {0, 56, 3, 2},     // column group 7: last word of lane 0
    {2, 0, 4, 0},      // rows 2, 3 belong to lane 1 -> words 4..7
    {6, 24, 13, 2},    // lane 3, column group 3 -> word 12 + 1, odd group -> nibble 2
    {0, 1, 16, 0},     // column 1 belongs to lane 4 -> words 16..19
    {11, 42, 4 * (4 * 2 + 1) + 2, 7},  // lane 9 (c=2, r=1), group 5: word 38, b1.hi of odd group
    {15, 63, 127, 7},  // the last value of the tile: lane 31, last word, top nibble
};

TEST(PackedFormat, HandCheckedPositionsMatchTheDiagram) {
  for (const auto& e : kHandChecked) {
    const auto slot = layout::int4_slot_in_tile(e.row, e.col);
    EXPECT_EQ(slot.word, e.word) << "row " << e.row << ", col " << e.col;
    EXPECT_EQ(slot.nibble, e.nibble) << "row " << e.row << ", col " << e.col;
  }
}

TEST(PackedFormat, EveryTileValueHasItsOwnNibble) {
  std::set<std::pair<int, int>> seen;
  for (int row = 0; row < layout::kTileK; ++row) {
    for (int col = 0; col < layout::kTileN; ++col) {
      const auto slot = layout::int4_slot_in_tile(row, col);
      ASSERT_GE(slot.word, 0);
      ASSERT_LT(slot.word, layout::kInt4TileWords);
      ASSERT_GE(slot.nibble, 0);
      ASSERT_LT(slot.nibble, 8);
      EXPECT_TRUE(seen.insert({slot.word, slot.nibble}).second)
          << "row " << row << ", col " << col << " collides at word " << slot.word << " nibble "
          << slot.nibble;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(layout::kInt4TileWords * 8));
}

// Each lane's 4 words hold exactly one column (8j + c for its c) of its own rows.
TEST(PackedFormat, EachLaneOwnsOneMmaFragmentPerColumnGroup) {
  for (int row = 0; row < layout::kTileK; ++row) {
    for (int col = 0; col < layout::kTileN; ++col) {
      const int lane = layout::int4_slot_in_tile(row, col).word / layout::kWordsPerLane;
      EXPECT_EQ(lane / 4, col % 8);
      EXPECT_EQ(lane % 4, (row % 8) / 2);
    }
  }
}

TEST(PackedFormat, TilesAreRowMajorOverTheTileGrid) {
  EXPECT_EQ(layout::tile_word_offset(0, 0, 256, 4), 0);
  EXPECT_EQ(layout::tile_word_offset(0, 1, 256, 4), 128);
  EXPECT_EQ(layout::tile_word_offset(1, 0, 256, 4), 4 * 128);
  EXPECT_EQ(layout::tile_word_offset(1, 2, 256, 4), 6 * 128);
  EXPECT_EQ(layout::tile_word_offset(3, 1, 128, 4), 7 * 128);
}

TEST(PackedFormat, ScalesAreTransposedAsAnEightByEightBlock) {
  // stored position 8c + j <-> column 8j + c
  EXPECT_EQ(layout::scale_position_in_tile(0), 0);
  EXPECT_EQ(layout::scale_position_in_tile(1), 8);
  EXPECT_EQ(layout::scale_position_in_tile(7), 56);
  EXPECT_EQ(layout::scale_position_in_tile(8), 1);
  EXPECT_EQ(layout::scale_position_in_tile(9), 9);
  EXPECT_EQ(layout::scale_position_in_tile(56), 7);
  EXPECT_EQ(layout::scale_position_in_tile(63), 63);
  std::set<int> positions;
  for (int col = 0; col < 64; ++col) positions.insert(layout::scale_position_in_tile(col));
  EXPECT_EQ(positions.size(), 64u);
  EXPECT_EQ(*positions.begin(), 0);
  EXPECT_EQ(*positions.rbegin(), 63);
}

QuantizedMatrix zeros_matrix(int k, int n, int group_size) {
  QuantizedMatrix w;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  w.q.assign(static_cast<std::size_t>(k) * n, 0);
  w.scales.assign(static_cast<std::size_t>(w.groups()) * n, 1.0f);
  return w;
}

// One non-zero code in a 32 x 128 matrix (2 x 2 tiles) lands in exactly the word and nibble the
// diagram names, and nowhere else.
TEST(PackedFormat, PackPutsASingleCodeWhereTheDiagramSays) {
  struct Case {
    int row, col;
    std::size_t word;
    int nibble;
  };
  const Case cases[] = {
      {0, 0, 0, 0},
      {1, 0, 0, 4},
      {0, 64, 128, 0},                   // tile (0, 1)
      {16, 0, 256, 0},                   // tile (1, 0): n/64 = 2 tiles per band
      {17, 70, 3 * 128 + 4 * 24, 4},     // tile (1, 1), in-tile (1, 6): lane 24, odd row
      {31, 127, 3 * 128 + 127, 7},       // last value of the matrix
  };
  for (const auto& c : cases) {
    auto w = zeros_matrix(32, 128, 32);
    w.q[static_cast<std::size_t>(c.row) * 128 + c.col] = 0xA;
    const PackedMatrix p = pack(w);
    ASSERT_EQ(p.qweight.size(), 32u * 128u / 8u);
    for (std::size_t i = 0; i < p.qweight.size(); ++i) {
      const std::uint32_t expected = i == c.word ? (0xAu << (4 * c.nibble)) : 0u;
      EXPECT_EQ(p.qweight[i], expected) << "value (" << c.row << ", " << c.col << "), word " << i;
    }
  }
}

TEST(PackedFormat, PackTransposesScalesWithinEachSixtyFourColumnTile) {
  auto w = zeros_matrix(64, 128, 32);  // 2 groups x 128 columns
  for (std::size_t i = 0; i < w.scales.size(); ++i) w.scales[i] = static_cast<float>(i + 1);
  const PackedMatrix p = pack(w);
  ASSERT_EQ(p.scales.size(), 2u * 128u);
  auto stored = [&](int group, int col) {
    const int tile = col / 64, c = col % 8, j = (col % 64) / 8;
    return p.scales[static_cast<std::size_t>(group) * 128 + tile * 64 + 8 * c + j];
  };
  // fp16 bits of small integers: 1.0 = 0x3c00, 2.0 = 0x4000, 9.0 = 0x4880
  EXPECT_EQ(p.scales[0], 0x3c00);  // column 0 stays first
  EXPECT_EQ(p.scales[1], 0x4880);  // stored position 1 holds column 8 (value 9)
  EXPECT_EQ(p.scales[8], 0x4000);  // stored position 8 holds column 1 (value 2)
  for (int group = 0; group < 2; ++group) {
    for (int col = 0; col < 128; ++col) {
      const float value = w.scales[static_cast<std::size_t>(group) * 128 + col];
      EXPECT_EQ(stored(group, col), float_to_half(value).bits) << group << ", " << col;
    }
  }
}


// Zero points are bytes in the same transposed order as the scales (section 4).
TEST(PackedFormat, PackTransposesZeroPointsLikeScales) {
  auto w = zeros_matrix(64, 128, 32);  // 2 groups x 128 columns
  w.scheme = QuantScheme::kAsymmetricInt4;
  w.zeros.resize(w.scales.size());
  for (std::size_t i = 0; i < w.zeros.size(); ++i) w.zeros[i] = static_cast<std::uint8_t>(i % 13);
  const PackedMatrix p = pack(w);
  ASSERT_EQ(p.zeros.size(), 2u * 128u);
  EXPECT_EQ(p.zeros[0], 0);        // column 0 stays first
  EXPECT_EQ(p.zeros[1], 8);        // stored position 1 holds column 8
  EXPECT_EQ(p.zeros[8], 1);        // stored position 8 holds column 1
  EXPECT_EQ(p.zeros[64 + 1], 72 % 13);   // second tile: position 1 holds column 72
  EXPECT_EQ(p.zeros[128 + 9], 137 % 13);  // group 1, position 9 = 8 * 1 + 1: column 9
  for (int group = 0; group < 2; ++group) {
    for (int col = 0; col < 128; ++col) {
      const int tile = col / 64, c = col % 8, j = (col % 64) / 8;
      EXPECT_EQ(p.zeros[static_cast<std::size_t>(group) * 128 + tile * 64 + 8 * c + j],
                w.zeros[static_cast<std::size_t>(group) * 128 + col])
          << group << ", " << col;
    }
  }
  // The codes of an asymmetric matrix sit exactly where the symmetric ones do.
  auto symmetric = w;
  symmetric.scheme = QuantScheme::kSymmetricInt4;
  symmetric.zeros.clear();
  symmetric.q[5 * 128 + 77] = 0xC;
  w.q[5 * 128 + 77] = 0xC;
  EXPECT_EQ(pack(w).qweight, pack(symmetric).qweight);
}

}  // namespace
}  // namespace marlin

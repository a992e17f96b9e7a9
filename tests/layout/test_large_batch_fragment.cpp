// The large-batch kernel's weight fragments (src/kernels/large_batch/weight_fragment.h) on the
// CPU: the codes, scales and zero points a consumer lane loads are those of the columns and k
// pairs its wgmma A fragment stands for, in both packed formats, and the lanes of a stage's
// consumers cover its 64 x 256 weights exactly once.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "kernels/large_batch/weight_fragment.h"
#include "layout/packed_format.h"

namespace marlin {
namespace {

using kernels::large_batch::fragment_code_offset;
using kernels::large_batch::fragment_column;
using kernels::large_batch::fragment_scale_offset;
using kernels::large_batch::fragment_zero_offset;

// Calls fn(band, tile, quarter, lane, high, second, k) for every weight a consumer lane holds:
// `high` picks a0/a2 (0) or a1/a3 (1), `second` the k pair 2r (0) or 2r + 8 (1), k its first row.
template <class Fn>
void for_each_fragment_value(Fn fn) {
  for (int band = 0; band < 4; ++band) {
    for (int tile = 0; tile < 4; ++tile) {
      for (int quarter = 0; quarter < 4; ++quarter) {
        for (int lane = 0; lane < 32; ++lane) {
          for (int high = 0; high < 2; ++high) {
            for (int second = 0; second < 2; ++second) {
              fn(band, tile, quarter, lane, high, second, 2 * (lane % 4) + 8 * second);
            }
          }
        }
      }
    }
  }
}

TEST(LargeBatchFragment, LanesCoverTheStageOnce) {
  std::set<std::tuple<int, int>> covered;  // (column, k within the stage)
  for_each_fragment_value([&](int band, int tile, int quarter, int lane, int high, int, int k) {
    const int column = fragment_column(tile, quarter, lane, high);
    ASSERT_GE(column, 0);
    ASSERT_LT(column, 256);
    EXPECT_EQ(column / 64, tile);
    for (int odd = 0; odd < 2; ++odd) {
      EXPECT_TRUE(covered.insert({column, 16 * band + k + odd}).second);
    }
  });
  EXPECT_EQ(covered.size(), 256u * 64u);
}

TEST(LargeBatchFragment, Int4CodesAreTheFragmentsNibbles) {
  for_each_fragment_value([](int band, int tile, int quarter, int lane, int high, int second,
                             int k) {
    const int offset = fragment_code_offset<4>(band, tile, quarter, lane);
    EXPECT_EQ(offset % 4, 0);
    EXPECT_EQ(offset / 512, band * 4 + tile);  // the packed tile of (band, tile)
    const int column = fragment_column(tile, quarter, lane, high) % 64;
    for (int odd = 0; odd < 2; ++odd) {
      const layout::NibbleSlot slot = layout::int4_slot_in_tile(k + odd, column);
      EXPECT_EQ(slot.word, offset % 512 / 4);
      // dequant_int4_word: register `second` of column group 2 quarter + high
      EXPECT_EQ(slot.nibble, 2 * high + second + 4 * odd);
    }
  });
}

TEST(LargeBatchFragment, Int8CodesAreTheFragmentsBytes) {
  for_each_fragment_value([](int band, int tile, int quarter, int lane, int high, int second,
                             int k) {
    const int offset = fragment_code_offset<8>(band, tile, quarter, lane);
    EXPECT_EQ(offset % 8, 0);
    EXPECT_EQ(offset / 1024, band * 4 + tile);
    const int column = fragment_column(tile, quarter, lane, high) % 64;
    for (int odd = 0; odd < 2; ++odd) {
      const layout::ByteSlot slot = layout::int8_slot_in_tile(k + odd, column);
      // word `high` of the two: column group 2 quarter + high; dequant_int8_word: register
      // `second` from bytes 2 second, + 1
      EXPECT_EQ(slot.word, offset % 1024 / 4 + high);
      EXPECT_EQ(slot.byte, 2 * second + odd);
    }
  });
}

TEST(LargeBatchFragment, ScalesAndZeroPointsArePairsOfTheFragmentsColumns) {
  for (int tile = 0; tile < 4; ++tile) {
    for (int quarter = 0; quarter < 4; ++quarter) {
      for (int lane = 0; lane < 32; ++lane) {
        const int scale = fragment_scale_offset(tile, quarter, lane);
        const int zero = fragment_zero_offset(tile, quarter, lane);
        EXPECT_EQ(scale % 4, 0);  // one aligned 32-bit load
        EXPECT_EQ(zero % 2, 0);   // one aligned 16-bit load
        for (int high = 0; high < 2; ++high) {
          const int column = fragment_column(tile, quarter, lane, high);
          const int stored = 64 * tile + layout::scale_position_in_tile(column % 64);
          EXPECT_EQ(scale / 2 + high, stored);
          EXPECT_EQ(zero + high, stored);
        }
      }
    }
  }
}

}  // namespace
}  // namespace marlin

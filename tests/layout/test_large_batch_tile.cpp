// The large-batch kernel's weight tile (src/kernels/large_batch/weight_tile.h) on the CPU: its
// producer lanes cover a stage's 64 x 256 weights exactly once, each lane stores the k pairs the
// packed formats (INT4 and INT8) gave it, the tile is wgmma's 128-byte-swizzled K-major layout,
// and no store instruction has a bank conflict. (`warp` below is the 64-column tile, 0..3; of
// the kernel's 8 producer warps, w and w + 4 share tile w, bands 0-1 and 2-3.)
#include <gtest/gtest.h>

#include <set>
#include <utility>

#include "kernels/common/swizzle.h"
#include "kernels/large_batch/weight_tile.h"
#include "layout/packed_format.h"

namespace marlin {
namespace {

using kernels::k_major_swizzle128_offset;
using kernels::large_batch::dequantized_pair;
using kernels::large_batch::weight_pair_offset;
using kernels::large_batch::WeightPair;

TEST(LargeBatchTile, SwizzledOffsetsAreTheCanonicalLayoutAndABijection) {
  std::set<unsigned> offsets;
  for (unsigned row = 0; row < 256; ++row) {
    for (unsigned k = 0; k < 64; ++k) {
      const unsigned offset = k_major_swizzle128_offset(row, k);
      ASSERT_LT(offset, 256u * 128u);
      EXPECT_TRUE(offsets.insert(offset).second) << "row " << row << " k " << k;
      // Read back the way the descriptor defines it: 128-byte rows, chunk c at c ^ (row % 8).
      EXPECT_EQ(offset / 128, row);
      EXPECT_EQ((((offset % 128) / 16) ^ (row % 8)) * 8 + (offset % 16) / 2, k);
    }
  }
  // Element k of a row and its 1024-byte atom: rows 8a .. 8a + 7 share one.
  EXPECT_EQ(k_major_swizzle128_offset(8, 0) - k_major_swizzle128_offset(0, 0), 1024u);
}

TEST(LargeBatchTile, ProducerLanesCoverTheStageOnceWithThePackedFormatsPairs) {
  std::set<std::pair<unsigned, unsigned>> covered;
  for (unsigned warp = 0; warp < 4; ++warp) {
    for (unsigned lane = 0; lane < 32; ++lane) {
      for (unsigned band = 0; band < 4; ++band) {
        for (unsigned j = 0; j < 8; ++j) {
          for (unsigned reg = 0; reg < 2; ++reg) {
            const WeightPair pair = dequantized_pair(warp, lane, band, j, reg);
            ASSERT_LT(pair.n, 256u);
            ASSERT_LT(pair.k, 64u);
            ASSERT_EQ(pair.k % 2, 0u);
            EXPECT_TRUE(covered.insert({pair.n, pair.k}).second);
            // The packed tile (band, warp) puts rows k, k + 1 of column n in the lane's word
            // j / 2, nibbles (j % 2) * 2 + reg (row k) and 4 more (row k + 1): what
            // dequant_int4_word turns into register `reg` of column group j.
            EXPECT_EQ(pair.k / 16, band);
            EXPECT_EQ(pair.n / 64, warp);
            for (unsigned odd = 0; odd < 2; ++odd) {
              const int row = static_cast<int>(pair.k % 16 + odd);
              const int col = static_cast<int>(pair.n % 64);
              const layout::NibbleSlot slot = layout::int4_slot_in_tile(row, col);
              EXPECT_EQ(slot.word, static_cast<int>(4 * lane + j / 2));
              EXPECT_EQ(slot.nibble, static_cast<int>((j % 2) * 2 + reg + 4 * odd));
              // INT8: word j % 4 of the lane's 16 bytes of half j / 4, byte 2 reg + odd: what
              // dequant_int8_word turns into register `reg`.
              const layout::ByteSlot byte = layout::int8_slot_in_tile(row, col);
              EXPECT_EQ(byte.word, static_cast<int>((j / 4) * 128 + 4 * lane + j % 4));
              EXPECT_EQ(byte.byte, static_cast<int>(2 * reg + odd));
            }
          }
        }
      }
    }
  }
  EXPECT_EQ(covered.size(), 256u * 32u);
}

TEST(LargeBatchTile, EveryStoreInstructionHitsThirtyTwoBanks) {
  for (unsigned warp = 0; warp < 4; ++warp) {
    for (unsigned band = 0; band < 4; ++band) {
      for (unsigned j = 0; j < 8; ++j) {
        for (unsigned reg = 0; reg < 2; ++reg) {
          std::set<unsigned> banks;
          for (unsigned lane = 0; lane < 32; ++lane) {
            const unsigned offset = weight_pair_offset(dequantized_pair(warp, lane, band, j, reg));
            EXPECT_EQ(offset % 4, 0u);
            banks.insert(offset / 4 % 32);
          }
          EXPECT_EQ(banks.size(), 32u) << "warp " << warp << " band " << band << " j " << j;
        }
      }
    }
  }
}

}  // namespace
}  // namespace marlin

// Act-order packing (packed_format.h, section 6): perm is the stable sort of the rows by group,
// packed row i holds original row perm[i], groupings that need no sorting cost nothing, and
// g_idx the format cannot hold is refused with the rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "marlin/pack.h"
#include "pack_test_util.h"

namespace marlin {
namespace {

using testing::error_of;
using testing::has_text;
using testing::random_quantized;

const QuantScheme kSchemes[] = {QuantScheme::kSymmetricInt4, QuantScheme::kAsymmetricInt4,
                                QuantScheme::kSymmetricInt8};

QuantizedMatrix random_act_order_matrix(std::mt19937& rng, QuantScheme scheme, int k, int n,
                                        int group_size) {
  QuantizedMatrix w = random_quantized(rng, scheme, k, n, group_size, DType::kFloat16);
  w.g_idx = testing::random_act_order(rng, k, group_size);
  return w;
}

TEST(ActOrder, PermIsTheStableSortOfTheRowsByGroup) {
  std::mt19937 rng(11);
  for (int repeat = 0; repeat < 30; ++repeat) {
    const int group_size = 32 << (repeat % 3);
    const int k = group_size * (2 + repeat % 4);
    const QuantizedMatrix w = random_act_order_matrix(rng, kSchemes[repeat % 3], k, 64,
                                                      group_size);
    const PackedMatrix p = pack(w);
    ASSERT_EQ(p.perm.size(), static_cast<std::size_t>(k));
    std::vector<std::int32_t> sorted = p.perm;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::int32_t> rows(static_cast<std::size_t>(k));
    std::iota(rows.begin(), rows.end(), 0);
    EXPECT_EQ(sorted, rows) << "perm is not a permutation of 0..k-1, case " << repeat;
    for (int i = 0; i < k; ++i) {
      const std::int32_t row = p.perm[static_cast<std::size_t>(i)];
      // Group g occupies packed rows g*group_size .. (g+1)*group_size-1 ...
      ASSERT_EQ(w.g_idx[static_cast<std::size_t>(row)], i / group_size) << "case " << repeat;
      // ... and its rows keep their original (ascending) order.
      if (i % group_size != 0) {
        ASSERT_LT(p.perm[static_cast<std::size_t>(i) - 1], row);
      }
    }
  }
}

TEST(ActOrder, PackedRowIHoldsOriginalRowPermI) {
  std::mt19937 rng(12);
  for (QuantScheme scheme : kSchemes) {
    const int k = 256, n = 128, group_size = 64;
    const QuantizedMatrix w = random_act_order_matrix(rng, scheme, k, n, group_size);
    const PackedMatrix p = pack(w);
    ASSERT_EQ(p.perm.size(), static_cast<std::size_t>(k));
    // Read the tiles without the permutation: the rows in packed order.
    PackedMatrix packed_order = p;
    packed_order.perm.clear();
    const QuantizedMatrix rows = unpack(packed_order);
    for (int i = 0; i < k; ++i) {
      const auto original = static_cast<std::size_t>(p.perm[static_cast<std::size_t>(i)]);
      ASSERT_TRUE(std::equal(rows.q.begin() + static_cast<std::ptrdiff_t>(i) * n,
                             rows.q.begin() + static_cast<std::ptrdiff_t>(i + 1) * n,
                             w.q.begin() + static_cast<std::ptrdiff_t>(original) * n))
          << "packed row " << i << " vs original row " << original;
    }
    // Scale and zero rows are not permuted: group g keeps row g.
    EXPECT_EQ(rows.scales, w.scales);
    EXPECT_EQ(rows.zeros, w.zeros);
    // Packing the sorted matrix without g_idx gives the same tiles.
    QuantizedMatrix sorted = w;
    sorted.g_idx.clear();
    for (int i = 0; i < k; ++i) {
      const auto original = static_cast<std::size_t>(p.perm[static_cast<std::size_t>(i)]);
      std::copy_n(w.q.begin() + static_cast<std::ptrdiff_t>(original) * n, n,
                  sorted.q.begin() + static_cast<std::ptrdiff_t>(i) * n);
    }
    EXPECT_EQ(pack(sorted).qweight, p.qweight);
  }
}

TEST(ActOrder, GroupingsThatNeedNoSortingPackWithAnEmptyPerm) {
  std::mt19937 rng(13);
  for (QuantScheme scheme : kSchemes) {
    QuantizedMatrix w = random_quantized(rng, scheme, 256, 64, 64, DType::kBFloat16);
    const PackedMatrix plain = pack(w);
    w.g_idx.resize(256);
    for (int row = 0; row < 256; ++row) w.g_idx[static_cast<std::size_t>(row)] = row / 64;
    const PackedMatrix identity = pack(w);
    EXPECT_TRUE(identity.perm.empty());
    EXPECT_EQ(identity.qweight, plain.qweight);
    EXPECT_TRUE(unpack(identity).g_idx.empty());

    QuantizedMatrix per_channel = random_quantized(rng, scheme, 96, 64, kPerChannel,
                                                   DType::kFloat16);
    const PackedMatrix per_channel_plain = pack(per_channel);
    per_channel.g_idx.assign(96, 0);
    const PackedMatrix per_channel_g_idx = pack(per_channel);
    EXPECT_TRUE(per_channel_g_idx.perm.empty());
    EXPECT_EQ(per_channel_g_idx.qweight, per_channel_plain.qweight);
    EXPECT_EQ(per_channel_g_idx.group_size, kPerChannel);
  }
}

TEST(ActOrder, RefusesGroupsThatAreNotExactlyGroupSizeRows) {
  std::mt19937 rng(14);
  // Two groups of 128 scale rows, but g_idx gives group 0 only 100 rows.
  QuantizedMatrix uneven = random_quantized(rng, QuantScheme::kSymmetricInt4, 256, 64, 128,
                                            DType::kFloat16);
  uneven.g_idx.resize(256);
  std::fill(uneven.g_idx.begin(), uneven.g_idx.begin() + 100, 0);
  std::fill(uneven.g_idx.begin() + 100, uneven.g_idx.end(), 1);
  std::shuffle(uneven.g_idx.begin(), uneven.g_idx.end(), rng);
  const std::string rule = "; the packed format needs exactly group_size=128 per group";
  EXPECT_TRUE(has_text(error_of([&] { pack(uneven); }, ErrorCode::kUnsupported),
                       "act-order: group 0 has 100 rows" + rule));
  EXPECT_TRUE(has_text(error_of([&] { check_packable(uneven); }, ErrorCode::kUnsupported),
                       "act-order: group 0 has 100 rows" + rule));

  // k=96 with group_size 64: two groups of 48 (GPTQ's last, short group).
  QuantizedMatrix short_groups = random_quantized(rng, QuantScheme::kSymmetricInt8, 128, 64, 64,
                                                  DType::kFloat16);
  short_groups.k = 96;
  short_groups.q.resize(96 * 64);
  short_groups.g_idx.resize(96);
  for (int row = 0; row < 96; ++row) short_groups.g_idx[static_cast<std::size_t>(row)] = row % 2;
  EXPECT_TRUE(has_text(error_of([&] { pack(short_groups); }, ErrorCode::kUnsupported),
                       "act-order: group 0 has 48 rows; the packed format needs exactly "
                       "group_size=64 per group"));

  // Five scale rows, but g_idx never names group 4.
  QuantizedMatrix empty_group = random_quantized(rng, QuantScheme::kAsymmetricInt4, 160, 64, 32,
                                                 DType::kFloat16);
  empty_group.k = 128;
  empty_group.q.resize(128 * 64);
  empty_group.g_idx = testing::random_act_order(rng, 128, 32);
  EXPECT_TRUE(has_text(error_of([&] { pack(empty_group); }, ErrorCode::kUnsupported),
                       "act-order: group 4 has 0 rows"));
}

TEST(ActOrder, RefusesInconsistentGIdx) {
  std::mt19937 rng(15);
  // Per-channel means one group; g_idx naming two contradicts it.
  QuantizedMatrix per_channel = random_quantized(rng, QuantScheme::kSymmetricInt4, 64, 64,
                                                 kPerChannel, DType::kFloat16);
  per_channel.scales.resize(128, 1.0f);
  per_channel.g_idx.assign(64, 1);
  std::fill(per_channel.g_idx.begin(), per_channel.g_idx.begin() + 32, 0);
  EXPECT_TRUE(has_text(error_of([&] { pack(per_channel); }),
                       "act-order: per-channel weights (group_size=-1) have one group, but g_idx "
                       "and scales give 2"));
  QuantizedMatrix short_g_idx = random_act_order_matrix(rng, QuantScheme::kSymmetricInt4, 64,
                                                        64, 32);
  short_g_idx.g_idx.pop_back();
  EXPECT_TRUE(has_text(error_of([&] { pack(short_g_idx); }),
                       "g_idx has 63 entries; expected k=64"));
  QuantizedMatrix outside = random_act_order_matrix(rng, QuantScheme::kSymmetricInt4, 64, 64, 32);
  outside.g_idx[3] = 2;
  EXPECT_TRUE(has_text(error_of([&] { pack(outside); }), "g_idx[3]=2 is outside [0, 2)"));
}

}  // namespace
}  // namespace marlin

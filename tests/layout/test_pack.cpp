// pack() and unpack() are exact inverses for every scheme, scale type, group size and act-order,
// over many random shapes, and refuse what the packed format cannot hold with a message naming
// the rule.
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

const char* scheme_label(QuantScheme scheme) {
  switch (scheme) {
    case QuantScheme::kSymmetricInt4: return "sym-int4";
    case QuantScheme::kAsymmetricInt4: return "asym-int4";
    case QuantScheme::kSymmetricInt8: return "sym-int8";
  }
  return "?";
}

TEST(Pack, RoundTripIsBitExactForEverySchemeScaleTypeGroupSizeAndActOrder) {
  std::mt19937 rng(20261127);
  const QuantScheme schemes[] = {QuantScheme::kSymmetricInt4, QuantScheme::kAsymmetricInt4,
                                 QuantScheme::kSymmetricInt8};
  const DType dtypes[] = {DType::kFloat16, DType::kBFloat16};
  const int group_sizes[] = {32, 64, 128, kPerChannel};
  int cases = 0;
  int permuted = 0;
  for (int repeat = 0; repeat < 20; ++repeat) {
    for (QuantScheme scheme : schemes) {
      for (DType dtype : dtypes) {
        for (int group_size : group_sizes) {
          for (bool act_order : {false, true}) {
            // k a multiple of 16 (and of the group size), n a multiple of 64; mostly small.
            const int unit = group_size == kPerChannel ? 16 : group_size;
            const bool larger = repeat % 5 == 0;
            std::uniform_int_distribution<int> k_units(1, (larger ? 512 : 256) / unit);
            std::uniform_int_distribution<int> n_tiles(1, larger ? 4 : 2);
            const int k = unit * k_units(rng);
            const int n = 64 * n_tiles(rng);
            QuantizedMatrix w = random_quantized(rng, scheme, k, n, group_size, dtype);
            if (act_order) {
              w.g_idx = group_size == kPerChannel
                            ? std::vector<std::int32_t>(static_cast<std::size_t>(k), 0)
                            : testing::random_act_order(rng, k, group_size);
            }
            const std::string where = std::string(scheme_label(scheme)) + " k=" +
                                      std::to_string(k) + " n=" + std::to_string(n) +
                                      " group=" + std::to_string(group_size) +
                                      (dtype == DType::kFloat16 ? " fp16" : " bf16") +
                                      (act_order ? " act-order" : "");
            const PackedMatrix p = pack(w);
            ASSERT_EQ(p.qweight.size(),
                      static_cast<std::size_t>(k) * n * scheme_bits(scheme) / 32) << where;
            ASSERT_EQ(p.scales.size(), w.scales.size()) << where;
            ASSERT_EQ(p.zeros.size(), w.zeros.size()) << where;
            // One group (or per-channel) needs no permutation; scattered groups do.
            const bool expect_perm = act_order && group_size != kPerChannel && k > group_size;
            ASSERT_EQ(p.perm.size(), expect_perm ? static_cast<std::size_t>(k) : 0u) << where;
            permuted += expect_perm ? 1 : 0;

            const QuantizedMatrix back = unpack(p);
            QuantizedMatrix expected = w;
            if (!expect_perm) expected.g_idx.clear();  // all rows of a group already together
            testing::expect_same(expected, back, where);
            EXPECT_TRUE(dequantize(back) == dequantize(w)) << where;
            const PackedMatrix again = pack(back);
            EXPECT_TRUE(again.qweight == p.qweight && again.scales == p.scales &&
                        again.zeros == p.zeros && again.perm == p.perm)
                << where;
            ++cases;
            if (HasFailure()) return;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 20 * 3 * 2 * 4 * 2);
  EXPECT_GT(permuted, 150);  // the act-order path was exercised, not skipped
}

// The perm pack() writes for g_idx, computed here independently: rows stably sorted by group.
std::vector<std::int32_t> sorted_by_group(const std::vector<std::int32_t>& g_idx) {
  std::vector<std::int32_t> perm(g_idx.size());
  std::iota(perm.begin(), perm.end(), 0);
  std::stable_sort(perm.begin(), perm.end(),
                   [&](std::int32_t a, std::int32_t b) { return g_idx[a] < g_idx[b]; });
  return perm;
}

// Words, zero bytes and permutations drawn at random are valid packed data too: unpack then pack
// gives them back.
TEST(Pack, RandomPackedDataSurvivesUnpackAndPack) {
  std::mt19937 rng(7);
  for (int repeat = 0; repeat < 300; ++repeat) {
    PackedMatrix p;
    p.scheme = static_cast<QuantScheme>(repeat % 3);
    p.k = 32 * (1 + repeat % 8);
    p.n = 64 * (1 + repeat % 3);
    p.group_size = repeat % 4 == 3 ? kPerChannel : 16;
    p.scale_dtype = repeat % 5 < 2 ? DType::kFloat16 : DType::kBFloat16;
    p.qweight.resize(static_cast<std::size_t>(p.k) * p.n * scheme_bits(p.scheme) / 32);
    for (auto& word : p.qweight) word = static_cast<std::uint32_t>(rng());
    const int groups = p.group_size == kPerChannel ? 1 : p.k / p.group_size;
    p.scales.resize(static_cast<std::size_t>(groups) * p.n);
    for (auto& s : p.scales) {
      const float value = testing::random_scale(rng, p.scale_dtype);
      s = p.scale_dtype == DType::kFloat16 ? float_to_half(value).bits : float_to_bf16(value).bits;
    }
    if (scheme_has_zeros(p.scheme)) {
      p.zeros.resize(p.scales.size());
      for (auto& z : p.zeros) z = static_cast<std::uint8_t>(rng() % 16);
    }
    if (p.group_size != kPerChannel && repeat % 2 == 0) {
      p.perm = sorted_by_group(testing::random_act_order(rng, p.k, p.group_size));
    }
    const std::string where = "case " + std::to_string(repeat) + " " + scheme_label(p.scheme);
    const QuantizedMatrix w = unpack(p);
    EXPECT_EQ(w.g_idx.empty(), p.perm.empty()) << where;
    const PackedMatrix again = pack(w);
    ASSERT_TRUE(again.qweight == p.qweight) << where;
    ASSERT_TRUE(again.scales == p.scales) << where;
    ASSERT_TRUE(again.zeros == p.zeros) << where;
    ASSERT_TRUE(again.perm == p.perm) << where;
  }
}

TEST(Pack, RefusesWhatTheFormatCannotHold) {
  std::mt19937 rng(1);
  const auto int4 = QuantScheme::kSymmetricInt4;
  const auto odd_k = random_quantized(rng, int4, 24, 64, kPerChannel, DType::kFloat16);
  EXPECT_TRUE(has_text(error_of([&] { pack(odd_k); }), "pack: k=24 must be a multiple of 16"));
  const auto odd_n = random_quantized(rng, QuantScheme::kSymmetricInt8, 32, 96, 32,
                                      DType::kFloat16);
  EXPECT_TRUE(has_text(error_of([&] { pack(odd_n); }), "pack: n=96 must be a multiple of 64"));
  auto bad_group = random_quantized(rng, int4, 64, 64, 32, DType::kFloat16);
  bad_group.group_size = 48;
  EXPECT_TRUE(has_text(error_of([&] { pack(bad_group); }), "multiple of group_size=48"));
  auto inexact = random_quantized(rng, int4, 32, 64, 32, DType::kBFloat16);
  inexact.scales[5] = 0.1f;  // not a bf16 value
  EXPECT_TRUE(has_text(error_of([&] { pack(inexact); }),
                       "pack: scales[5]=0.100000 is not exactly representable in bf16"));
  auto bad_code = random_quantized(rng, int4, 32, 64, 32, DType::kFloat16);
  bad_code.q[3] = 16;
  EXPECT_TRUE(has_text(error_of([&] { pack(bad_code); }), "code q[3]=16 exceeds 15"));
  auto bad_zero = random_quantized(rng, QuantScheme::kAsymmetricInt4, 32, 64, 32,
                                   DType::kFloat16);
  bad_zero.zeros[40] = 16;
  EXPECT_TRUE(has_text(error_of([&] { pack(bad_zero); }), "zeros[40]=16 exceeds 15"));
  auto missing_zeros = bad_zero;
  missing_zeros.zeros.clear();
  EXPECT_TRUE(has_text(error_of([&] { pack(missing_zeros); }),
                       "zeros has 0 values; expected groups*n=64"));
  auto stray_zeros = random_quantized(rng, QuantScheme::kSymmetricInt8, 32, 64, 32,
                                      DType::kFloat16);
  stray_zeros.zeros.assign(stray_zeros.scales.size(), 128);
  EXPECT_TRUE(has_text(error_of([&] { pack(stray_zeros); }), "zeros given for a symmetric"));
}

TEST(Unpack, RefusesInconsistentPackedMatrices) {
  std::mt19937 rng(2);
  const PackedMatrix good = pack(
      random_quantized(rng, QuantScheme::kSymmetricInt4, 64, 128, 32, DType::kFloat16));
  auto short_words = good;
  short_words.qweight.pop_back();
  EXPECT_TRUE(has_text(error_of([&] { unpack(short_words); }),
                       "qweight has 1023 words; expected k*n/8=1024 (4-bit codes)"));
  auto int8 = good;
  int8.scheme = QuantScheme::kSymmetricInt8;
  EXPECT_TRUE(has_text(error_of([&] { unpack(int8); }),
                       "qweight has 1024 words; expected k*n/4=2048 (8-bit codes)"));
  auto unknown = good;
  unknown.scheme = static_cast<QuantScheme>(7);
  EXPECT_TRUE(has_text(error_of([&] { unpack(unknown); }), "scheme=7 is not a QuantScheme"));
  auto short_scales = good;
  short_scales.scales.resize(128);
  EXPECT_TRUE(has_text(error_of([&] { unpack(short_scales); }), "expected 2 x 128"));
  auto odd_k = good;
  odd_k.k = 40;
  EXPECT_TRUE(has_text(error_of([&] { unpack(odd_k); }), "k=40, n=128 must be positive "
                                                         "multiples of 16 and 64"));
  auto zero_group = good;
  zero_group.group_size = 0;
  EXPECT_TRUE(has_text(error_of([&] { unpack(zero_group); }), "multiple of group_size=0"));
  auto uneven_group = good;
  uneven_group.group_size = 48;
  EXPECT_TRUE(has_text(error_of([&] { unpack(uneven_group); }), "multiple of group_size=48"));
  auto fp32_scales = good;
  fp32_scales.scale_dtype = DType::kFloat32;
  EXPECT_TRUE(has_text(error_of([&] { unpack(fp32_scales); }), "fp16 or bf16"));

  auto no_zeros = good;
  no_zeros.scheme = QuantScheme::kAsymmetricInt4;
  EXPECT_TRUE(has_text(error_of([&] { unpack(no_zeros); }),
                       "zeros has 0 values; expected 2 x 128 (asymmetric INT4)"));
  auto stray_zeros = good;
  stray_zeros.zeros.assign(256, 8);
  EXPECT_TRUE(has_text(error_of([&] { unpack(stray_zeros); }),
                       "zeros has 256 values; a symmetric scheme stores none"));
  auto big_zero = no_zeros;
  big_zero.zeros.assign(256, 3);
  big_zero.zeros[1] = 200;  // stored position 1 = column 8 of group 0
  EXPECT_TRUE(has_text(error_of([&] { unpack(big_zero); }), "zeros[8]=200 exceeds 15"));
}

TEST(Unpack, RefusesAPermThatIsNotAPermutationOfTheRows) {
  std::mt19937 rng(3);
  const PackedMatrix good = pack(
      random_quantized(rng, QuantScheme::kSymmetricInt4, 64, 64, 32, DType::kFloat16));
  std::vector<std::int32_t> identity(64);
  std::iota(identity.begin(), identity.end(), 0);
  auto short_perm = good;
  short_perm.perm.assign(identity.begin(), identity.end() - 1);
  const std::string rule = "must hold each row 0..k-1 exactly once (k=64)";
  EXPECT_TRUE(has_text(error_of([&] { unpack(short_perm); }), "perm (63 entries) " + rule));
  auto repeated = good;
  repeated.perm = identity;
  repeated.perm[5] = 4;
  EXPECT_TRUE(has_text(error_of([&] { unpack(repeated); }), "perm (64 entries) " + rule));
  auto outside = good;
  outside.perm = identity;
  outside.perm[63] = 64;
  EXPECT_TRUE(has_text(error_of([&] { unpack(outside); }), rule));
  auto negative = good;
  negative.perm = identity;
  negative.perm[0] = -1;
  EXPECT_TRUE(has_text(error_of([&] { unpack(negative); }), rule));
  auto per_channel = good;
  per_channel.group_size = kPerChannel;
  per_channel.scales.resize(64);
  per_channel.perm = identity;
  EXPECT_TRUE(has_text(error_of([&] { unpack(per_channel); }),
                       "perm given for per-channel weights (group_size=-1)"));
  // The same perm with groups is accepted: it is the identity grouping.
  auto grouped = good;
  grouped.perm = identity;
  EXPECT_EQ(unpack(grouped).g_idx[40], 1);
}

}  // namespace
}  // namespace marlin

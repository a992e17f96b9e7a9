// pack() and unpack() are exact inverses over many random shapes, group sizes and scale types, and
// refuse what the packed format cannot hold with a message naming the rule.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "marlin/half.h"
#include "marlin/pack.h"
#include "marlin/status.h"

namespace marlin {
namespace {

// A random positive finite scale, exactly representable in `dtype` (drawn as a bit pattern).
float random_scale(std::mt19937& rng, DType dtype) {
  if (dtype == DType::kBFloat16) {
    std::uniform_int_distribution<int> bits(0x0001, 0x7f7f);  // subnormals .. largest finite
    return bf16_to_float(BFloat16{static_cast<std::uint16_t>(bits(rng))});
  }
  std::uniform_int_distribution<int> bits(0x0001, 0x7bff);
  return half_to_float(Half{static_cast<std::uint16_t>(bits(rng))});
}

QuantizedMatrix random_quantized(std::mt19937& rng, int k, int n, int group_size, DType dtype) {
  QuantizedMatrix w;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  w.scale_dtype = dtype;
  std::uniform_int_distribution<int> code(0, 15);
  w.q.resize(static_cast<std::size_t>(k) * n);
  for (auto& q : w.q) q = static_cast<std::uint8_t>(code(rng));
  w.scales.resize(static_cast<std::size_t>(w.groups()) * n);
  for (auto& s : w.scales) s = random_scale(rng, dtype);
  return w;
}

void expect_same(const QuantizedMatrix& a, const QuantizedMatrix& b, const std::string& where) {
  EXPECT_EQ(a.scheme, b.scheme) << where;
  EXPECT_EQ(a.k, b.k) << where;
  EXPECT_EQ(a.n, b.n) << where;
  EXPECT_EQ(a.group_size, b.group_size) << where;
  EXPECT_EQ(a.scale_dtype, b.scale_dtype) << where;
  EXPECT_TRUE(a.q == b.q) << where;
  ASSERT_EQ(a.scales.size(), b.scales.size()) << where;
  for (std::size_t i = 0; i < a.scales.size(); ++i) {
    // Bit-exact: compare the representations, not values (no tolerance anywhere).
    ASSERT_EQ(float_to_half(a.scales[i]).bits == float_to_half(b.scales[i]).bits &&
                  float_to_bf16(a.scales[i]).bits == float_to_bf16(b.scales[i]).bits &&
                  a.scales[i] == b.scales[i],
              true)
        << where << ": scale " << i << " " << a.scales[i] << " vs " << b.scales[i];
  }
}

TEST(Pack, RoundTripIsBitExactOverRandomShapes) {
  std::mt19937 rng(20261127);
  const int group_sizes[] = {32, 64, 128, kPerChannel};
  const DType dtypes[] = {DType::kFloat16, DType::kBFloat16};
  int cases = 0;
  for (int repeat = 0; repeat < 100; ++repeat) {
    for (int group_size : group_sizes) {
      for (DType dtype : dtypes) {
        // k a multiple of 16 (and of the group size), n a multiple of 64; mostly small shapes.
        const int unit = group_size == kPerChannel ? 16 : group_size;
        const bool larger = repeat % 10 == 0;
        std::uniform_int_distribution<int> k_units(1, std::max(1, (larger ? 256 : 128) / unit));
        std::uniform_int_distribution<int> n_tiles(1, larger ? 4 : 2);
        const int k = unit * k_units(rng);
        const int n = 64 * n_tiles(rng);
        const auto w = random_quantized(rng, k, n, group_size, dtype);
        const std::string where = "k=" + std::to_string(k) + " n=" + std::to_string(n) +
                                  " group=" + std::to_string(group_size) + " " +
                                  (dtype == DType::kFloat16 ? "fp16" : "bf16");
        const PackedMatrix p = pack(w);
        ASSERT_EQ(p.qweight.size(), static_cast<std::size_t>(k) * n / 8) << where;
        ASSERT_EQ(p.scales.size(), w.scales.size()) << where;
        const QuantizedMatrix back = unpack(p);
        expect_same(w, back, where);
        const PackedMatrix again = pack(back);
        EXPECT_TRUE(again.qweight == p.qweight && again.scales == p.scales) << where;
        ++cases;
        if (HasFailure()) return;
      }
    }
  }
  EXPECT_EQ(cases, 800);
}

// Words drawn at random are valid packed data too: unpack then pack gives them back.
TEST(Pack, RandomPackedWordsSurviveUnpackAndPack) {
  std::mt19937 rng(7);
  for (int repeat = 0; repeat < 300; ++repeat) {
    PackedMatrix p;
    p.k = 16 * (1 + repeat % 8);
    p.n = 64 * (1 + repeat % 3);
    p.group_size = repeat % 2 ? kPerChannel : 16;
    p.scale_dtype = repeat % 4 < 2 ? DType::kFloat16 : DType::kBFloat16;
    p.qweight.resize(static_cast<std::size_t>(p.k) * p.n / 8);
    for (auto& word : p.qweight) word = static_cast<std::uint32_t>(rng());
    const int groups = p.group_size == kPerChannel ? 1 : p.k / p.group_size;
    p.scales.resize(static_cast<std::size_t>(groups) * p.n);
    for (auto& s : p.scales) {
      s = p.scale_dtype == DType::kFloat16 ? float_to_half(random_scale(rng, p.scale_dtype)).bits
                                           : float_to_bf16(random_scale(rng, p.scale_dtype)).bits;
    }
    const PackedMatrix again = pack(unpack(p));
    ASSERT_TRUE(again.qweight == p.qweight) << "case " << repeat;
    ASSERT_TRUE(again.scales == p.scales) << "case " << repeat;
  }
}

// The message of the marlin::Error `call` throws; fails the test if it throws nothing.
template <typename Call>
std::string error_of(Call call, ErrorCode expected_code = ErrorCode::kInvalidArgument) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected_code) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected marlin::Error, got " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected marlin::Error, nothing was thrown";
  return "";
}

TEST(Pack, RefusesShapesTheFormatCannotHold) {
  std::mt19937 rng(1);
  const auto odd_k = random_quantized(rng, 24, 64, kPerChannel, DType::kFloat16);
  EXPECT_NE(error_of([&] { pack(odd_k); }).find("k=24 must be a multiple of 16"),
            std::string::npos);
  const auto odd_n = random_quantized(rng, 32, 96, 32, DType::kFloat16);
  EXPECT_NE(error_of([&] { pack(odd_n); }).find("n=96 must be a multiple of 64"),
            std::string::npos);
  auto bad_group = random_quantized(rng, 64, 64, 32, DType::kFloat16);
  bad_group.group_size = 48;
  EXPECT_NE(error_of([&] { pack(bad_group); }).find("multiple of group_size=48"),
            std::string::npos);
  auto asymmetric = random_quantized(rng, 32, 64, 32, DType::kFloat16);
  asymmetric.scheme = QuantScheme::kAsymmetricInt4;
  asymmetric.zeros.assign(asymmetric.scales.size(), 8);
  EXPECT_NE(error_of([&] { pack(asymmetric); }, ErrorCode::kUnsupported).find("symmetric INT4"),
            std::string::npos);
  auto act_order = random_quantized(rng, 32, 64, 16, DType::kFloat16);
  act_order.g_idx.assign(32, 0);
  EXPECT_NE(error_of([&] { pack(act_order); }).find("g_idx"), std::string::npos);
  auto inexact = random_quantized(rng, 32, 64, 32, DType::kFloat16);
  inexact.scales[5] = 0.1f;  // not an fp16 value
  EXPECT_NE(error_of([&] { pack(inexact); }).find("not exactly representable in fp16"),
            std::string::npos);
  auto bad_code = random_quantized(rng, 32, 64, 32, DType::kFloat16);
  bad_code.q[3] = 16;
  EXPECT_NE(error_of([&] { pack(bad_code); }).find("exceeds 15"), std::string::npos);
}

TEST(Unpack, RefusesInconsistentPackedMatrices) {
  std::mt19937 rng(2);
  const PackedMatrix good = pack(random_quantized(rng, 64, 128, 32, DType::kFloat16));
  auto short_words = good;
  short_words.qweight.pop_back();
  EXPECT_NE(error_of([&] { unpack(short_words); }).find("expected k*n/8"), std::string::npos);
  auto short_scales = good;
  short_scales.scales.resize(128);
  EXPECT_NE(error_of([&] { unpack(short_scales); }).find("expected 2 x 128"), std::string::npos);
  auto odd_k = good;
  odd_k.k = 40;
  EXPECT_NE(error_of([&] { unpack(odd_k); }).find("multiples of 16 and 64"), std::string::npos);
  auto zero_group = good;
  zero_group.group_size = 0;
  EXPECT_NE(error_of([&] { unpack(zero_group); }).find("multiple of group_size=0"),
            std::string::npos);
  auto uneven_group = good;
  uneven_group.group_size = 48;
  EXPECT_NE(error_of([&] { unpack(uneven_group); }).find("multiple of group_size=48"),
            std::string::npos);
  auto fp32_scales = good;
  fp32_scales.scale_dtype = DType::kFloat32;
  EXPECT_NE(error_of([&] { unpack(fp32_scales); }).find("fp16 or bf16"), std::string::npos);
  auto int8 = good;
  int8.scheme = QuantScheme::kSymmetricInt8;
  EXPECT_NE(error_of([&] { unpack(int8); }).find("only symmetric INT4"), std::string::npos);
}

}  // namespace
}  // namespace marlin

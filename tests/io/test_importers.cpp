// Importers, tested on tensors packed here from each format's published description, then
// compared code by code and through marlin::dequantize.
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "io_test_util.h"
#include "marlin/half.h"
#include "marlin/io/importers.h"
#include "tensor_builder.h"

namespace marlin::io {
namespace {

using testing::expect_error;
using testing::Lcg;
using testing::TensorStore;

// A plain quantized matrix with random codes, zeros and fp16-exact scales.
struct Plain {
  int k, n, groups;
  std::vector<int> q;       // k x n
  std::vector<int> zeros;   // groups x n
  std::vector<float> scales;  // groups x n
  std::vector<int> group_of_row;
};

Plain make_plain(int k, int n, int groups, std::uint32_t seed, bool symmetric) {
  Lcg rng(seed);
  Plain p{k, n, groups, {}, {}, {}, {}};
  for (int i = 0; i < k * n; ++i) p.q.push_back(rng.below(16));
  for (int i = 0; i < groups * n; ++i) {
    p.zeros.push_back(symmetric ? 8 : rng.below(16));
    p.scales.push_back(half_to_float(float_to_half(0.001f * static_cast<float>(1 + rng.below(500)))));
  }
  for (int row = 0; row < k; ++row) p.group_of_row.push_back(row / (k / groups));
  return p;
}

// What dequant must give: (q - zero) * scale with the plain matrix's group map.
void expect_dequantized(const QuantizedMatrix& w, const Plain& p) {
  const std::vector<float> values = dequantize(w);
  ASSERT_EQ(values.size(), static_cast<std::size_t>(p.k * p.n));
  int nonzero = 0;
  for (int row = 0; row < p.k; ++row) {
    for (int col = 0; col < p.n; ++col) {
      const int g = p.group_of_row[static_cast<std::size_t>(row)];
      const float expected = static_cast<float>(p.q[row * p.n + col] - p.zeros[g * p.n + col]) *
                             p.scales[g * p.n + col];
      ASSERT_EQ(values[static_cast<std::size_t>(row) * p.n + col], expected)
          << "row " << row << " col " << col;
      nonzero += expected != 0.0f;
    }
  }
  EXPECT_GT(nonzero, p.k * p.n / 2);  // the data is not trivial
}

// GPTQ packing, written from the format, with c = 32 / bits codes per word: qweight [k/c, n],
// c rows per word, first in the lowest bits; qzeros [groups, n/c], c columns per word; v1 stores
// zero - 1.
GptqTensors pack_gptq(TensorStore& store, const Plain& p, bool minus_one, int bits = 4) {
  const int per_word = 32 / bits;
  const std::uint32_t mask = (1u << bits) - 1u;
  std::vector<std::uint32_t> qweight(static_cast<std::size_t>(p.k / per_word * p.n), 0);
  for (int row = 0; row < p.k; ++row) {
    for (int col = 0; col < p.n; ++col) {
      qweight[static_cast<std::size_t>(row / per_word * p.n + col)] |=
          static_cast<std::uint32_t>(p.q[row * p.n + col]) << (bits * (row % per_word));
    }
  }
  std::vector<std::uint32_t> qzeros(static_cast<std::size_t>(p.groups * p.n / per_word), 0);
  for (int g = 0; g < p.groups; ++g) {
    for (int col = 0; col < p.n; ++col) {
      const auto stored = static_cast<std::uint32_t>(p.zeros[g * p.n + col] - (minus_one ? 1 : 0));
      qzeros[static_cast<std::size_t>(g * p.n / per_word + col / per_word)] |=
          (stored & mask) << (bits * (col % per_word));
    }
  }
  GptqTensors t;
  t.qweight = store.i32("l.qweight", {static_cast<std::uint64_t>(p.k / per_word),
                                      static_cast<std::uint64_t>(p.n)}, qweight);
  t.qzeros = store.i32("l.qzeros", {static_cast<std::uint64_t>(p.groups),
                                    static_cast<std::uint64_t>(p.n / per_word)}, qzeros);
  t.scales = store.f16("l.scales", {static_cast<std::uint64_t>(p.groups),
                                    static_cast<std::uint64_t>(p.n)}, p.scales);
  std::vector<std::uint32_t> g_idx(p.group_of_row.begin(), p.group_of_row.end());
  t.g_idx = store.i32("l.g_idx", {static_cast<std::uint64_t>(p.k)}, g_idx);
  return t;
}

TEST(ImportGptq, SymmetricZeroMinusOneDropsTrivialGIdx) {
  TensorStore store;
  const Plain p = make_plain(64, 16, 2, 1, /*symmetric=*/true);
  const GptqTensors t = pack_gptq(store, p, /*minus_one=*/true);
  // The v1 convention stores 7 for the symmetric zero 8.
  EXPECT_EQ(testing::read_word(t.qzeros, 0), 0x77777777u);
  const QuantizedMatrix w =
      import_gptq(t, 4, 32, GptqZeros::kMinusOne, /*symmetric_expected=*/true);
  EXPECT_EQ(w.scheme, QuantScheme::kSymmetricInt4);
  EXPECT_EQ(w.k, 64);
  EXPECT_EQ(w.n, 16);
  EXPECT_TRUE(w.g_idx.empty());
  EXPECT_TRUE(w.zeros.empty());
  EXPECT_EQ(w.scale_dtype, DType::kFloat16);
  for (int i = 0; i < 64 * 16; ++i) ASSERT_EQ(w.q[static_cast<std::size_t>(i)], p.q[i]);
  expect_dequantized(w, p);
}

TEST(ImportGptq, AsymmetricV2KeepsZeros) {
  TensorStore store;
  const Plain p = make_plain(32, 24, 4, 2, /*symmetric=*/false);
  GptqTensors t = pack_gptq(store, p, /*minus_one=*/false);
  t.g_idx.reset();
  const QuantizedMatrix w = import_gptq(t, 4, 8, GptqZeros::kStored, false);
  EXPECT_EQ(w.scheme, QuantScheme::kAsymmetricInt4);
  for (int i = 0; i < 4 * 24; ++i) ASSERT_EQ(w.zeros[static_cast<std::size_t>(i)], p.zeros[i]);
  expect_dequantized(w, p);
}

TEST(ImportGptq, ActOrderKeepsGIdx) {
  TensorStore store;
  Plain p = make_plain(32, 8, 4, 3, /*symmetric=*/true);
  Lcg rng(9);
  for (auto& group : p.group_of_row) group = rng.below(4);
  const GptqTensors t = pack_gptq(store, p, /*minus_one=*/true);
  const QuantizedMatrix w = import_gptq(t, 4, 8, GptqZeros::kMinusOne, true);
  ASSERT_EQ(w.g_idx.size(), 32u);
  for (int row = 0; row < 32; ++row) EXPECT_EQ(w.g_idx[static_cast<std::size_t>(row)], p.group_of_row[row]);
  expect_dequantized(w, p);
}

TEST(ImportGptq, RejectsWrongShapesDtypesAndConvention) {
  TensorStore store;
  const Plain p = make_plain(16, 8, 2, 4, /*symmetric=*/true);
  const GptqTensors v2 = pack_gptq(store, p, /*minus_one=*/false);
  // gptq_v2 data read as v1: zero 8 + 1 = 9, caught by the symmetric check.
  expect_error([&] { import_gptq(v2, 4, 8, GptqZeros::kMinusOne, true); }, ErrorCode::kIo,
               {"l.qzeros", "zero 9", "wrong checkpoint_format"});
  GptqTensors bad = v2;
  bad.qzeros = store.i32("l.qzeros", {2, 2}, {0, 0, 0, 0});
  expect_error([&] { import_gptq(bad, 4, 8, GptqZeros::kStored, false); }, ErrorCode::kIo,
               {"GPTQ import", "'l.qzeros'", "[2, 2]", "expected [2, 1]"});
  bad = v2;
  bad.qweight = store.f16("l.qweight", {2, 8}, std::vector<float>(16, 1.0f));
  expect_error([&] { import_gptq(bad, 4, 8, GptqZeros::kStored, false); }, ErrorCode::kIo,
               {"'l.qweight'", "F16[2, 8]", "expected I32"});
  bad = v2;
  std::vector<std::uint32_t> g_idx(16, 0);
  g_idx[5] = 2;
  bad.g_idx = store.i32("l.g_idx", {16}, g_idx);
  expect_error([&] { import_gptq(bad, 4, 8, GptqZeros::kStored, false); }, ErrorCode::kIo,
               {"'l.g_idx'", "entry 5 is 2", "outside [0, 2)"});
  bad = v2;
  bad.qzeros = store.i32("l.qzeros", {2, 1}, {0xFFFFFFFFu, 0});
  expect_error([&] { import_gptq(bad, 4, 8, GptqZeros::kMinusOne, false); }, ErrorCode::kIo,
               {"zero 16"});
  bad = v2;
  bad.g_idx.reset();
  expect_error([&] { import_gptq(bad, 4, 4, GptqZeros::kStored, false); }, ErrorCode::kIo,
               {"has 2 groups", "needs 4"});
}

TEST(ImportGptq, EightBitSymmetricIsInt8) {
  TensorStore store;
  Plain p = make_plain(32, 16, 2, 10, /*symmetric=*/true);
  Lcg rng(10);
  for (auto& q : p.q) q = rng.below(256);
  for (auto& zero : p.zeros) zero = 128;
  const GptqTensors t = pack_gptq(store, p, /*minus_one=*/true, /*bits=*/8);
  EXPECT_EQ(testing::read_word(t.qzeros, 0), 0x7f7f7f7fu);  // v1: 128 - 1 in every byte
  EXPECT_EQ(t.qweight.shape, (std::vector<std::uint64_t>{8, 16}));  // 4 rows per word
  const QuantizedMatrix w = import_gptq(t, 8, 16, GptqZeros::kMinusOne, true);
  EXPECT_EQ(w.scheme, QuantScheme::kSymmetricInt8);
  EXPECT_EQ(w.k, 32);
  EXPECT_TRUE(w.zeros.empty());
  EXPECT_TRUE(w.g_idx.empty());
  for (int i = 0; i < 32 * 16; ++i) ASSERT_EQ(w.q[static_cast<std::size_t>(i)], p.q[i]);
  expect_dequantized(w, p);
}

TEST(ImportGptq, EightBitRefusesAsymmetricZerosAndOtherBitWidths) {
  TensorStore store;
  Plain p = make_plain(16, 8, 2, 11, /*symmetric=*/true);
  for (auto& zero : p.zeros) zero = 128;
  p.zeros[8 + 5] = 100;  // group 1, column 5
  const GptqTensors t = pack_gptq(store, p, /*minus_one=*/false, /*bits=*/8);
  expect_error([&] { import_gptq(t, 8, 8, GptqZeros::kStored, false); }, ErrorCode::kUnsupported,
               {"'l.qzeros' gives zero 100 at group 1, column 5", "8-bit weights need the zero 128",
                "asymmetric INT8 is not supported"});
  // With the symmetric flag the same data is a convention error first.
  expect_error([&] { import_gptq(t, 8, 8, GptqZeros::kStored, true); }, ErrorCode::kIo,
               {"a symmetric 8-bit checkpoint needs 128 (stored as 128 in gptq_v2)"});
  expect_error([&] { import_gptq(t, 3, 8, GptqZeros::kStored, false); }, ErrorCode::kUnsupported,
               {"GPTQ import: bits=3 is not supported (4 or 8)"});
  // v1 stores 255 for a zero of 256: beyond 8 bits.
  GptqTensors overflow = t;
  overflow.qzeros = store.i32("l.qzeros", {2, 2}, {0xFFu, 0, 0, 0});
  expect_error([&] { import_gptq(overflow, 8, 8, GptqZeros::kMinusOne, false); }, ErrorCode::kIo,
               {"stores 255 at group 0, column 0: zero 256 is outside 8 bits"});
}

// AWQ packing from its description: qweight [k, n/8]; the nibble at bit 4i of a word holds
// column 8c + order[i], order = 0 2 4 6 1 3 5 7.
std::vector<std::uint32_t> pack_awq_rows(const std::vector<int>& values, int rows, int n) {
  const int order[8] = {0, 2, 4, 6, 1, 3, 5, 7};
  std::vector<std::uint32_t> words(static_cast<std::size_t>(rows * n / 8), 0);
  for (int row = 0; row < rows; ++row) {
    for (int c = 0; c < n / 8; ++c) {
      for (int i = 0; i < 8; ++i) {
        words[static_cast<std::size_t>(row * n / 8 + c)] |=
            static_cast<std::uint32_t>(values[row * n + 8 * c + order[i]]) << (4 * i);
      }
    }
  }
  return words;
}

TEST(ImportAwq, InterleavedOrderRoundTrips) {
  // Columns 0..7 holding codes 0..7 pack to 0x75316420: nibble i holds column order[i].
  std::vector<int> ramp = {0, 1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(pack_awq_rows(ramp, 1, 8)[0], 0x75316420u);

  TensorStore store;
  const Plain p = make_plain(32, 16, 2, 5, /*symmetric=*/false);
  AwqTensors t;
  t.qweight = store.i32("l.qweight", {32, 2}, pack_awq_rows(p.q, 32, 16));
  t.qzeros = store.i32("l.qzeros", {2, 2}, pack_awq_rows(p.zeros, 2, 16));
  t.scales = store.f16("l.scales", {2, 16}, p.scales);
  const QuantizedMatrix w = import_awq(t, 16);
  EXPECT_EQ(w.scheme, QuantScheme::kAsymmetricInt4);
  EXPECT_EQ(w.k, 32);
  EXPECT_EQ(w.n, 16);
  for (int i = 0; i < 32 * 16; ++i) ASSERT_EQ(w.q[static_cast<std::size_t>(i)], p.q[i]);
  expect_dequantized(w, p);

  AwqTensors bad = t;
  bad.scales = store.f16("l.scales", {4, 16}, std::vector<float>(64, 1.0f));
  expect_error([&] { import_awq(bad, 16); }, ErrorCode::kIo,
               {"AWQ import", "'l.scales'", "expected [2, 16]"});
  expect_error([&] { import_awq(t, 12); }, ErrorCode::kIo, {"not a multiple of group_size=12"});
}

// compressed-tensors packing from its description: signed v in [-8, 7] stored as v + 8, eight
// per int32 along k (first value in the low nibble), weight_packed [n, ceil(k/8)].
std::vector<std::uint32_t> pack_ct(const Plain& p, int words_per_row) {
  std::vector<std::uint32_t> words(static_cast<std::size_t>(p.n * words_per_row), 0);
  for (int j = 0; j < p.n; ++j) {
    for (int row = 0; row < p.k; ++row) {
      const int signed_value = p.q[row * p.n + j] - 8;
      words[static_cast<std::size_t>(j * words_per_row + row / 8)] |=
          static_cast<std::uint32_t>(signed_value + 8) << (4 * (row % 8));
    }
  }
  return words;
}

std::vector<float> transpose_scales(const Plain& p) {
  std::vector<float> out;
  for (int j = 0; j < p.n; ++j) {
    for (int g = 0; g < p.groups; ++g) out.push_back(p.scales[g * p.n + j]);
  }
  return out;
}

TEST(ImportCompressedTensors, SymmetricWithoutZeroPoint) {
  TensorStore store;
  const Plain p = make_plain(32, 8, 2, 6, /*symmetric=*/true);
  CompressedTensors t;
  t.weight_packed = store.i32("l.weight_packed", {8, 4}, pack_ct(p, 4));
  t.weight_scale = store.bf16("l.weight_scale", {8, 2}, transpose_scales(p));
  const QuantizedMatrix w = import_compressed_tensors(t, 16);
  EXPECT_EQ(w.scheme, QuantScheme::kSymmetricInt4);
  EXPECT_EQ(w.scale_dtype, DType::kBFloat16);
  Plain expected = p;
  for (auto& s : expected.scales) s = bf16_to_float(float_to_bf16(s));
  expect_dequantized(w, expected);
}

TEST(ImportCompressedTensors, SignedZeroPointsUnpackedAndPacked) {
  TensorStore store;
  const Plain p = make_plain(16, 16, 2, 7, /*symmetric=*/false);
  CompressedTensors t;
  t.weight_packed = store.i32("l.weight_packed", {16, 2}, pack_ct(p, 2));
  t.weight_scale = store.f16("l.weight_scale", {16, 2}, transpose_scales(p));
  std::vector<std::int8_t> signed_zeros;  // [n, groups]
  for (int j = 0; j < 16; ++j) {
    for (int g = 0; g < 2; ++g) signed_zeros.push_back(static_cast<std::int8_t>(p.zeros[g * 16 + j] - 8));
  }
  t.weight_zero_point = store.i8("l.weight_zero_point", {16, 2}, signed_zeros);
  QuantizedMatrix w = import_compressed_tensors(t, 8);
  EXPECT_EQ(w.scheme, QuantScheme::kAsymmetricInt4);
  expect_dequantized(w, p);

  // Packed along n: int32 [n/8, groups], nibble i of row r = zero of column 8r + i, plus 8.
  std::vector<std::uint32_t> packed_zeros(4, 0);
  for (int j = 0; j < 16; ++j) {
    for (int g = 0; g < 2; ++g) {
      packed_zeros[static_cast<std::size_t>(j / 8 * 2 + g)] |=
          static_cast<std::uint32_t>(p.zeros[g * 16 + j]) << (4 * (j % 8));
    }
  }
  t.weight_zero_point = store.i32("l.weight_zero_point", {2, 2}, packed_zeros);
  w = import_compressed_tensors(t, 8);
  expect_dequantized(w, p);

  signed_zeros[3] = 9;
  t.weight_zero_point = store.i8("l.weight_zero_point", {16, 2}, signed_zeros);
  expect_error([&] { import_compressed_tensors(t, 8); }, ErrorCode::kIo,
               {"'l.weight_zero_point'", "zero point 9"});
}

TEST(ImportCompressedTensors, WeightShapeTrimsPaddedK) {
  TensorStore store;
  Plain p = make_plain(20, 8, 1, 8, /*symmetric=*/true);
  CompressedTensors t;
  t.weight_packed = store.i32("l.weight_packed", {8, 3}, pack_ct(p, 3));
  t.weight_scale = store.f32("l.weight_scale", {8, 1}, transpose_scales(p));
  t.weight_shape = store.i32("l.weight_shape", {2}, {8, 20});
  const QuantizedMatrix w = import_compressed_tensors(t, kPerChannel);
  EXPECT_EQ(w.k, 20);
  EXPECT_EQ(w.scale_dtype, DType::kFloat16);  // fp32 scales that are exact in fp16
  expect_dequantized(w, p);
  t.weight_shape = store.i32("l.weight_shape", {2}, {8, 30});
  expect_error([&] { import_compressed_tensors(t, kPerChannel); }, ErrorCode::kIo,
               {"'l.weight_shape'", "does not match"});
  t.weight_shape.reset();
  t.weight_scale = store.f32("l.weight_scale", {8, 1}, std::vector<float>(8, 0.1f));
  expect_error([&] { import_compressed_tensors(t, kPerChannel); }, ErrorCode::kIo,
               {"'l.weight_scale'", "not exactly representable"});
}

}  // namespace
}  // namespace marlin::io

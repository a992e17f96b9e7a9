// The marlin checkpoint with zero points (<module>.zeros), act-order (<module>.perm) and INT8:
// written modules read back exactly; the writer and the reader refuse tensors the metadata does
// not allow, and the reader refuses a perm or zero points a kernel could not use safely.
#include <algorithm>
#include <filesystem>
#include <numeric>
#include <string>

#include <gtest/gtest.h>

#include "io_test_util.h"
#include "marlin/io/checkpoint.h"
#include "marlin/pack.h"
#include "tensor_builder.h"

namespace marlin::io {
namespace {

using testing::expect_error;
using testing::ScratchDir;

// RTN of random weights; with `act_order`, the rows' groups are scattered (row i in group
// (5 i) % groups, exactly group_size rows each since 5 is odd and groups a power of two).
QuantizedMatrix random_matrix(QuantScheme scheme, int k, int n, int group_size, bool act_order,
                              std::uint32_t seed) {
  testing::Lcg rng(seed);
  std::vector<float> w(static_cast<std::size_t>(k) * n);
  for (auto& value : w) value = static_cast<float>(rng.below(2001) - 700) / 1000.0f;
  QuantizedMatrix q = quantize_rtn(w, k, n, scheme, group_size);
  if (act_order) {
    const int groups = k / group_size;
    q.g_idx.resize(static_cast<std::size_t>(k));
    for (int row = 0; row < k; ++row) q.g_idx[static_cast<std::size_t>(row)] = (5 * row) % groups;
  }
  return q;
}

void expect_same(const QuantizedMatrix& got, const QuantizedMatrix& want, const char* module) {
  EXPECT_EQ(got.scheme, want.scheme) << module;
  EXPECT_EQ(got.q, want.q) << module;
  EXPECT_EQ(got.scales, want.scales) << module;
  EXPECT_EQ(got.zeros, want.zeros) << module;
  EXPECT_EQ(got.g_idx, want.g_idx) << module;
  EXPECT_EQ(dequantize(got), dequantize(want)) << module;
}

TEST(MarlinCheckpointSchemes, ZerosAndPermRoundTripOnlyWhereNeeded) {
  ScratchDir dir;
  CheckpointMetadata metadata;
  metadata.group_size = 32;
  metadata.zero_points = true;
  metadata.act_order = true;
  const auto asym = QuantScheme::kAsymmetricInt4;
  const QuantizedMatrix both = random_matrix(asym, 128, 64, 32, true, 1);
  const QuantizedMatrix zeros_only = random_matrix(asym, 64, 128, 32, false, 2);
  const QuantizedMatrix plain = random_matrix(QuantScheme::kSymmetricInt4, 32, 64, 32, false, 3);
  ASSERT_FALSE(both.g_idx.empty());
  CheckpointWriter writer(dir.path(), metadata, /*max_shard_bytes=*/2048);  // several shards
  for (const auto* m : {&both, &zeros_only, &plain}) {
    const std::string name = m == &both ? "m.both" : m == &zeros_only ? "m.zeros" : "m.plain";
    writer.add_packed(name, packed_module_shape(*m), [m] { return pack(*m); });
  }
  // qweight + scales + zeros + perm, qweight + scales + zeros, qweight + scales.
  EXPECT_EQ(writer.tensor_count(), 4u + 3u + 2u);
  EXPECT_EQ(writer.total_bytes(), (128u * 64 / 2 + 4u * 64 * 2 + 4u * 64 + 128u * 4) +
                                      (64u * 128 / 2 + 2u * 128 * 2 + 2u * 128) +
                                      (32u * 64 / 2 + 64u * 2));
  writer.write();

  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(dir.path());
  EXPECT_GT(checkpoint.files().files().size(), 1u);
  EXPECT_EQ(checkpoint.metadata().format_version, 2);
  EXPECT_TRUE(checkpoint.metadata().zero_points);
  EXPECT_TRUE(checkpoint.metadata().act_order);
  EXPECT_EQ(checkpoint.files().info("m.both.zeros").dtype, StDType::kU8);
  EXPECT_EQ(checkpoint.files().info("m.both.zeros").shape, (std::vector<std::uint64_t>{4, 64}));
  EXPECT_EQ(checkpoint.files().info("m.both.perm").shape, (std::vector<std::uint64_t>{128}));
  EXPECT_FALSE(checkpoint.files().contains("m.zeros.perm"));
  EXPECT_FALSE(checkpoint.files().contains("m.plain.zeros"));
  const PackedMatrix loaded = checkpoint.load("m.both");
  EXPECT_EQ(loaded.perm, pack(both).perm);
  EXPECT_EQ(loaded.zeros, pack(both).zeros);
  expect_same(unpack(loaded), both, "m.both");
  expect_same(unpack(checkpoint.load("m.zeros")), zeros_only, "m.zeros");
  expect_same(unpack(checkpoint.load("m.plain")), plain, "m.plain");
}

TEST(MarlinCheckpointSchemes, Int8ModulesRoundTrip) {
  ScratchDir dir;
  CheckpointMetadata metadata;
  metadata.bits = 8;
  metadata.group_size = 64;
  metadata.act_order = true;
  const auto int8 = QuantScheme::kSymmetricInt8;
  const QuantizedMatrix sorted = random_matrix(int8, 128, 128, 64, true, 4);
  const QuantizedMatrix plain = random_matrix(int8, 64, 64, 64, false, 5);
  CheckpointWriter writer(dir.path(), metadata);
  writer.add_packed("m.sorted", packed_module_shape(sorted), [&] { return pack(sorted); });
  writer.add_packed("m.plain", packed_module_shape(plain), [&] { return pack(plain); });
  writer.write();
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(dir.path());
  EXPECT_EQ(checkpoint.metadata().bits, 8);
  // INT8: [k/16, 4n] words.
  EXPECT_EQ(checkpoint.files().info("m.sorted.qweight").shape,
            (std::vector<std::uint64_t>{8, 512}));
  expect_same(unpack(checkpoint.load("m.sorted")), sorted, "m.sorted");
  expect_same(unpack(checkpoint.load("m.plain")), plain, "m.plain");
}

TEST(MarlinCheckpointSchemes, WriterRefusesModulesTheMetadataDoesNotAllow) {
  ScratchDir dir;
  CheckpointMetadata metadata;  // bits 4, no zero points, no act-order, group 128
  CheckpointWriter writer(dir.path(), metadata);
  const auto add = [&](QuantScheme scheme, bool permuted) {
    writer.add_packed("m", {scheme, 128, 64, permuted}, []() -> PackedMatrix {
      throw std::logic_error("not reached: the writer refuses before it runs producers");
    });
  };
  expect_error([&] { add(QuantScheme::kSymmetricInt8, false); }, ErrorCode::kInvalidArgument,
               {"module 'm' has 8-bit codes; the checkpoint's metadata says bits=4"});
  expect_error([&] { add(QuantScheme::kAsymmetricInt4, false); }, ErrorCode::kInvalidArgument,
               {"has zero points", "zero_points=false"});
  expect_error([&] { add(QuantScheme::kSymmetricInt4, true); }, ErrorCode::kInvalidArgument,
               {"has act-order rows", "act_order=false"});
  EXPECT_EQ(writer.tensor_count(), 0u);

  // A module whose weights turn out different from its planned shape stops the write.
  const QuantizedMatrix w = random_matrix(QuantScheme::kSymmetricInt4, 128, 64, 128, false, 6);
  writer.add_packed("m", {QuantScheme::kSymmetricInt4, 128, 128, false}, [&] { return pack(w); });
  expect_error([&] { writer.write(); }, ErrorCode::kInternal,
               {"module 'm' produced a different scheme, shape"});
}

TEST(MarlinCheckpointSchemes, MetadataRulesForVersionsBitsZerosAndActOrder) {
  const auto error_for = [](std::map<std::string, std::string> changes,
                            const std::vector<std::string>& parts) {
    auto strings = CheckpointMetadata().to_strings();
    for (const auto& [key, value] : changes) {
      if (value.empty()) {
        strings.erase(key);
      } else {
        strings[key] = value;
      }
    }
    expect_error([&] { CheckpointMetadata::from_strings(strings, "f"); }, ErrorCode::kIo, parts);
  };
  error_for({{"format_version", "3"}},
            {"format_version 3 is not supported (this build reads 1 to 2)"});
  error_for({{"bits", "3"}}, {"bits=3; format_version 2 holds 4 or 8"});
  error_for({{"format_version", "1"}, {"bits", "8"}}, {"bits=8; format_version 1 holds 4"});
  error_for({{"format_version", "1"}, {"act_order", "true"}},
            {"format_version 1 holds no act-order"});
  error_for({{"bits", "8"}, {"zero_points", "true"}}, {"zero_points=true with bits=8"});
  error_for({{"zero_points", "yes"}}, {"'zero_points'='yes' is not true or false"});
  error_for({{"zero_points", ""}}, {"metadata lacks 'zero_points'"});

  // Version 1 (no zero_points key) still reads: symmetric INT4 without act-order.
  auto version_1 = CheckpointMetadata().to_strings();
  version_1["format_version"] = "1";
  version_1.erase("zero_points");
  const CheckpointMetadata read = CheckpointMetadata::from_strings(version_1, "f");
  EXPECT_EQ(read.format_version, 1);
  EXPECT_FALSE(read.zero_points);
  EXPECT_FALSE(read.act_order);
}

// A one-module checkpoint written by hand: 64 x 64 asymmetric INT4 in groups of 32, act-order.
struct HandWritten {
  CheckpointMetadata metadata;
  std::vector<std::uint8_t> zeros = std::vector<std::uint8_t>(2 * 64, 7);
  std::vector<std::uint32_t> perm;
  StDType perm_dtype = StDType::kI32;

  HandWritten() {
    metadata.group_size = 32;
    metadata.zero_points = true;
    metadata.act_order = true;
    perm.resize(64);
    std::iota(perm.begin(), perm.end(), 0);
    std::reverse(perm.begin(), perm.begin() + 32);  // group 0's rows in reverse: still valid
  }

  void write(const std::string& folder) const {
    SafetensorsWriter writer;
    writer.set_metadata(metadata.to_strings());
    const std::vector<std::uint32_t> qweight(64 * 64 / 8, 0x12345678u);
    const std::vector<std::uint16_t> scales(2 * 64, 0x3c00);
    writer.add_copy("m.qweight", StDType::kI32, {4, 128}, qweight.data(), qweight.size() * 4);
    writer.add_copy("m.scales", StDType::kF16, {2, 64}, scales.data(), scales.size() * 2);
    writer.add_copy("m.zeros", StDType::kU8, {2, 64}, zeros.data(), zeros.size());
    writer.add_copy("m.perm", perm_dtype, {64}, perm.data(), perm.size() * 4);
    writer.write(folder + "/model.safetensors");
  }
};

TEST(MarlinCheckpointSchemes, ReaderRefusesZerosAndPermItCannotUse) {
  ScratchDir dir;
  const HandWritten good;
  good.write(dir.path());
  const PackedMatrix loaded = MarlinCheckpoint::open(dir.path()).load("m");
  EXPECT_EQ(loaded.scheme, QuantScheme::kAsymmetricInt4);
  EXPECT_EQ(loaded.perm[0], 31);
  EXPECT_EQ(unpack(loaded).g_idx[31], 0);

  HandWritten no_zero_points = good;
  no_zero_points.metadata.zero_points = false;
  no_zero_points.write(dir.path());
  expect_error([&] { MarlinCheckpoint::open(dir.path()); }, ErrorCode::kIo,
               {"module 'm' has 'm.zeros', but the metadata says zero_points=false"});
  HandWritten no_act_order = good;
  no_act_order.metadata.act_order = false;
  no_act_order.write(dir.path());
  expect_error([&] { MarlinCheckpoint::open(dir.path()); }, ErrorCode::kIo,
               {"module 'm' has 'm.perm', but the metadata says act_order=false"});
  HandWritten float_perm = good;
  float_perm.perm_dtype = StDType::kF32;
  float_perm.write(dir.path());
  expect_error([&] { MarlinCheckpoint::open(dir.path()); }, ErrorCode::kIo, {"'m.perm'", "I32"});

  // Shapes and dtypes are fine; the values are not: only load() reads them.
  HandWritten repeated_row = good;
  repeated_row.perm[40] = 41;
  repeated_row.write(dir.path());
  const MarlinCheckpoint opened = MarlinCheckpoint::open(dir.path());
  expect_error([&] { opened.load("m"); }, ErrorCode::kIo,
               {"module 'm'", "'m.perm' does not hold each row 0..63 exactly once"});
  HandWritten big_zero = good;
  big_zero.zeros[70] = 16;
  big_zero.write(dir.path());
  expect_error([&] { MarlinCheckpoint::open(dir.path()).load("m"); }, ErrorCode::kIo,
               {"'m.zeros' holds 16 at 70; zero points are 4-bit (0..15)"});
}

}  // namespace
}  // namespace marlin::io

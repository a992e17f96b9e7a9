#include <filesystem>
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

QuantizedMatrix random_matrix(int k, int n, int group_size, std::uint32_t seed) {
  testing::Lcg rng(seed);
  std::vector<float> w(static_cast<std::size_t>(k) * n);
  for (auto& value : w) value = static_cast<float>(rng.below(2001) - 1000) / 1000.0f;
  return quantize_rtn(w, k, n, QuantScheme::kSymmetricInt4, group_size);
}

TEST(MarlinCheckpoint, RoundTripsPackedModulesMetadataAndOtherTensors) {
  ScratchDir dir;
  CheckpointMetadata metadata;
  metadata.group_size = 32;
  metadata.source = "test";
  const QuantizedMatrix a = random_matrix(64, 128, 32, 1);
  const QuantizedMatrix b = random_matrix(32, 64, 32, 2);
  const std::vector<std::uint16_t> norm = {0x3c00, 0x4000};
  // A shard limit small enough to force several shards and an index.
  CheckpointWriter writer(dir.path(), metadata, /*max_shard_bytes=*/4096);
  writer.add_packed("m.a", {QuantScheme::kSymmetricInt4, 64, 128, false}, [&] { return pack(a); });
  writer.add_packed("m.b", {QuantScheme::kSymmetricInt4, 32, 64, false}, [&] { return pack(b); });
  writer.add_tensor("norm.weight", StDType::kF16, {2},
                    [&](std::vector<std::uint8_t>& out) {
                      out.resize(4);
                      std::memcpy(out.data(), norm.data(), 4);
                    });
  EXPECT_EQ(writer.total_bytes(), 64u * 128 / 2 + 2u * 128 * 2 + 32u * 64 / 2 + 64u * 2 + 4);
  writer.write();
  EXPECT_TRUE(std::filesystem::exists(dir.file("model.safetensors.index.json")));

  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(dir.path());
  EXPECT_GT(checkpoint.files().files().size(), 1u);
  EXPECT_EQ(checkpoint.modules(), (std::vector<std::string>{"m.a", "m.b"}));
  EXPECT_EQ(checkpoint.metadata().group_size, 32);
  EXPECT_EQ(checkpoint.metadata().source, "test");
  EXPECT_EQ(checkpoint.files().info("m.a.qweight").shape, (std::vector<std::uint64_t>{4, 256}));
  const QuantizedMatrix a_back = unpack(checkpoint.load("m.a"));
  EXPECT_EQ(a_back.q, a.q);
  EXPECT_EQ(dequantize(a_back), dequantize(a));
  EXPECT_EQ(unpack(checkpoint.load("m.b")).q, b.q);
  EXPECT_EQ(checkpoint.files().tensor("norm.weight").data[1], 0x3c);
}

TEST(MarlinCheckpoint, RejectsForeignAndInconsistentFiles) {
  ScratchDir dir;
  const std::uint32_t words[4] = {};
  SafetensorsWriter plain;
  plain.add_borrowed("x", StDType::kI32, {4}, words, 16);
  plain.write(dir.file("model.safetensors"));
  expect_error([&] { MarlinCheckpoint::open(dir.path()); }, ErrorCode::kIo,
               {"not a marlin checkpoint"});

  CheckpointMetadata metadata;
  auto strings = metadata.to_strings();
  strings["format_version"] = "99";
  expect_error([&] { CheckpointMetadata::from_strings(strings, "f"); }, ErrorCode::kIo,
               {"format_version 99"});
  strings = metadata.to_strings();
  strings["group_size"] = "12x";
  expect_error([&] { CheckpointMetadata::from_strings(strings, "f"); }, ErrorCode::kIo,
               {"'group_size'='12x'"});

  // qweight with scales of the wrong shape.
  SafetensorsWriter bad;
  bad.set_metadata(metadata.to_strings());
  std::vector<std::uint32_t> qweight(16 * 64 / 8);
  std::vector<std::uint16_t> scales(64 * 2);
  bad.add_borrowed("m.qweight", StDType::kI32, {1, 128}, qweight.data(), qweight.size() * 4);
  bad.add_borrowed("m.scales", StDType::kF16, {2, 64}, scales.data(), scales.size() * 2);
  bad.write(dir.file("model.safetensors"));
  expect_error([&] { MarlinCheckpoint::open(dir.path()); }, ErrorCode::kIo,
               {"module 'm'", "k=16 is not a multiple of group_size=128"});
}

}  // namespace
}  // namespace marlin::io

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io_test_util.h"
#include "marlin/io/safetensors.h"

namespace marlin::io {
namespace {

using testing::expect_error;
using testing::raw_safetensors;
using testing::ScratchDir;

// Parses `header` with `data` bytes following it, as a whole file.
SafetensorsHeader parse(const std::string& header, std::size_t data_bytes) {
  const auto file = raw_safetensors(header, std::vector<std::uint8_t>(data_bytes, 0));
  return parse_safetensors_header(file.data(), file.size(), file.size(), "model.safetensors");
}

void expect_rejected(const std::string& header, std::size_t data_bytes,
                     const std::vector<std::string>& parts) {
  std::vector<std::string> all = {"model.safetensors"};
  all.insert(all.end(), parts.begin(), parts.end());
  expect_error([&] { parse(header, data_bytes); }, ErrorCode::kIo, all);
}

TEST(SafetensorsHeader, ParsesTensorsInOffsetOrderAndMetadata) {
  const auto header = parse(
      R"({"b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]},)"
      R"("a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
      R"("__metadata__":{"format":"pt"}}   )",
      12);
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.tensors[0].name, "a");
  EXPECT_EQ(header.tensors[0].dtype, StDType::kF16);
  EXPECT_EQ(header.tensors[1].name, "b");
  EXPECT_EQ(header.tensors[1].describe(), "I32[2]");
  EXPECT_EQ(header.tensors[1].begin, 4u);
  EXPECT_EQ(header.metadata.at("format"), "pt");
  EXPECT_EQ(header.data_size, 12u);
  EXPECT_NE(header.find("b"), nullptr);
  EXPECT_EQ(header.find("c"), nullptr);
}

TEST(SafetensorsHeader, AcceptsScalarsAndEmptyTensors) {
  const auto header = parse(
      R"({"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
      R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
      4);
  ASSERT_EQ(header.tensors.size(), 2u);
  EXPECT_EQ(header.find("s")->numel(), 1u);
  EXPECT_EQ(header.find("e")->numel(), 0u);
}

TEST(SafetensorsHeader, RejectsBadLengths) {
  std::vector<std::uint8_t> short_file = {1, 0, 0};
  expect_error([&] { parse_safetensors_header(short_file.data(), 3, 3, "f.st"); }, ErrorCode::kIo,
               {"f.st", "shorter than the 8-byte"});
  auto truncated = raw_safetensors(R"({"a":1})", {}, 1000);
  expect_error([&] { parse_safetensors_header(truncated.data(), truncated.size(),
                                              truncated.size(), "f.st"); },
               ErrorCode::kIo, {"f.st", "past the end", "truncated"});
  auto huge = raw_safetensors("{}", {}, kMaxHeaderBytes + 1);
  expect_error([&] { parse_safetensors_header(huge.data(), huge.size(), huge.size(), "f.st"); },
               ErrorCode::kIo, {"exceeds the limit"});
  auto giant = raw_safetensors("{}", {}, ~0ull - 1);
  expect_error([&] { parse_safetensors_header(giant.data(), giant.size(), giant.size(), "f.st"); },
               ErrorCode::kIo, {"exceeds the limit"});
}

TEST(SafetensorsHeader, RejectsMalformedJson) {
  expect_rejected(R"({"a":)", 0, {"not valid JSON"});
  expect_rejected(R"([1,2])", 0, {"starting with '{'"});
  expect_rejected(R"({"a":{"dtype":"F16","shape":[[[1]]],"data_offsets":[0,2]}})", 2,
                  {"nesting"});
  expect_rejected(R"({"a":{"dtype":"F16","dtype":"I8","shape":[1],"data_offsets":[0,2]}})", 2,
                  {"duplicate key 'dtype'"});
  expect_rejected(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                  R"("a":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}})",
                  4, {"duplicate key 'a'"});
  expect_rejected("{\"\xff\":1}", 0, {"not valid JSON"});
}

TEST(SafetensorsHeader, RejectsBadEntries) {
  expect_rejected(R"({"w":{"dtype":"F17","shape":[1],"data_offsets":[0,2]}})", 2,
                  {"tensor 'w'", "unknown dtype 'F17'"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[-1],"data_offsets":[0,2]}})", 2,
                  {"tensor 'w'", "non-negative"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[1.5],"data_offsets":[0,2]}})", 2,
                  {"tensor 'w'", "non-negative"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0]}})", 2,
                  {"tensor 'w'", "data_offsets"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2],"x":1}})", 2,
                  {"tensor 'w'", "unknown key 'x'"});
  expect_rejected(R"({"w":{"shape":[1],"data_offsets":[0,2]}})", 2, {"tensor 'w'", "dtype"});
  expect_rejected(R"({"w":[1]})", 2, {"tensor 'w'", "object"});
  expect_rejected(R"({"":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 2,
                  {"empty tensor name"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,2]}})",
                  2, {"tensor 'w'", "rank 9"});
  expect_rejected(R"({"__metadata__":{"a":1}})", 0, {"__metadata__", "string"});
}

TEST(SafetensorsHeader, RejectsSizeMismatchAndOverflow) {
  expect_rejected(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,8]}})", 8,
                  {"tensor 'w'", "F32[2, 2] needs 16 bytes", "span 8"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[4294967296,4294967296],"data_offsets":[0,2]}})",
                  2, {"tensor 'w'", "overflow"});
  expect_rejected(
      R"({"w":{"dtype":"F16","shape":[18446744073709551615],"data_offsets":[0,2]}})", 2,
      {"tensor 'w'", "overflow"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[4,2]}})", 4,
                  {"tensor 'w'", "begin > end"});
  expect_rejected(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 1,
                  {"tensor 'w'", "past the byte buffer"});
  expect_rejected(
      R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[18446744073709551614,0]}})", 2,
      {"tensor 'w'", "begin > end"});
}

TEST(SafetensorsHeader, RejectsOverlapGapsAndTrailingBytes) {
  expect_rejected(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}})",
                  4, {"'b' starts at 2", "overlap"});
  expect_rejected(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                  R"("b":{"dtype":"F16","shape":[1],"data_offsets":[4,6]}})",
                  6, {"'b' starts at 4", "gap"});
  expect_rejected(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[2,4]}})", 4,
                  {"'a' starts at 2", "gap"});
  expect_rejected(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 6,
                  {"cover 2 bytes", "trailing"});
  // Two tensors aliasing the same bytes.
  expect_rejected(R"({"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                  R"("b":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})",
                  2, {"starts at 0", "overlap"});
}

TEST(SafetensorsFile, WriterRoundTripThroughMmap) {
  ScratchDir dir;
  const std::vector<std::uint16_t> halves = {0x3c00, 0xc000, 0x7bff};
  const std::vector<std::int32_t> ints = {-1, 7, 1 << 30, 42, 0, -5};
  SafetensorsWriter writer;
  writer.add_borrowed("h", StDType::kF16, {3}, halves.data(), 6);
  writer.add_copy("i", StDType::kI32, {2, 3}, ints.data(), 24);
  writer.add("p", StDType::kU8, {5}, [](std::vector<std::uint8_t>& out) {
    out = {1, 2, 3, 4, 5};
  });
  writer.set_metadata({{"format", "pt"}, {"note", "x"}});
  std::vector<std::string> progressed;
  writer.write(dir.file("t.safetensors"),
               [&](const std::string& name, std::uint64_t) { progressed.push_back(name); });
  EXPECT_EQ(progressed, (std::vector<std::string>{"h", "i", "p"}));

  const auto bytes = testing::read_file(dir.file("t.safetensors"));
  std::uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  EXPECT_EQ(header_length % 8, 0u);  // padded so the buffer is 8-byte aligned

  const auto file = SafetensorsFile::open(dir.file("t.safetensors"));
  EXPECT_EQ(file.metadata().at("note"), "x");
  const auto h = file.tensor("h");
  ASSERT_EQ(h.size, 6u);
  EXPECT_EQ(0, std::memcmp(h.data, halves.data(), 6));
  const auto i = file.tensor("i");
  EXPECT_EQ(i.shape, (std::vector<std::uint64_t>{2, 3}));
  std::int32_t third = 0;
  std::memcpy(&third, i.data + 8, 4);
  EXPECT_EQ(third, 1 << 30);
  EXPECT_EQ(file.tensor("p").data[4], 5);
  expect_error([&] { file.tensor("missing"); }, ErrorCode::kIo, {"t.safetensors", "'missing'"});
  // No temporary files left behind.
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(SafetensorsFile, TruncatedAndMissingFilesAreClearErrors) {
  ScratchDir dir;
  SafetensorsWriter writer;
  const std::vector<float> values(16, 1.5f);
  writer.add_borrowed("w", StDType::kF32, {4, 4}, values.data(), 64);
  writer.write(dir.file("ok.safetensors"));
  auto bytes = testing::read_file(dir.file("ok.safetensors"));
  bytes.resize(bytes.size() - 4);
  testing::write_file(dir.file("cut.safetensors"), bytes);
  expect_error([&] { SafetensorsFile::open(dir.file("cut.safetensors")); }, ErrorCode::kIo,
               {"cut.safetensors", "tensor 'w'", "past the byte buffer"});
  testing::write_file(dir.file("empty.safetensors"), {});
  expect_error([&] { SafetensorsFile::open(dir.file("empty.safetensors")); }, ErrorCode::kIo,
               {"empty.safetensors", "shorter"});
  expect_error([&] { SafetensorsFile::open(dir.file("nope.safetensors")); }, ErrorCode::kIo,
               {"nope.safetensors", "cannot open"});
}

TEST(SafetensorsWriter, RejectsDuplicatesAndSizeMismatch) {
  SafetensorsWriter writer;
  const std::uint8_t byte = 0;
  writer.add_borrowed("a", StDType::kU8, {1}, &byte, 1);
  expect_error([&] { writer.add_borrowed("a", StDType::kU8, {1}, &byte, 1); },
               ErrorCode::kInvalidArgument, {"'a' added twice"});
  expect_error([&] { writer.add_borrowed("b", StDType::kF16, {1}, &byte, 1); },
               ErrorCode::kInvalidArgument, {"'b'", "shape needs 2"});
  expect_error([&] { writer.add_borrowed("__metadata__", StDType::kU8, {1}, &byte, 1); },
               ErrorCode::kInvalidArgument, {"reserved"});
}

}  // namespace
}  // namespace marlin::io

namespace marlin::io {
namespace {

// Every strict prefix of a valid file is rejected with kIo (never a crash or a bogus header),
// and so is every single-byte corruption of the length prefix that makes it disagree.
TEST(SafetensorsHeader, EveryTruncationIsAnIoError) {
  SafetensorsWriter writer;
  const std::vector<std::uint16_t> values = {1, 2, 3, 4, 5, 6};
  writer.add_borrowed("a", StDType::kF16, {2, 3}, values.data(), 12);
  writer.add_borrowed("b", StDType::kU8, {4}, values.data(), 4);
  std::vector<std::uint8_t> file = writer.header_bytes();
  file.insert(file.end(), 16, 7);
  ASSERT_EQ(parse_safetensors_header(file.data(), file.size(), file.size(), "f").tensors.size(), 2u);
  for (std::size_t length = 0; length < file.size(); ++length) {
    const std::vector<std::uint8_t> prefix(file.begin(), file.begin() + static_cast<long>(length));
    expect_error([&] { parse_safetensors_header(prefix.data(), length, length, "f"); },
                 ErrorCode::kIo, {"f: "});
  }
}

// The fuzzing seed corpus (fuzz/corpus): each input parses or is a clean kIo error.
TEST(SafetensorsHeader, FuzzSeedCorpusParsesOrFailsCleanly) {
  int files = 0;
  int parsed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(MARLIN_FUZZ_CORPUS)) {
    const auto bytes = testing::read_file(entry.path().string());
    ++files;
    try {
      parse_safetensors_header(bytes.data(), bytes.size(), bytes.size(), "seed");
      ++parsed;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::kIo) << entry.path();
    }
  }
  EXPECT_GE(files, 5);
  EXPECT_GE(parsed, 4);  // the seeds include valid headers
}

}  // namespace
}  // namespace marlin::io

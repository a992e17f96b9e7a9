// convert_checkpoint on tiny model folders (convert_test_model.h): float (RTN), symmetric GPTQ,
// and the safety rules for IN and OUT. The other schemes: test_convert_schemes.cpp.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "convert_test_model.h"
#include "io_test_util.h"
#include "marlin/io/checkpoint.h"
#include "marlin/io/convert.h"
#include "marlin/io/model_files.h"
#include "marlin/half.h"
#include "marlin/pack.h"
#include "tensor_builder.h"

namespace marlin::io {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::kConfig;
using testing::kHidden;
using testing::kIntermediate;
using testing::random_halves;
using testing::ScratchDir;
using testing::write_float_model;
using testing::write_gptq_model;

std::vector<std::string> listing(const std::string& folder) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) {
    names.push_back(entry.path().filename().string() + ":" +
                    std::to_string(entry.is_regular_file() ? entry.file_size() : 0));
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Convert, FloatModelToMarlinWithRtn) {
  ScratchDir dir;
  const std::string in = dir.file("in");
  const std::string out = dir.file("out");
  write_float_model(in);
  const auto before = testing::read_file(in + "/model.safetensors");
  ConvertOptions options;
  options.input = in;
  options.output = out;
  options.group_size = 32;
  std::size_t calls = 0;
  ConvertProgress last;
  const ConvertSummary summary = convert_checkpoint(options, [&](const ConvertProgress& p) {
    ++calls;
    last = p;
  });
  EXPECT_EQ(summary.input_kind, "float16");
  EXPECT_EQ(summary.quantized_modules, 7u);
  // The tiny model's k=64 and 128-row layers are exact checkpoints but below the GEMM's k rule.
  // down_proj (k=128, n=64) is the one the GEMM runs.
  ASSERT_EQ(summary.gemm_unsupported.size(), 6u);
  EXPECT_NE(std::find(summary.gemm_unsupported.begin(), summary.gemm_unsupported.end(),
                      "model.layers.0.self_attn.q_proj: k=64 must be a positive multiple of 128"),
            summary.gemm_unsupported.end());
  for (const auto& line : summary.gemm_unsupported)
    EXPECT_EQ(line.find("down_proj"), std::string::npos) << line;
  EXPECT_EQ(summary.copied_tensors, 3u);
  EXPECT_EQ(summary.verified_values, 7u * 256);
  EXPECT_EQ(calls, 3u + 2 * 7);
  EXPECT_EQ(last.tensors_done, last.tensors_total);
  EXPECT_EQ(last.bytes_done, last.bytes_total);
  EXPECT_LT(summary.output_bytes, summary.input_bytes);
  EXPECT_EQ(testing::read_file(in + "/model.safetensors"), before);  // input untouched

  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(out);
  EXPECT_EQ(checkpoint.modules().size(), 7u);
  EXPECT_EQ(checkpoint.metadata().group_size, 32);
  EXPECT_EQ(checkpoint.metadata().source, "rtn from float16");
  EXPECT_EQ(checkpoint.metadata().bits, 4);
  EXPECT_FALSE(checkpoint.metadata().zero_points);
  EXPECT_FALSE(checkpoint.metadata().act_order);
  EXPECT_FALSE(checkpoint.files().contains("model.layers.0.mlp.down_proj.zeros"));
  EXPECT_FALSE(checkpoint.files().contains("model.layers.0.mlp.down_proj.perm"));
  // down_proj: k = intermediate (128), n = hidden (64); W = weight^T.
  const QuantizedMatrix down = unpack(checkpoint.load("model.layers.0.mlp.down_proj"));
  EXPECT_EQ(down.k, kIntermediate);
  EXPECT_EQ(down.n, kHidden);
  const auto weight = random_halves(static_cast<std::size_t>(kHidden * kIntermediate), 7);
  const std::vector<float> values = dequantize(down);
  for (int i = 0; i < kIntermediate; i += 7) {
    for (int j = 0; j < kHidden; j += 5) {
      const float original = half_to_float(Half{weight[static_cast<std::size_t>(j * kIntermediate + i)]});
      const float scale = down.scales[static_cast<std::size_t>(down.group_of_row(i) * kHidden + j)];
      ASSERT_LE(std::fabs(values[static_cast<std::size_t>(i * kHidden + j)] - original),
                0.5f * scale + 1e-6f);
    }
  }
  const auto norm = checkpoint.files().tensor("model.layers.0.input_layernorm.weight");
  EXPECT_EQ(norm.size, 2u * kHidden);
  EXPECT_TRUE(fs::exists(out + "/tokenizer.json"));
  const std::string config = testing::read_file_text(out + "/config.json");
  EXPECT_NE(config.find("\"quant_method\": \"marlin\""), std::string::npos);
}

TEST(Convert, SafetyRulesForInputAndOutput) {
  ScratchDir dir;
  const std::string in = dir.file("in");
  write_float_model(in);
  const auto in_listing = listing(in);
  ConvertOptions options;
  options.input = in;
  options.group_size = 32;
  options.force = true;
  for (const std::string& out : {in, in + "/", in + "/sub", dir.path()}) {
    options.output = out;
    expect_error([&] { convert_checkpoint(options); }, ErrorCode::kInvalidArgument,
                 {"must not be the same folder or inside one another"});
  }
  EXPECT_EQ(listing(in), in_listing);

  options.output = dir.file("out");
  options.force = false;
  fs::create_directories(options.output);
  testing::write_text(options.output + "/old.txt", "x");
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kInvalidArgument,
               {"exists; pass --force"});
  fs::create_directories(options.output + "/nested");
  options.force = true;
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kInvalidArgument,
               {"not a plain file"});
  fs::remove(options.output + "/nested");
  convert_checkpoint(options);
  EXPECT_FALSE(fs::exists(options.output + "/old.txt"));
  EXPECT_TRUE(fs::exists(options.output + "/model.safetensors"));
  // No staging or backup folders left next to the output.
  EXPECT_EQ(listing(dir.path()).size(), 2u);
  EXPECT_EQ(listing(in), in_listing);
}

TEST(Convert, GroupSizeThatDoesNotDivideKIsRefusedBeforeWriting) {
  ScratchDir dir;
  write_float_model(dir.file("in"));
  ConvertOptions options;
  options.input = dir.file("in");
  options.output = dir.file("out");
  options.group_size = 48;
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kUnsupported,
               {"7 of 7 linear layers cannot be packed", "q_proj", "not a multiple of group size 48"});
  EXPECT_FALSE(fs::exists(options.output));
  EXPECT_EQ(listing(dir.path()).size(), 1u);
}

TEST(Convert, GptqSymmetricConvertsAndMatchesImport) {
  ScratchDir dir;
  write_gptq_model(dir.file("in"), {});
  ConvertOptions options;
  options.input = dir.file("in");
  options.output = dir.file("out");
  const ConvertSummary summary = convert_checkpoint(options);
  EXPECT_EQ(summary.input_kind, "gptq");
  EXPECT_EQ(summary.quantized_modules, 7u);
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(options.output);
  EXPECT_EQ(checkpoint.metadata().source, "gptq");
  EXPECT_EQ(checkpoint.metadata().group_size, 32);
  // Row 9, column 3 of q_proj: qweight word (9/8, 3), nibble 9%8, zero 8, scale of group 0.
  const auto in_files = ModelFiles::open(options.input);
  const auto qweight = in_files.tensor("model.layers.0.self_attn.q_proj.qweight");
  const std::uint32_t word = testing::read_word(qweight, 1 * kHidden + 3);
  const int code = static_cast<int>((word >> 4) & 0xF);
  const QuantizedMatrix q = unpack(checkpoint.load("model.layers.0.self_attn.q_proj"));
  EXPECT_EQ(q.q[9 * kHidden + 3], code);
  EXPECT_EQ(dequantize(q)[9 * kHidden + 3], static_cast<float>(code - 8) * half_to_float(float_to_half(0.04f)));
}

TEST(Convert, RefusesMarlinInputAndQuantizedTensorsWithoutConfig) {
  ScratchDir dir;
  write_float_model(dir.file("in"));
  ConvertOptions options;
  options.input = dir.file("in");
  options.output = dir.file("out");
  options.group_size = 64;
  convert_checkpoint(options);
  options.input = dir.file("out");
  options.output = dir.file("again");
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kInvalidArgument,
               {"already a marlin checkpoint"});
  // The marlin tensors (.qweight) under a plain config look quantized: refused, not copied.
  testing::write_text(dir.file("out") + "/config.json", std::string(kConfig) + "}");
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kIo,
               {"looks quantized", "no quantization_config"});
}

}  // namespace
}  // namespace marlin::io

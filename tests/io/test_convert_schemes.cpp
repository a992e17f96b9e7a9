// convert_checkpoint for the schemes beyond symmetric INT4: act-order GPTQ (<module>.perm), AWQ
// and asymmetric GPTQ (<module>.zeros), 8-bit GPTQ and 8-bit RTN (INT8 tiles). Every module read
// back from the checkpoint unpacks to exactly what the importer reads from IN. And what is still
// refused, with the rule.
#include <cmath>
#include <filesystem>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "convert_test_model.h"
#include "io_test_util.h"
#include "marlin/io/checkpoint.h"
#include "marlin/io/convert.h"
#include "marlin/io/importers.h"
#include "marlin/io/model_files.h"
#include "marlin/pack.h"

namespace marlin::io {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;
using testing::GptqModel;
using testing::kGroupSize;
using testing::kHidden;
using testing::kIntermediate;
using testing::kLinears;
using testing::ScratchDir;

ConvertOptions options_for(const ScratchDir& dir) {
  ConvertOptions options;
  options.input = dir.file("in");
  options.output = dir.file("out");
  return options;
}

using Importer = std::function<QuantizedMatrix(const ModelFiles& in, const std::string& module)>;

Importer gptq_importer(int bits, bool symmetric) {
  return [bits, symmetric](const ModelFiles& in, const std::string& module) {
    const GptqTensors t{in.tensor(module + ".qweight"), in.tensor(module + ".qzeros"),
                        in.tensor(module + ".scales"), in.tensor(module + ".g_idx")};
    return import_gptq(t, bits, kGroupSize, GptqZeros::kMinusOne, symmetric);
  };
}

QuantizedMatrix awq_import(const ModelFiles& in, const std::string& module) {
  return import_awq({in.tensor(module + ".qweight"), in.tensor(module + ".qzeros"),
                     in.tensor(module + ".scales")},
                    kGroupSize);
}

// Every linear layer of OUT unpacks to exactly what `import` reads from IN (codes, zeros, scales,
// g_idx, scheme), and stores .zeros / .perm exactly when its scheme / g_idx needs them.
void expect_modules_round_trip(const ConvertOptions& options, const Importer& import) {
  const ModelFiles in = ModelFiles::open(options.input);
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(options.output);
  ASSERT_EQ(checkpoint.modules().size(), 7u);
  for (const auto& linear : kLinears) {
    const std::string module = linear.name;
    const QuantizedMatrix want = import(in, module);
    const QuantizedMatrix got = unpack(checkpoint.load(module));
    EXPECT_EQ(got.scheme, want.scheme) << module;
    EXPECT_EQ(got.k, linear.k) << module;
    EXPECT_EQ(got.n, linear.n) << module;
    EXPECT_EQ(got.group_size, kGroupSize) << module;
    EXPECT_EQ(got.scale_dtype, want.scale_dtype) << module;
    EXPECT_EQ(got.q, want.q) << module;
    EXPECT_EQ(got.scales, want.scales) << module;
    EXPECT_EQ(got.zeros, want.zeros) << module;
    EXPECT_EQ(got.g_idx, want.g_idx) << module;
    EXPECT_EQ(checkpoint.files().contains(zeros_name(module)), !want.zeros.empty()) << module;
    EXPECT_EQ(checkpoint.files().contains(perm_name(module)), !want.g_idx.empty()) << module;
  }
}

TEST(ConvertSchemes, GptqActOrderStoresPermAndRoundTrips) {
  ScratchDir dir;
  GptqModel model;
  model.act_order = true;
  testing::write_gptq_model(dir.file("in"), model);
  const ConvertOptions options = options_for(dir);
  const ConvertSummary summary = convert_checkpoint(options);
  EXPECT_EQ(summary.quantized_modules, 7u);
  EXPECT_EQ(summary.verified_values, 7u * 256);
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(options.output);
  EXPECT_TRUE(checkpoint.metadata().act_order);
  EXPECT_FALSE(checkpoint.metadata().zero_points);
  EXPECT_EQ(checkpoint.metadata().bits, 4);
  // q_proj: k=64 in 2 groups, row i in group 7i % 2, so group 0 is the even rows, in order.
  const TensorData perm = checkpoint.files().tensor("model.layers.0.self_attn.q_proj.perm");
  EXPECT_EQ(perm.dtype, StDType::kI32);
  EXPECT_EQ(perm.shape, (std::vector<std::uint64_t>{kHidden}));
  EXPECT_EQ(testing::read_word(perm, 0), 0u);
  EXPECT_EQ(testing::read_word(perm, 1), 2u);
  EXPECT_EQ(testing::read_word(perm, 31), 62u);
  EXPECT_EQ(testing::read_word(perm, 32), 1u);
  EXPECT_EQ(testing::read_word(perm, 63), 63u);
  expect_modules_round_trip(options, gptq_importer(4, true));
  const std::string config = testing::read_file_text(options.output + "/config.json");
  EXPECT_NE(config.find("\"act_order\": true"), std::string::npos);
}

TEST(ConvertSchemes, AwqStoresZeroPointsAndRoundTrips) {
  ScratchDir dir;
  testing::write_awq_model(dir.file("in"));
  const ConvertOptions options = options_for(dir);
  const ConvertSummary summary = convert_checkpoint(options);
  EXPECT_EQ(summary.input_kind, "awq");
  EXPECT_EQ(summary.quantized_modules, 7u);
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(options.output);
  EXPECT_TRUE(checkpoint.metadata().zero_points);
  EXPECT_FALSE(checkpoint.metadata().act_order);
  EXPECT_EQ(checkpoint.metadata().source, "awq");
  // down_proj: k=128 -> 4 groups x n=64 zero bytes, transposed per 64 columns like the scales.
  const std::string down = "model.layers.0.mlp.down_proj";
  const TensorData zeros = checkpoint.files().tensor(zeros_name(down));
  EXPECT_EQ(zeros.dtype, StDType::kU8);
  EXPECT_EQ(zeros.shape, (std::vector<std::uint64_t>{4, kHidden}));
  const QuantizedMatrix imported = awq_import(ModelFiles::open(options.input), down);
  EXPECT_EQ(zeros.data[1], imported.zeros[8]);            // stored position 1: column 8
  EXPECT_EQ(zeros.data[64 + 8], imported.zeros[64 + 1]);  // group 1, position 8: column 1
  expect_modules_round_trip(options, awq_import);
}

TEST(ConvertSchemes, AsymmetricGptqWithActOrderStoresZerosAndPerm) {
  ScratchDir dir;
  GptqModel model;
  model.symmetric = false;
  model.act_order = true;
  testing::write_gptq_model(dir.file("in"), model);
  const ConvertOptions options = options_for(dir);
  convert_checkpoint(options);
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(options.output);
  EXPECT_TRUE(checkpoint.metadata().zero_points);
  EXPECT_TRUE(checkpoint.metadata().act_order);
  expect_modules_round_trip(options, gptq_importer(4, false));
}

TEST(ConvertSchemes, EightBitGptqPacksInt8Tiles) {
  ScratchDir dir;
  GptqModel model;
  model.bits = 8;
  model.act_order = true;
  testing::write_gptq_model(dir.file("in"), model);
  const ConvertOptions options = options_for(dir);
  convert_checkpoint(options);
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(options.output);
  EXPECT_EQ(checkpoint.metadata().bits, 8);
  EXPECT_TRUE(checkpoint.metadata().act_order);
  EXPECT_FALSE(checkpoint.metadata().zero_points);
  // INT8: a band of 16 rows is 16 * n bytes = 4n words.
  EXPECT_EQ(checkpoint.files().info("model.layers.0.mlp.up_proj.qweight").shape,
            (std::vector<std::uint64_t>{kHidden / 16, 4 * kIntermediate}));
  EXPECT_EQ(unpack(checkpoint.load("model.layers.0.mlp.up_proj")).scheme,
            QuantScheme::kSymmetricInt8);
  expect_modules_round_trip(options, gptq_importer(8, true));
}

TEST(ConvertSchemes, FloatModelToInt8WithRtn) {
  ScratchDir dir;
  testing::write_float_model(dir.file("in"));
  ConvertOptions options = options_for(dir);
  options.bits = 8;
  options.group_size = 64;
  const ConvertSummary summary = convert_checkpoint(options);
  EXPECT_EQ(summary.quantized_modules, 7u);
  const MarlinCheckpoint checkpoint = MarlinCheckpoint::open(options.output);
  EXPECT_EQ(checkpoint.metadata().bits, 8);
  EXPECT_EQ(checkpoint.metadata().source, "rtn from float16");
  const QuantizedMatrix down = unpack(checkpoint.load("model.layers.0.mlp.down_proj"));
  EXPECT_EQ(down.scheme, QuantScheme::kSymmetricInt8);
  // W = weight^T (down_proj is the 7th layer: seed 7), within half a step of the original; INT8
  // steps are ~16x finer than INT4 ones, so most values land much closer.
  const auto weight = testing::random_halves(static_cast<std::size_t>(kHidden * kIntermediate), 7);
  const std::vector<float> values = dequantize(down);
  int codes_away_from_zero = 0;
  for (int i = 0; i < kIntermediate; ++i) {
    for (int j = 0; j < kHidden; ++j) {
      const auto at = static_cast<std::size_t>(j * kIntermediate + i);  // weight is [n, k]
      const float original = half_to_float(Half{weight[at]});
      const float scale = down.scales[static_cast<std::size_t>(down.group_of_row(i) * kHidden + j)];
      ASSERT_LE(std::fabs(values[static_cast<std::size_t>(i * kHidden + j)] - original),
                0.5f * scale + 1e-6f);
      const int code = down.q[static_cast<std::size_t>(i * kHidden + j)];
      codes_away_from_zero += code < 128 - 15 || code > 128 + 15;  // beyond the INT4 range
    }
  }
  EXPECT_GT(codes_away_from_zero, kHidden * kIntermediate / 2);
}

TEST(ConvertSchemes, WhatTheFormatCannotHoldIsStillRefusedWithTheRule) {
  ScratchDir dir;
  ConvertOptions options = options_for(dir);
  GptqModel uneven;
  uneven.uneven_groups = true;
  testing::write_gptq_model(options.input, uneven);
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kUnsupported,
               {"7 of 7 linear layers cannot be packed",
                "act-order (g_idx) only when every group has exactly group_size rows",
                "model.layers.0.self_attn.q_proj: act-order: group 0 has 40 rows; the packed "
                "format needs exactly group_size=32 per group"});
  EXPECT_FALSE(fs::exists(options.output));

  // 8-bit GPTQ with zero points: marlin's INT8 is symmetric.
  GptqModel asymmetric_int8;
  asymmetric_int8.bits = 8;
  asymmetric_int8.symmetric = false;
  fs::remove_all(options.input);
  testing::write_gptq_model(options.input, asymmetric_int8);
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kUnsupported,
               {"7 of 7 linear layers cannot be packed", "mlp.down_proj: GPTQ import",
                "asymmetric INT8 is not supported"});
  EXPECT_FALSE(fs::exists(options.output));

  // 8-bit checkpoints of other formats: their importers read 4-bit codes only.
  fs::remove_all(options.input);
  testing::write_awq_model(options.input);
  std::string config = testing::read_file_text(options.input + "/config.json");
  config.replace(config.find("\"bits\": 4"), 9, "\"bits\": 8");
  testing::write_text(options.input + "/config.json", config);
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kUnsupported,
               {"8-bit awq checkpoints are not supported (4-bit checkpoints, and 8-bit GPTQ)"});

  fs::remove_all(options.input);
  testing::write_float_model(options.input);
  options.bits = 3;
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kInvalidArgument,
               {"convert: bits=3 must be 4 or 8"});
  EXPECT_FALSE(fs::exists(options.output));
}

}  // namespace
}  // namespace marlin::io

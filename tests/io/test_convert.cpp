// convert_checkpoint on tiny model folders built here: float (RTN), GPTQ, AWQ (refused), and
// the safety rules for IN and OUT.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

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
using testing::ScratchDir;

constexpr int kHidden = 64;
constexpr int kIntermediate = 128;

const char* kConfig = R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 1,
  "num_attention_heads": 4, "num_key_value_heads": 4, "intermediate_size": 128,
  "vocab_size": 32, "torch_dtype": "float16")";

struct Linear {
  const char* name;
  int n, k;  // PyTorch weight [n, k]
};
const Linear kLinears[] = {
    {"model.layers.0.self_attn.q_proj", kHidden, kHidden},
    {"model.layers.0.self_attn.k_proj", kHidden, kHidden},
    {"model.layers.0.self_attn.v_proj", kHidden, kHidden},
    {"model.layers.0.self_attn.o_proj", kHidden, kHidden},
    {"model.layers.0.mlp.gate_proj", kIntermediate, kHidden},
    {"model.layers.0.mlp.up_proj", kIntermediate, kHidden},
    {"model.layers.0.mlp.down_proj", kHidden, kIntermediate},
};

std::vector<std::uint16_t> random_halves(std::size_t count, std::uint32_t seed) {
  testing::Lcg rng(seed);
  std::vector<std::uint16_t> bits;
  for (std::size_t i = 0; i < count; ++i) {
    bits.push_back(float_to_half(static_cast<float>(rng.below(2001) - 1000) / 4000.0f).bits);
  }
  return bits;
}

// The untouched tensors every test model has.
void add_common(SafetensorsWriter& writer, std::vector<std::vector<std::uint16_t>>& keep) {
  keep.push_back(random_halves(32 * kHidden, 100));
  writer.add_borrowed("model.embed_tokens.weight", StDType::kF16, {32, kHidden},
                      keep.back().data(), keep.back().size() * 2);
  keep.push_back(random_halves(kHidden, 101));
  writer.add_borrowed("model.layers.0.input_layernorm.weight", StDType::kF16, {kHidden},
                      keep.back().data(), keep.back().size() * 2);
  keep.push_back(random_halves(32 * kHidden, 102));
  writer.add_borrowed("lm_head.weight", StDType::kF16, {32, kHidden}, keep.back().data(),
                      keep.back().size() * 2);
}

void write_float_model(const std::string& folder) {
  fs::create_directories(folder);
  testing::write_text(folder + "/config.json", std::string(kConfig) + "}");
  testing::write_text(folder + "/tokenizer.json", "{}");
  SafetensorsWriter writer;
  std::vector<std::vector<std::uint16_t>> keep;
  add_common(writer, keep);
  std::uint32_t seed = 1;
  for (const auto& linear : kLinears) {
    keep.push_back(random_halves(static_cast<std::size_t>(linear.n * linear.k), seed++));
    writer.add_borrowed(std::string(linear.name) + ".weight", StDType::kF16,
                        {static_cast<std::uint64_t>(linear.n), static_cast<std::uint64_t>(linear.k)},
                        keep.back().data(), keep.back().size() * 2);
  }
  writer.write(folder + "/model.safetensors");
}

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

// GPTQ v1 symmetric tensors for every linear layer, packed from the format description.
void write_gptq_model(const std::string& folder, bool act_order) {
  fs::create_directories(folder);
  testing::write_text(folder + "/config.json", std::string(kConfig) +
      R"(, "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 32,
         "desc_act": )" + (act_order ? "true" : "false") + R"(, "sym": true}})");
  SafetensorsWriter writer;
  std::vector<std::vector<std::uint16_t>> keep;
  add_common(writer, keep);
  std::vector<std::vector<std::uint32_t>> words;
  testing::Lcg rng(3);
  for (const auto& linear : kLinears) {
    const int k = linear.k, n = linear.n, groups = k / 32;
    std::vector<std::uint32_t> qweight(static_cast<std::size_t>(k / 8 * n), 0);
    for (auto& word : qweight) word = rng.next() ^ (rng.next() << 16);
    std::vector<std::uint32_t> qzeros(static_cast<std::size_t>(groups * n / 8), 0x77777777u);
    std::vector<std::uint32_t> g_idx(static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) g_idx[static_cast<std::size_t>(i)] = act_order ? (i * 7) % groups : i / 32;
    keep.push_back({});
    for (int i = 0; i < groups * n; ++i) keep.back().push_back(float_to_half(0.01f * static_cast<float>(1 + i % 5)).bits);
    const std::string base = linear.name;
    words.push_back(qweight);
    writer.add_copy(base + ".qweight", StDType::kI32, {static_cast<std::uint64_t>(k / 8), static_cast<std::uint64_t>(n)}, qweight.data(), qweight.size() * 4);
    writer.add_copy(base + ".qzeros", StDType::kI32, {static_cast<std::uint64_t>(groups), static_cast<std::uint64_t>(n / 8)}, qzeros.data(), qzeros.size() * 4);
    writer.add_copy(base + ".scales", StDType::kF16, {static_cast<std::uint64_t>(groups), static_cast<std::uint64_t>(n)}, keep.back().data(), keep.back().size() * 2);
    writer.add_copy(base + ".g_idx", StDType::kI32, {static_cast<std::uint64_t>(k)}, g_idx.data(), g_idx.size() * 4);
  }
  writer.write(folder + "/model.safetensors");
}

TEST(Convert, GptqSymmetricConvertsAndMatchesImport) {
  ScratchDir dir;
  write_gptq_model(dir.file("in"), /*act_order=*/false);
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

TEST(Convert, ActOrderAndAwqAreRefusedWithTheRule) {
  ScratchDir dir;
  write_gptq_model(dir.file("in"), /*act_order=*/true);
  ConvertOptions options;
  options.input = dir.file("in");
  options.output = dir.file("out");
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kUnsupported,
               {"7 of 7 linear layers cannot be packed yet", "without act-order",
                "model.layers.0.mlp.down_proj: pack: act-order"});
  EXPECT_FALSE(fs::exists(options.output));

  // AWQ stores zeros (asymmetric): every layer is refused, none silently skipped.
  const std::string awq = dir.file("awq");
  fs::create_directories(awq);
  testing::write_text(awq + "/config.json", std::string(kConfig) +
      R"(, "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 32,
         "zero_point": true, "version": "gemm"}})");
  SafetensorsWriter writer;
  std::vector<std::vector<std::uint16_t>> keep;
  add_common(writer, keep);
  for (const auto& linear : kLinears) {
    const auto k = static_cast<std::uint64_t>(linear.k), n = static_cast<std::uint64_t>(linear.n);
    const std::vector<std::uint32_t> qweight(k * n / 8, 0x12345678u), qzeros(k / 32 * n / 8, 0x76543210u);
    const std::vector<std::uint16_t> scales(k / 32 * n, float_to_half(0.5f).bits);
    const std::string base = linear.name;
    writer.add_copy(base + ".qweight", StDType::kI32, {k, n / 8}, qweight.data(), qweight.size() * 4);
    writer.add_copy(base + ".qzeros", StDType::kI32, {k / 32, n / 8}, qzeros.data(), qzeros.size() * 4);
    writer.add_copy(base + ".scales", StDType::kF16, {k / 32, n}, scales.data(), scales.size() * 2);
  }
  writer.write(awq + "/model.safetensors");
  options.input = awq;
  expect_error([&] { convert_checkpoint(options); }, ErrorCode::kUnsupported,
               {"7 of 7 linear layers cannot be packed yet", "symmetric INT4",
                "model.layers.0.self_attn.q_proj: pack: only symmetric INT4"});
  EXPECT_FALSE(fs::exists(options.output));
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

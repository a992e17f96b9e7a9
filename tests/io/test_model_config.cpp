#include <string>

#include <gtest/gtest.h>

#include "io_test_util.h"
#include "marlin/io/model_config.h"
#include "marlin/io/model_files.h"

namespace marlin::io {
namespace {

using testing::expect_error;

const char* kLlama = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 4096,
  "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
  "intermediate_size": 14336, "vocab_size": 128256, "max_position_embeddings": 131072,
  "rope_theta": 500000.0, "rms_norm_eps": 1e-05, "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"}})";

TEST(ModelConfig, ParsesLlama3) {
  const ModelConfig c = parse_model_config(kLlama, "config.json");
  EXPECT_EQ(c.architecture, "LlamaForCausalLM");
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.intermediate_size, 14336);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.rope_theta, 500000.0);
  EXPECT_EQ(c.rope_scaling.type, "llama3");
  EXPECT_EQ(c.rope_scaling.factor, 8.0);
  EXPECT_EQ(c.rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_FALSE(c.quantization.has_value());
}

TEST(ModelConfig, ParsesQwen2WithGptqAndDefaults) {
  const ModelConfig c = parse_model_config(R"({
    "model_type": "qwen2", "hidden_size": 896, "num_hidden_layers": 24,
    "num_attention_heads": 14, "num_key_value_heads": 2, "intermediate_size": 4864,
    "vocab_size": 151936, "tie_word_embeddings": true, "rope_scaling": null,
    "quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128,
                            "desc_act": true, "sym": true, "checkpoint_format": "gptq_v2"}})",
                                           "qwen/config.json");
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.rope_theta, 10000.0);
  EXPECT_TRUE(c.rope_scaling.type.empty());
  ASSERT_TRUE(c.quantization.has_value());
  EXPECT_EQ(c.quantization->format, CheckpointFormat::kGptqV2);
  EXPECT_TRUE(c.quantization->desc_act);
  EXPECT_EQ(c.quantization->group_size, 128);
}

TEST(QuantizationConfig, ParsesAwqCompressedTensorsAndQuantizeConfigJson) {
  const auto awq = parse_quantization_config(
      R"({"quant_method": "awq", "bits": 4, "group_size": 64, "zero_point": true, "version": "gemm"})",
      "c");
  EXPECT_EQ(awq.format, CheckpointFormat::kAwq);
  EXPECT_EQ(awq.group_size, 64);
  EXPECT_FALSE(awq.symmetric);
  const auto ct = parse_quantization_config(R"({"quant_method": "compressed-tensors",
      "format": "pack-quantized", "config_groups": {"group_0": {"targets": ["Linear"],
      "weights": {"num_bits": 4, "type": "int", "symmetric": true, "strategy": "group",
                  "group_size": 32}}}, "ignore": ["lm_head"]})",
                                            "c");
  EXPECT_EQ(ct.format, CheckpointFormat::kCompressedTensors);
  EXPECT_EQ(ct.group_size, 32);
  EXPECT_TRUE(ct.symmetric);
  const auto gptq = parse_quantization_config(
      R"({"bits": 4, "group_size": -1, "desc_act": false, "sym": false})", "quantize_config.json");
  EXPECT_EQ(gptq.format, CheckpointFormat::kGptq);
  EXPECT_EQ(gptq.group_size, -1);
  EXPECT_FALSE(gptq.symmetric);
}

TEST(ModelConfig, ErrorsNameFileAndKey) {
  expect_error([] { parse_model_config(R"({"model_type": "gpt2"})", "m/config.json"); },
               ErrorCode::kIo, {"m/config.json", "'model_type'", "gpt2"});
  expect_error([] { parse_model_config(R"({"model_type": "llama", "hidden_size": "big"})", "c"); },
               ErrorCode::kIo, {"'hidden_size'", "integer"});
  expect_error([] {
    parse_model_config(R"({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 1,
      "num_attention_heads": 4, "intermediate_size": 128})", "c");
  }, ErrorCode::kIo, {"'vocab_size'", "missing"});
  expect_error([] { parse_model_config("{", "c"); }, ErrorCode::kIo, {"not valid JSON"});
  expect_error([] { parse_quantization_config(R"({"quant_method": "bnb"})", "q"); },
               ErrorCode::kIo, {"'quant_method'", "bnb"});
  expect_error([] {
    parse_quantization_config(R"({"quant_method": "gptq", "bits": 4, "checkpoint_format": "x"})", "q");
  }, ErrorCode::kIo, {"checkpoint_format"});
  expect_error([] {
    parse_quantization_config(R"({"quant_method": "awq", "bits": 4, "version": "gemv"})", "q");
  }, ErrorCode::kIo, {"gemv"});
}

TEST(ModelFiles, ShardedIndexIsValidated) {
  testing::ScratchDir dir;
  const std::uint16_t one = 0x3c00;
  for (const char* shard : {"a.safetensors", "b.safetensors"}) {
    SafetensorsWriter writer;
    writer.add_borrowed(std::string("t_") + shard[0], StDType::kF16, {1}, &one, 2);
    writer.write(dir.file(shard));
  }
  testing::write_text(dir.file("model.safetensors.index.json"),
                      R"({"weight_map": {"t_a": "a.safetensors", "t_b": "b.safetensors"}})");
  const ModelFiles files = ModelFiles::open(dir.path());
  EXPECT_EQ(files.names(), (std::vector<std::string>{"t_a", "t_b"}));
  EXPECT_EQ(files.files().size(), 2u);
  EXPECT_EQ(files.tensor("t_b").size, 2u);
  EXPECT_EQ(files.total_bytes(), 4u);

  testing::write_text(dir.file("model.safetensors.index.json"),
                      R"({"weight_map": {"t_a": "../a.safetensors"}})");
  expect_error([&] { ModelFiles::open(dir.path()); }, ErrorCode::kIo,
               {"index.json", "'../a.safetensors'", "plain file name"});
  testing::write_text(dir.file("model.safetensors.index.json"),
                      R"({"weight_map": {"t_a": "b.safetensors"}})");
  expect_error([&] { ModelFiles::open(dir.path()); }, ErrorCode::kIo,
               {"'t_a'", "does not hold it"});
  testing::write_text(dir.file("model.safetensors.index.json"), R"({"weight_map": 3})");
  expect_error([&] { ModelFiles::open(dir.path()); }, ErrorCode::kIo, {"weight_map"});
}

}  // namespace
}  // namespace marlin::io

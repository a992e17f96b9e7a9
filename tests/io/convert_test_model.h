// Tiny one-layer Llama model folders for the convert tests: float weights, or GPTQ (4 or 8 bits,
// symmetric or not, with or without act-order) and AWQ tensors packed here from each format's
// description, plus the untouched tensors (embeddings, a norm, lm_head) every model has.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io_test_util.h"
#include "marlin/half.h"
#include "marlin/io/safetensors.h"
#include "tensor_builder.h"

namespace marlin::io::testing {

constexpr int kHidden = 64;
constexpr int kIntermediate = 128;
constexpr int kGroupSize = 32;  // of every quantized model here

// Without its closing brace, so a test can append a quantization_config.
inline const char* const kConfig = R"({"model_type": "llama", "hidden_size": 64,
  "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 4,
  "intermediate_size": 128, "vocab_size": 32, "torch_dtype": "float16")";

struct Linear {
  const char* name;
  int n, k;  // PyTorch weight [n, k]
};
inline const Linear kLinears[] = {
    {"model.layers.0.self_attn.q_proj", kHidden, kHidden},
    {"model.layers.0.self_attn.k_proj", kHidden, kHidden},
    {"model.layers.0.self_attn.v_proj", kHidden, kHidden},
    {"model.layers.0.self_attn.o_proj", kHidden, kHidden},
    {"model.layers.0.mlp.gate_proj", kIntermediate, kHidden},
    {"model.layers.0.mlp.up_proj", kIntermediate, kHidden},
    {"model.layers.0.mlp.down_proj", kHidden, kIntermediate},
};

inline std::vector<std::uint16_t> random_halves(std::size_t count, std::uint32_t seed) {
  Lcg rng(seed);
  std::vector<std::uint16_t> bits;
  for (std::size_t i = 0; i < count; ++i) {
    bits.push_back(float_to_half(static_cast<float>(rng.below(2001) - 1000) / 4000.0f).bits);
  }
  return bits;
}

inline void add_i32(SafetensorsWriter& writer, const std::string& name,
                    std::vector<std::uint64_t> shape, const std::vector<std::uint32_t>& words) {
  writer.add_copy(name, StDType::kI32, std::move(shape), words.data(), words.size() * 4);
}

inline void add_f16(SafetensorsWriter& writer, const std::string& name,
                    std::vector<std::uint64_t> shape, const std::vector<std::uint16_t>& bits) {
  writer.add_copy(name, StDType::kF16, std::move(shape), bits.data(), bits.size() * 2);
}

// The untouched tensors every test model has.
inline void add_common(SafetensorsWriter& writer) {
  add_f16(writer, "model.embed_tokens.weight", {32, kHidden}, random_halves(32 * kHidden, 100));
  add_f16(writer, "model.layers.0.input_layernorm.weight", {kHidden}, random_halves(kHidden, 101));
  add_f16(writer, "lm_head.weight", {32, kHidden}, random_halves(32 * kHidden, 102));
}

inline void write_float_model(const std::string& folder) {
  std::filesystem::create_directories(folder);
  write_text(folder + "/config.json", std::string(kConfig) + "}");
  write_text(folder + "/tokenizer.json", "{}");
  SafetensorsWriter writer;
  add_common(writer);
  std::uint32_t seed = 1;
  for (const auto& linear : kLinears) {
    const auto weight = random_halves(static_cast<std::size_t>(linear.n * linear.k), seed++);
    add_f16(writer, std::string(linear.name) + ".weight",
            {static_cast<std::uint64_t>(linear.n), static_cast<std::uint64_t>(linear.k)}, weight);
  }
  writer.write(folder + "/model.safetensors");
}

struct GptqModel {
  int bits = 4;
  bool symmetric = true;       // every zero 2^(bits-1), stored as 2^(bits-1) - 1 (v1)
  bool act_order = false;      // g_idx scatters the groups: row i is in group (7 i) % groups
  bool uneven_groups = false;  // g_idx puts 40 rows in group 0 (act-order packing refuses it)
};

// GPTQ v1 tensors for every linear layer, c = 32 / bits codes per int32: qweight [k/c, n] along
// k, qzeros [groups, n/c] along n (zero - 1), scales [groups, n], g_idx [k].
inline void write_gptq_model(const std::string& folder, const GptqModel& model) {
  std::filesystem::create_directories(folder);
  const bool desc_act = model.act_order || model.uneven_groups;
  write_text(folder + "/config.json",
             std::string(kConfig) + R"(, "quantization_config": {"quant_method": "gptq", )" +
                 R"("bits": )" + std::to_string(model.bits) + R"(, "group_size": 32, )" +
                 R"("desc_act": )" + (desc_act ? "true" : "false") + R"(, "sym": )" +
                 (model.symmetric ? "true" : "false") + "}}");
  SafetensorsWriter writer;
  add_common(writer);
  Lcg rng(3);
  const int per_word = 32 / model.bits;
  const std::uint32_t mask = (1u << model.bits) - 1u;
  for (const auto& linear : kLinears) {
    const int k = linear.k, n = linear.n, groups = k / kGroupSize;
    std::vector<std::uint32_t> qweight(static_cast<std::size_t>(k / per_word * n));
    for (auto& word : qweight) word = rng.next() ^ (rng.next() << 16);
    std::vector<std::uint32_t> qzeros(static_cast<std::size_t>(groups * n / per_word), 0);
    for (std::size_t i = 0; i < qzeros.size() * per_word; ++i) {
      // v1 stores zero - 1; asymmetric zeros in [1, mask] so that zero - 1 fits.
      const auto stored = static_cast<std::uint32_t>(
          model.symmetric ? static_cast<int>(mask >> 1) : rng.below(static_cast<int>(mask)));
      qzeros[i / per_word] |= stored << (model.bits * (i % per_word));
    }
    std::vector<std::uint32_t> g_idx(static_cast<std::size_t>(k));
    for (int i = 0; i < k; ++i) {
      g_idx[static_cast<std::size_t>(i)] =
          model.uneven_groups ? (i < 40 ? 0 : 1 + i % (groups - 1))
          : model.act_order   ? (i * 7) % groups
                              : i / kGroupSize;
    }
    std::vector<std::uint16_t> scales;
    for (int i = 0; i < groups * n; ++i) {
      scales.push_back(float_to_half(0.01f * static_cast<float>(1 + i % 5)).bits);
    }
    const std::string base = linear.name;
    const auto u = [](int value) { return static_cast<std::uint64_t>(value); };
    add_i32(writer, base + ".qweight", {u(k / per_word), u(n)}, qweight);
    add_i32(writer, base + ".qzeros", {u(groups), u(n / per_word)}, qzeros);
    add_f16(writer, base + ".scales", {u(groups), u(n)}, scales);
    add_i32(writer, base + ".g_idx", {u(k)}, g_idx);
  }
  writer.write(folder + "/model.safetensors");
}

// AWQ (GEMM packing) tensors for every linear layer, random codes and zeros: qweight [k, n/8]
// and qzeros [groups, n/8] along n in AWQ's interleaved order, scales [groups, n].
inline void write_awq_model(const std::string& folder) {
  std::filesystem::create_directories(folder);
  write_text(folder + "/config.json", std::string(kConfig) +
      R"(, "quantization_config": {"quant_method": "awq", "bits": 4, "group_size": 32,
         "zero_point": true, "version": "gemm"}})");
  SafetensorsWriter writer;
  add_common(writer);
  Lcg rng(4);
  for (const auto& linear : kLinears) {
    const auto k = static_cast<std::uint64_t>(linear.k), n = static_cast<std::uint64_t>(linear.n);
    std::vector<std::uint32_t> qweight(k * n / 8), qzeros(k / kGroupSize * n / 8);
    for (auto& word : qweight) word = rng.next() ^ (rng.next() << 16);
    for (auto& word : qzeros) word = rng.next() ^ (rng.next() << 16);
    std::vector<std::uint16_t> scales;
    for (std::uint64_t i = 0; i < k / kGroupSize * n; ++i) {
      scales.push_back(float_to_half(0.005f * static_cast<float>(1 + rng.below(9))).bits);
    }
    const std::string base = linear.name;
    add_i32(writer, base + ".qweight", {k, n / 8}, qweight);
    add_i32(writer, base + ".qzeros", {k / kGroupSize, n / 8}, qzeros);
    add_f16(writer, base + ".scales", {k / kGroupSize, n}, scales);
  }
  writer.write(folder + "/model.safetensors");
}

}  // namespace marlin::io::testing

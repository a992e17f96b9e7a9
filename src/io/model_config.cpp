// config.json and quantization configs. Every field read is type-checked; errors name the file
// and the key.
#include <filesystem>

#include <nlohmann/json.hpp>

#include "io/io_util.h"
#include "marlin/io/model_config.h"

namespace marlin::io {

namespace {

using Json = nlohmann::json;

class Reader {
 public:
  Reader(const Json& object, std::string label) : object_(object), label_(std::move(label)) {}

  bool has(const char* key) const { return object_.contains(key) && !object_[key].is_null(); }

  long integer(const char* key) const {
    const Json& value = field(key);
    if (!value.is_number_integer()) fail(key, "must be an integer");
    return value.get<long>();
  }
  long integer(const char* key, long fallback) const { return has(key) ? integer(key) : fallback; }
  int positive_int(const char* key) const {
    const long value = integer(key);
    if (value <= 0 || value > (1L << 30)) fail(key, "must be a positive integer, got " +
                                                       std::to_string(value));
    return static_cast<int>(value);
  }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const Json& value = field(key);
    if (!value.is_number()) fail(key, "must be a number");
    return value.get<double>();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const Json& value = field(key);
    if (!value.is_boolean()) fail(key, "must be true or false");
    return value.get<bool>();
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const Json& value = field(key);
    if (!value.is_string()) fail(key, "must be a string");
    return value.get<std::string>();
  }

  [[noreturn]] void fail(const char* key, const std::string& rule) const {
    throw_io(label_ + ": '" + key + "' " + rule);
  }

 private:
  const Json& field(const char* key) const {
    if (!has(key)) fail(key, "is missing");
    return object_[key];
  }
  const Json& object_;
  std::string label_;
};

Json parse_object(const std::string& text, const std::string& label) {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::exception& error) {
    throw_io(label + ": not valid JSON: " + error.what());
  }
  if (!root.is_object()) throw_io(label + ": expected a JSON object");
  return root;
}

QuantizationConfig quantization_from(const Json& object, const std::string& label) {
  const Reader reader(object, label);
  QuantizationConfig config;
  const std::string method = reader.string("quant_method", "gptq");
  if (method == "gptq") {
    const std::string format = reader.string("checkpoint_format", "gptq");
    if (format == "gptq") {
      config.format = CheckpointFormat::kGptq;
    } else if (format == "gptq_v2") {
      config.format = CheckpointFormat::kGptqV2;
    } else {
      reader.fail("checkpoint_format", "'" + format + "' is not supported (gptq, gptq_v2)");
    }
    config.bits = static_cast<int>(reader.integer("bits"));
    config.group_size = static_cast<int>(reader.integer("group_size", 128));
    config.desc_act = reader.boolean("desc_act", false);
    config.symmetric = reader.boolean("sym", true);
  } else if (method == "awq") {
    const std::string version = reader.string("version", "gemm");
    if (version != "gemm" && version != "GEMM") {
      reader.fail("version", "'" + version + "' is not supported (only AWQ GEMM packing)");
    }
    config.format = CheckpointFormat::kAwq;
    config.bits = static_cast<int>(reader.integer(reader.has("w_bit") ? "w_bit" : "bits"));
    config.group_size = static_cast<int>(
        reader.integer(reader.has("q_group_size") ? "q_group_size" : "group_size", 128));
    config.symmetric = !reader.boolean("zero_point", true);
  } else if (method == "compressed-tensors") {
    config.format = CheckpointFormat::kCompressedTensors;
    const std::string format = reader.string("format", "");
    if (format != "pack-quantized") {
      reader.fail("format", "'" + format + "' is not supported (only pack-quantized)");
    }
    if (!object.contains("config_groups") || !object["config_groups"].is_object() ||
        object["config_groups"].size() != 1) {
      reader.fail("config_groups", "must hold exactly one group (mixed schemes not supported)");
    }
    const Json& groups = object["config_groups"];
    const Json& group = groups.begin().value();
    if (!group.is_object() || !group.contains("weights") || !group["weights"].is_object()) {
      reader.fail("config_groups", "group must have a 'weights' object");
    }
    const Reader weights(group["weights"], label + " config_groups.weights");
    if (weights.string("type", "int") != "int") weights.fail("type", "must be 'int'");
    config.bits = static_cast<int>(weights.integer("num_bits"));
    config.symmetric = weights.boolean("symmetric", true);
    const std::string strategy = weights.string("strategy", "group");
    if (strategy == "group") {
      config.group_size = static_cast<int>(weights.integer("group_size"));
    } else if (strategy == "channel") {
      config.group_size = -1;
    } else {
      weights.fail("strategy", "'" + strategy + "' is not supported (group, channel)");
    }
    config.desc_act = weights.has("actorder");
  } else if (method == "marlin") {
    config.format = CheckpointFormat::kMarlin;
    config.bits = static_cast<int>(reader.integer("bits"));
    config.group_size = static_cast<int>(reader.integer("group_size"));
  } else {
    reader.fail("quant_method",
                "'" + method + "' is not supported (gptq, awq, compressed-tensors, marlin)");
  }
  if (config.group_size != -1 && config.group_size <= 0) {
    reader.fail("group_size", "must be positive or -1, got " + std::to_string(config.group_size));
  }
  return config;
}

}  // namespace

const char* checkpoint_format_name(CheckpointFormat format) {
  switch (format) {
    case CheckpointFormat::kGptq: return "gptq";
    case CheckpointFormat::kGptqV2: return "gptq_v2";
    case CheckpointFormat::kAwq: return "awq";
    case CheckpointFormat::kCompressedTensors: return "compressed-tensors";
    case CheckpointFormat::kMarlin: return "marlin";
  }
  return "?";
}

QuantizationConfig parse_quantization_config(const std::string& json_text,
                                             const std::string& label) {
  return quantization_from(parse_object(json_text, label), label);
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& label) {
  const Json root = parse_object(json_text, label);
  const Reader reader(root, label);
  ModelConfig config;
  config.model_type = reader.string("model_type", "");
  if (config.model_type != "llama" && config.model_type != "mistral" &&
      config.model_type != "qwen2") {
    reader.fail("model_type", "'" + config.model_type + "' is not supported (llama, mistral, qwen2)");
  }
  if (root.contains("architectures")) {
    const Json& list = root["architectures"];
    if (!list.is_array() || list.empty() || !list[0].is_string()) {
      reader.fail("architectures", "must be a list of strings");
    }
    config.architecture = list[0].get<std::string>();
  }
  config.hidden_size = reader.positive_int("hidden_size");
  config.num_hidden_layers = reader.positive_int("num_hidden_layers");
  config.num_attention_heads = reader.positive_int("num_attention_heads");
  config.num_key_value_heads = reader.has("num_key_value_heads")
                                   ? reader.positive_int("num_key_value_heads")
                                   : config.num_attention_heads;
  config.intermediate_size = reader.positive_int("intermediate_size");
  config.vocab_size = reader.positive_int("vocab_size");
  config.head_dim = reader.has("head_dim") ? reader.positive_int("head_dim")
                                           : config.hidden_size / config.num_attention_heads;
  if (!reader.has("head_dim") && config.hidden_size % config.num_attention_heads != 0) {
    reader.fail("hidden_size", "must be a multiple of num_attention_heads");
  }
  if (config.num_attention_heads % config.num_key_value_heads != 0) {
    reader.fail("num_key_value_heads", "must divide num_attention_heads");
  }
  config.max_position_embeddings = reader.integer("max_position_embeddings", 0);
  config.rope_theta = reader.number("rope_theta", 10000.0);
  config.rms_norm_eps = reader.number("rms_norm_eps", 1e-6);
  config.tie_word_embeddings = reader.boolean("tie_word_embeddings", false);
  config.torch_dtype = reader.string("torch_dtype", "");
  if (reader.has("rope_scaling")) {
    const Json& scaling = root["rope_scaling"];
    if (!scaling.is_object()) reader.fail("rope_scaling", "must be an object or null");
    const Reader rope(scaling, label + " rope_scaling");
    config.rope_scaling.type = rope.string("rope_type", rope.string("type", ""));
    if (config.rope_scaling.type.empty()) rope.fail("rope_type", "is missing");
    config.rope_scaling.factor = rope.number("factor", 1.0);
    config.rope_scaling.low_freq_factor = rope.number("low_freq_factor", 0.0);
    config.rope_scaling.high_freq_factor = rope.number("high_freq_factor", 0.0);
    config.rope_scaling.original_max_position_embeddings =
        rope.integer("original_max_position_embeddings", 0);
  }
  if (reader.has("quantization_config")) {
    if (!root["quantization_config"].is_object()) {
      reader.fail("quantization_config", "must be an object");
    }
    config.quantization = quantization_from(root["quantization_config"],
                                            label + " quantization_config");
  }
  return config;
}

ModelConfig load_model_config(const std::string& folder) {
  const auto config_path = std::filesystem::path(folder) / "config.json";
  ModelConfig config = parse_model_config(read_text_file(config_path.string()),
                                          config_path.string());
  const auto gptq_path = std::filesystem::path(folder) / "quantize_config.json";
  if (!config.quantization && std::filesystem::exists(gptq_path)) {
    config.quantization = parse_quantization_config(read_text_file(gptq_path.string()),
                                                    gptq_path.string());
  }
  return config;
}

}  // namespace marlin::io

// convert_checkpoint: plan (every module packable?), write into a staging folder, verify by
// reading it back, then move it into place.
#include "marlin/io/convert.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "io/convert_source.h"
#include "io/io_util.h"
#include "marlin/gemm_shapes.h"
#include "marlin/io/checkpoint.h"
#include "marlin/pack.h"

namespace marlin::io {

namespace fs = std::filesystem;

namespace {

// Small files of a model folder worth carrying along (tokenizer, generation defaults).
const char* const kCopiedFiles[] = {"generation_config.json", "tokenizer.json",
                                    "tokenizer_config.json",  "tokenizer.model",
                                    "special_tokens_map.json", "vocab.json", "merges.txt"};

bool is_inside(const fs::path& inner, const fs::path& outer) {
  auto outer_it = outer.begin();
  auto inner_it = inner.begin();
  for (; outer_it != outer.end(); ++outer_it, ++inner_it) {
    if (outer_it->empty()) continue;  // trailing separator
    if (inner_it == inner.end() || *inner_it != *outer_it) return false;
  }
  return true;
}

void check_paths(const ConvertOptions& options) {
  require(!options.input.empty() && !options.output.empty(), "convert: IN and OUT are required");
  if (!fs::is_directory(options.input)) {
    throw Error(ErrorCode::kIo, "convert: input " + options.input + " is not a folder");
  }
  const fs::path in = fs::weakly_canonical(fs::absolute(options.input));
  const fs::path out = fs::weakly_canonical(fs::absolute(options.output));
  require(!is_inside(out, in) && !is_inside(in, out),
          "convert: output " + out.string() + " and input " + in.string() +
              " must not be the same folder or inside one another (the input is never written)");
  if (fs::exists(fs::symlink_status(options.output))) {
    require(options.force, "convert: output " + options.output +
                               " exists; pass --force to replace it");
    require(!fs::is_symlink(options.output),
            "convert: output " + options.output + " is a symbolic link; refusing to replace it");
    if (fs::is_directory(options.output)) {
      for (const auto& entry : fs::directory_iterator(options.output)) {
        require(entry.is_regular_file(),
                "convert: output " + options.output + " holds " + entry.path().filename().string() +
                    ", which is not a plain file; --force only replaces checkpoint-like folders");
      }
    }
  }
}

// A staging folder next to the output; removed unless committed.
class Staging {
 public:
  explicit Staging(const fs::path& output) : output_(fs::absolute(output)) {
    const fs::path parent = output_.parent_path();
    fs::create_directories(parent);
    std::string pattern = (parent / ("." + output_.filename().string() + ".marlin-staging-XXXXXX")).string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) {
      throw Error(ErrorCode::kIo, "convert: cannot create a staging folder next to " +
                                      output_.string());
    }
    path_ = buffer.data();
  }
  ~Staging() {
    if (!committed_) {
      std::error_code ignored;
      fs::remove_all(path_, ignored);  // our own fresh folder
    }
  }
  const fs::path& path() const { return path_; }

  void commit() {
    std::error_code error;
    fs::path old;
    if (fs::exists(fs::symlink_status(output_))) {
      old = output_;
      old += ".marlin-old";
      fs::remove_all(old, error);
      fs::rename(output_, old);
    }
    fs::rename(path_, output_);
    committed_ = true;
    if (!old.empty()) fs::remove_all(old, error);
  }

 private:
  fs::path output_;
  fs::path path_;
  bool committed_ = false;
};

std::string list_blocked(const std::vector<std::string>& blocked, std::size_t total) {
  std::string message = "convert: " + std::to_string(blocked.size()) + " of " +
                        std::to_string(total) + " linear layers cannot be packed. Rule: the " +
                        "packed format holds INT4 (implicit zero 8, or zero points 0..15) and " +
                        "symmetric INT8 (implicit zero 128) with fp16 or bf16 scales, k a " +
                        "multiple of 16, n a multiple of 64, a group size dividing k, and " +
                        "act-order (g_idx) only when every group has exactly group_size rows. " +
                        "Refused layers:";
  const std::size_t shown = std::min<std::size_t>(blocked.size(), 12);
  for (std::size_t i = 0; i < shown; ++i) message += "\n  " + blocked[i];
  if (blocked.size() > shown) {
    message += "\n  ... and " + std::to_string(blocked.size() - shown) + " more";
  }
  return message;
}

// Compares `samples` deterministic positions of the written module with what was meant.
std::size_t verify_module(const std::string& module, const QuantizedMatrix& expected,
                          const PackedMatrix& written, const std::vector<float>* original,
                          int samples) {
  const QuantizedMatrix read_back = unpack(written);
  const std::vector<float> want = dequantize(expected);
  const std::vector<float> got = dequantize(read_back);
  const std::size_t count = want.size();
  std::uint64_t state = 0x9E3779B97F4A7C15ull ^ count;
  for (int s = 0; s < samples; ++s) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    const std::size_t i = s == 0 ? 0 : s == 1 ? count - 1 : (state >> 17) % count;
    if (got[i] != want[i]) {
      throw Error(ErrorCode::kInternal, "convert: verification failed for '" + module +
                                            "' at element " + std::to_string(i) + ": wrote " +
                                            std::to_string(got[i]) + ", expected " +
                                            std::to_string(want[i]));
    }
    if (original) {
      const int row = static_cast<int>(i / static_cast<std::size_t>(expected.n));
      const int col = static_cast<int>(i % static_cast<std::size_t>(expected.n));
      const float scale = expected.scales[static_cast<std::size_t>(expected.group_of_row(row)) *
                                              expected.n + col];
      const float error = std::fabs(got[i] - (*original)[i]);
      if (error > 0.5f * scale * (1 + 1e-5f) + 1e-7f) {
        throw Error(ErrorCode::kInternal, "convert: verification failed for '" + module +
                                              "' at element " + std::to_string(i) + ": |" +
                                              std::to_string(got[i]) + " - " +
                                              std::to_string((*original)[i]) + "| > scale/2");
      }
    }
  }
  return static_cast<std::size_t>(samples);
}

}  // namespace

ConvertSummary convert_checkpoint(const ConvertOptions& options,
                                  const std::function<void(const ConvertProgress&)>& progress) {
  check_paths(options);
  const detail::ConvertSource source(options.input, options.group_size, options.bits);

  // Plan: every module's shape and packability, before anything is written.
  struct Planned {
    const detail::Module* module;
    PackedModuleShape shape;
  };
  std::vector<Planned> plan;
  std::vector<std::string> blocked;
  DType scale_dtype = DType::kFloat16;
  for (const auto& module : source.modules()) {
    try {
      if (source.is_float()) {
        require(options.group_size == kPerChannel ||
                    (options.group_size > 0 && module.k % options.group_size == 0),
                "k=" + std::to_string(module.k) + " is not a multiple of group size " +
                    std::to_string(options.group_size));
        require(module.k % 16 == 0 && module.n % 64 == 0,
                "k=" + std::to_string(module.k) + ", n=" + std::to_string(module.n) +
                    " must be multiples of 16 and 64");
        scale_dtype = source.files().info(module.name + ".weight").dtype == StDType::kBF16
                          ? DType::kBFloat16
                          : DType::kFloat16;
        const QuantScheme scheme = source.bits() == 8 ? QuantScheme::kSymmetricInt8
                                                      : QuantScheme::kSymmetricInt4;
        plan.push_back({&module, {scheme, module.k, module.n, false}});
      } else {
        const QuantizedMatrix w = source.matrix(module);
        check_packable(w);
        if (!plan.empty() && w.scale_dtype != scale_dtype) {
          throw Error(ErrorCode::kUnsupported, "scale dtype differs from other layers");
        }
        scale_dtype = w.scale_dtype;
        plan.push_back({&module, packed_module_shape(w)});
      }
    } catch (const Error& error) {
      if (error.code() == ErrorCode::kIo) throw;
      blocked.push_back(module.name + ": " + error.what());
    }
  }
  if (!blocked.empty()) {
    throw Error(ErrorCode::kUnsupported, list_blocked(blocked, source.modules().size()));
  }

  CheckpointMetadata metadata;
  metadata.bits = source.bits();
  metadata.group_size = source.group_size();
  for (const auto& planned : plan) {
    metadata.zero_points = metadata.zero_points || scheme_has_zeros(planned.shape.scheme);
    metadata.act_order = metadata.act_order || planned.shape.permuted;
  }
  metadata.scale_dtype = scale_dtype;
  metadata.source = source.is_float() ? "rtn from " + source.kind() : source.kind();

  Staging staging(options.output);
  CheckpointWriter writer(staging.path().string(), metadata, options.max_shard_bytes);
  ConvertSummary summary;
  summary.input_kind = source.kind();
  summary.input_bytes = source.files().total_bytes();
  for (const auto& planned : plan) {
    const std::string violation =
        gemm_shape_violation(planned.shape.k, planned.shape.n, metadata.group_size);
    if (!violation.empty()) summary.gemm_unsupported.push_back(planned.module->name + ": " + violation);
  }
  const ModelFiles& files = source.files();
  for (const auto& name : files.names()) {
    if (source.consumed(name)) continue;
    const TensorInfo& info = files.info(name);
    const TensorData data = files.tensor(name);
    writer.add_tensor(name, info.dtype, info.shape, [data](std::vector<std::uint8_t>& out) {
      out.assign(data.data, data.data + data.size);
    });
    ++summary.copied_tensors;
  }
  for (const auto& planned : plan) {
    const detail::Module* module = planned.module;
    writer.add_packed(module->name, planned.shape,
                      [&source, module] { return pack(source.matrix(*module)); });
    ++summary.quantized_modules;
  }

  ConvertProgress state;
  state.tensors_total = writer.tensor_count();
  state.bytes_total = writer.total_bytes();
  writer.write([&](const std::string& name, std::uint64_t bytes) {
    ++state.tensors_done;
    state.bytes_done += bytes;
    state.current = name;
    if (progress) progress(state);
  });
  const fs::path input(options.input);
  write_checkpoint_config(read_text_file((input / "config.json").string()),
                          (input / "config.json").string(), metadata, staging.path().string());
  for (const char* file : kCopiedFiles) {
    if (fs::is_regular_file(input / file)) fs::copy_file(input / file, staging.path() / file);
  }

  // Verify what was written, reading it back the way a loader will.
  const MarlinCheckpoint written = MarlinCheckpoint::open(staging.path().string());
  if (written.modules().size() != plan.size()) {
    throw Error(ErrorCode::kInternal, "convert: wrote " + std::to_string(written.modules().size()) +
                                          " modules, planned " + std::to_string(plan.size()));
  }
  for (const auto& planned : plan) {
    const QuantizedMatrix expected = source.matrix(*planned.module);
    std::vector<float> original;
    if (source.is_float()) original = source.float_weights(*planned.module);
    summary.verified_values +=
        verify_module(planned.module->name, expected, written.load(planned.module->name),
                      source.is_float() ? &original : nullptr, options.verify_samples);
  }
  for (const auto& name : files.names()) {
    if (source.consumed(name)) continue;
    const TensorData before = files.tensor(name);
    const TensorData after = written.files().tensor(name);
    if (before.size != after.size || before.dtype != after.dtype || before.shape != after.shape ||
        std::memcmp(before.data, after.data, before.size) != 0) {
      throw Error(ErrorCode::kInternal, "convert: verification failed: copied tensor '" + name +
                                            "' differs from the input");
    }
  }
  for (const auto& file : written.files().files()) {
    summary.output_bytes += fs::file_size(file.path());
  }
  staging.commit();
  return summary;
}

}  // namespace marlin::io

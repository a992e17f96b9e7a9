#include "dense_options.h"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "dense_models.h"
#include "marlin/status.h"

namespace marlin::bench {
namespace {

// The m values of a variants run: where the kernels are memory-bound (m <= 16), where they stop
// being so (32, 64) and one compute-bound value; the whole table (4 models, 5 variants beside the
// reference) then took 77 s on an H100, 29 s of it preparing random weights on the host.
const std::vector<int> kVariantMValues{1, 16, 32, 64, 128};
// --quick --variants: two layers of llama-2-7b, one wide (n = 12288) and one deep (k = 11008).
const std::vector<std::string> kQuickVariantLayers{"qkv_proj", "down_proj"};

}  // namespace

bool is_selected(const std::vector<std::string>& chosen, const std::string& name) {
  return chosen.empty() || std::find(chosen.begin(), chosen.end(), name) != chosen.end();
}

void add_options(CLI::App& app, Options& options) {
  std::vector<std::string> model_names;
  std::vector<std::string> layer_names;
  for (const auto& model : dense_models()) {
    model_names.push_back(model.name);
    for (const auto& layer : model.layers) {
      if (std::find(layer_names.begin(), layer_names.end(), layer.name) == layer_names.end()) {
        layer_names.push_back(layer.name);
      }
    }
  }
  std::vector<std::string> variant_names;
  for (const auto& variant : kernel_variants()) variant_names.push_back(variant.name);

  app.add_option("--models", options.models, "models to run (default: all; --quick: llama-2-7b)")
      ->check(CLI::IsMember(model_names));
  app.add_option("--layers", options.layers,
                 "layers of each model to run, by name (default: all; --quick --variants: "
                 "qkv_proj down_proj)")
      ->check(CLI::IsMember(layer_names));
  app.add_option("--m", options.m_values,
                 "rows of A (default 1 2 4 ... 1024; --variants: 1 16 32 64 128; --quick: "
                 "1 16 128; --quick --variants: 1 16 64)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--group", options.group_size,
                 "group size of the reference kernel; -1 = per-channel (--variants: 128 only)")
      ->capture_default_str();
  app.add_flag("--variants", options.variants,
               "also time the variants of issue #6 (bf16, zero points, act-order, INT8, group 32) "
               "against the reference; writes ...-dense-variants.csv/.md");
  app.add_option("--variant", options.variant_names,
                 "time only this variant (repeatable; implies --variants)")
      ->check(CLI::IsMember(variant_names));
  app.add_option("--out-dir", options.out_dir, "where the CSV and markdown go")
      ->capture_default_str();
  app.add_flag("--quick", options.quick,
               "smoke test: fewer launches and samples, llama-2-7b, m in {1, 16, 128} "
               "(with --variants: layers qkv_proj and down_proj, m in {1, 16, 64})");
  app.add_option("--iters", options.iters, "launches per timed sample (default 50; --quick: 10)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--samples", options.samples,
                 "timed samples, median reported (default 10; --quick: 3)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--candidates", options.candidates,
                 "cuBLASLt heuristic candidates to measure (default 8; --quick: 4)")
      ->check(CLI::Range(1, 64));
  app.add_option("--timing", options.timing, "graph: CUDA graph of --iters launches; loop: plain")
      ->check(CLI::IsMember({"graph", "loop"}))
      ->capture_default_str();
  app.add_option("--cublas-weights", options.cublas_weights,
                 "16-bit weight storage for cuBLAS: nk (torch.nn.Linear, W^T row-major) or kn")
      ->check(CLI::IsMember({"nk", "kn"}))
      ->capture_default_str();
  app.add_flag("--static-weights", options.static_weights,
               "launch every kernel with GemmArgs::static_weights: on sm_90+ a programmatic "
               "dependent launch, which streams its weights while the previous launch finishes; "
               "kernel names get _pdl, files -pdl");
  app.add_option("--device", options.device, "CUDA device index")->capture_default_str();
  app.add_option("--seed", options.seed, "seed of the random data")->capture_default_str();
  app.add_flag("--list-configs", options.list_configs,
               "print the names of the dense kernel configurations (for MARLIN_DENSE_CONFIG, "
               "scripts/sweep-dense-configs.sh) and exit");
}

void apply_defaults(const CLI::App& app, Options& options) {
  if (!options.variant_names.empty()) options.variants = true;
  const bool m_given = app.count("--m") > 0;
  if (options.quick) {
    if (app.count("--models") == 0) options.models = {"llama-2-7b"};
    if (options.variants && app.count("--layers") == 0) options.layers = kQuickVariantLayers;
    if (!m_given) options.m_values = options.variants ? std::vector<int>{1, 16, 64}
                                                      : std::vector<int>{1, 16, 128};
    if (app.count("--iters") == 0) options.iters = 10;
    if (app.count("--samples") == 0) options.samples = 3;
    if (app.count("--candidates") == 0) options.candidates = 4;
  } else if (options.variants && !m_given) {
    options.m_values = kVariantMValues;
  }

  require(options.group_size == kPerChannel || options.group_size > 0,
          "--group=" + std::to_string(options.group_size) + " must be positive or -1");
  require(!options.variants || options.group_size == 128,
          "--group=" + std::to_string(options.group_size) +
              ": --variants compares every variant with the group-128 reference; the group must "
              "be 128");
  bool any_layer = false;
  for (const auto& model : dense_models()) {
    if (!is_selected(options.models, model.name)) continue;
    for (const auto& layer : model.layers) {
      any_layer = any_layer || is_selected(options.layers, layer.name);
    }
  }
  require(any_layer, "--models and --layers select no layer (the layers of `large` are named "
                     "`matrix`)");
}

std::vector<KernelVariant> selected_kernels(const Options& options) {
  std::vector<KernelVariant> kernels{reference_kernel(options.group_size)};
  if (options.variants) {
    for (const auto& variant : kernel_variants()) {
      if (is_selected(options.variant_names, variant.name)) kernels.push_back(variant);
    }
  }
  if (options.static_weights) {
    for (auto& kernel : kernels) {
      kernel.name += "_pdl";
      kernel.static_weights = true;
    }
  }
  return kernels;
}

}  // namespace marlin::bench

// The command line of marlin_bench_dense: its options, the defaults that --quick and --variants
// change, and the kernels a run measures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dense_variants.h"

namespace CLI {
class App;
}

namespace marlin::bench {

struct Options {
  std::vector<std::string> models;
  std::vector<std::string> layers;  // by name (qkv_proj, ...); empty: all
  std::vector<int> m_values{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
  int group_size = 128;
  bool variants = false;                   // also time the variants of dense_variants.h
  std::vector<std::string> variant_names;  // only these variants (implies variants)
  std::string out_dir = "bench/results";
  bool quick = false;
  int iters = 50;    // launches per timed sample
  int samples = 10;  // timed samples; the median is reported
  int candidates = 8;
  std::string timing = "graph";
  std::string cublas_weights = "nk";
  bool static_weights = false;  // GemmArgs::static_weights for every kernel (names get _pdl)
  int device = 0;
  std::uint64_t seed = 1234;
  bool list_configs = false;  // print the dense configurations' names and exit
};

void add_options(CLI::App& app, Options& options);

// Whether `name` is among `chosen`; an empty list chooses everything.
bool is_selected(const std::vector<std::string>& chosen, const std::string& name);

// Defaults of the options the user did not give that --quick and --variants change; then the
// checks that span several options (throws marlin::Error naming the rule).
void apply_defaults(const CLI::App& app, Options& options);

// The reference kernel first, then the selected variants in table order.
std::vector<KernelVariant> selected_kernels(const Options& options);

}  // namespace marlin::bench

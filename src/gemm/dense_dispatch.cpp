#include "gemm/dense_dispatch.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "kernels/dense/dense_tiling.h"
#include "kernels/large_batch/large_batch_launch.h"
#include "marlin/status.h"

namespace marlin::gemm_detail {
namespace {

using namespace kernels::dense;

template <class T>
constexpr DenseConfig config_of(const char* name, int tiling, int min_tiles_per_block) {
  return {name, tiling, T::kRows, T::kTileK, T::kTileN, T::kBlocksPerSM, T::kMaxM,
          min_tiles_per_block};
}

// The entries of kConfigs: the eight tilings in dense_tiling.h's order, then one again with
// longer stripes. The first eight are also the tilings' indices among a format's kernel entries
// (dense_launch.h), which DenseConfig::tiling holds; from kHopperSmallM on they use wgmma.
enum ConfigIndex : int {
  kSmallM,
  kSmallM16,
  kMediumM,
  kLargeM,
  kHopperSmallM,
  kHopperMediumM,
  kHopperLargeM,
  kHopperWide,
  kHopperSmallMLongStripes,  // the 32-row wgmma tiling again, for small layers at m = 17..32
};

// Why these tilings and these limits: dense_tiling.h, with the measurements.
//
// Shortest stripes (H100, 2026-11-27, same-run ratios over FP16 cuBLASLt summed per model,
// plain / static_weights launches; docs/dense-kernel-notes.md, v8). Without a floor, a 4096 x 4096
// layer at m = 1 gave 256 blocks two tiles each, 16 blocks per slice:
//  - m <= 8: at least 4 tiles. 8B m = 1: 2.46 / 2.99 against 2.36 / 2.79 with none; a floor of 8
//    lost at m = 1 (2.44 / 2.82).
//  - m <= 32 on mma.sync: at least 8 (128 x 128 tiles: the same bytes as 4 of the m <= 8 tiles).
//    8B m = 16: 2.16 / 2.50 against 2.06 / 2.35 with a floor of 4.
//  - wgmma (m > 16 on Hopper): no floor, but at m = 17..32 a floor of 8 for layers under 32 Mi
//    weights (kHopperSmallMLongStripes). H100, every layer at floors 1, 4, 8 and 16, best of two
//    rounds in one run: at m = 32, 4096 x 4096 11.6 us against 13.2 with none, 4096 x 6144 15.6
//    against 16.7; 11008 x 4096 lost with it (23.0 against 22.1), and at m = 64 and 128 no floor
//    changed any layer by more than noise but for losses (70B 8192 x 57344 at m = 64: 147 us with
//    none, 150-162 with one).
constexpr DenseConfig kConfigs[kDenseTilings + 1] = {
    config_of<TilingSmallM>("m16_k128_n256_s4_b2", kSmallM, 4),
    config_of<TilingSmallM16>("m16_k128_n256_s8_swapped16", kSmallM16, 4),
    config_of<TilingMediumM>("m16_k128_n128_s6_b2", kMediumM, 8),
    config_of<TilingLargeM>("m32_k128_n256_s4", kLargeM, 8),
    config_of<TilingHopperSmallM>("m32_k128_n128_s6_b2_wgmma_x2", kHopperSmallM, 1),
    config_of<TilingHopperMediumM>("m64_k128_n256_s4_wgmma_x4", kHopperMediumM, 1),
    config_of<TilingHopperLargeM>("m128_k128_n128_s4_wgmma_x2", kHopperLargeM, 1),
    config_of<TilingHopperWide>("m128_k128_n256_s4_wgmma_x4", kHopperWide, 1),
    config_of<TilingHopperSmallM>("m32_k128_n128_s6_b2_wgmma_x2_min8", kHopperSmallM, 8),
};

// Rounds of `blocks` one-block-per-SM blocks on sm_count SMs.
long long waves_of(long long blocks, int sm_count) { return (blocks + sm_count - 1) / sm_count; }

}  // namespace

bool bandwidth_rich(double peak_bytes_per_second, int sm_count) {
  return sm_count > 0 && peak_bytes_per_second / sm_count >= kBandwidthRichBytesPerSm;
}

const DenseConfig& choose_dense_config(int m, int n, int k, bool wgmma, bool int8,
                                       bool rich) {
  if (m <= 8) return kConfigs[kSmallM];
  // m = 9..16 (H200 and H100, 2026-11-27, summed us per layer, docs/dense-kernel-notes.md v20):
  // where an SM has much bandwidth for its issue rate, the swapped loop's fewer instructions per
  // tile win the INT4 layers of at least 192 Mi weights (H200 fp16 at m = 16: 8192 x 57344 88.8
  // against 93.7 us, 8192 x 32768 56.1 against 57.4; zero points 91.6 against 101.6 and 58.1
  // against 62.4; fp16 28672 x 8192 within 1.5% either way in two runs) and lose the smaller
  // ones, whose 128 x 256 tiles partition too coarsely (4096 x 4096 12.3 against 9.8 us). INT8
  // lost with it on every layer, and the H100 on every format (2-7%).
  const long long weights = static_cast<long long>(n) * k;
  if (m <= 16) {
    return rich && !int8 && weights >= (192LL << 20) ? kConfigs[kSmallM16] : kConfigs[kMediumM];
  }
  if (!wgmma) return kConfigs[kLargeM];
  if (m <= 32) {
    return weights < (32LL << 20) ? kConfigs[kHopperSmallMLongStripes] : kConfigs[kHopperSmallM];
  }
  // From m = 33 on, the best tiling depends on the layer's size too (H100, 2026-11-27, every
  // wgmma tiling forced on every 7B/8B/70B layer, plain launches, best of two rounds in one run):
  // a small layer has so few output tiles that the wider tilings split every slice over many
  // blocks, and the last block's sum of their partials is the kernel's tail.
  //  - m = 33..64, under 48 Mi weights: the 32-row tiling (two blocks per SM, 128 columns) over
  //    two row chunks. 7B 4096 x 4096 at m = 64: 15.3 us against 19.5 us with 64-row chunks;
  //    11008 x 4096: 30.8 against 35.1. From 4096 x 12288 on the 64-row tiling wins (30.7 against
  //    33.5).
  //  - m = 65..128: the 128 x 128 tiling, whose slices are half as wide as the 256-column one's;
  //    on every layer up to n = 28672 it beat that (7B 4096 x 12288: 41.1 against 51.8 us, 70B
  //    8192 x 8192: 45.5 against 50.5), and tied at n = 57344 (275 against 273), so the
  //    256-column one keeps n >= 32768. Under 48 Mi weights, two 64-row chunks of 256 columns
  //    won again (11008 x 4096: 40.5 against 46.1 us).
  //  - m > 128: 256 columns from n = 8192 on (the notes, v7: 70B m = 512).
  const bool small_layer = weights < (48LL << 20);
  if (m <= 64) return small_layer ? kConfigs[kHopperSmallM] : kConfigs[kHopperMediumM];
  if (m <= 128) {
    if (n >= 32768) return kConfigs[kHopperWide];
    return small_layer ? kConfigs[kHopperMediumM] : kConfigs[kHopperLargeM];
  }
  return n >= 8192 ? kConfigs[kHopperWide] : kConfigs[kHopperLargeM];
}

DenseConfig parse_dense_config(const std::string& spec) {
  const std::size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const DenseConfig* found = nullptr;
  for (const DenseConfig& config : kConfigs) {
    if (name == config.name) found = &config;
  }
  if (found == nullptr) {
    std::string names;
    for (const std::string& known : dense_config_names()) {
      names += (names.empty() ? "" : ", ") + known;
    }
    throw Error(ErrorCode::kInvalidArgument, "dense configuration '" + name +
                                                 "' does not exist; the configurations are " +
                                                 names);
  }
  DenseConfig config = *found;
  if (colon != std::string::npos) {
    const std::string floor = spec.substr(colon + 1);
    const bool digits = !floor.empty() && floor.size() <= 4 &&
                        floor.find_first_not_of("0123456789") == std::string::npos;
    const int value = digits ? std::stoi(floor) : 0;
    if (value < 1 || value > 4096) {
      throw Error(ErrorCode::kInvalidArgument, "dense configuration '" + spec +
                                                   "': the floor after ':' must be a number of "
                                                   "tiles from 1 to 4096");
    }
    config.min_tiles_per_block = value;
  }
  return config;
}

std::vector<std::string> dense_config_names() {
  std::vector<std::string> names;
  for (const DenseConfig& config : kConfigs) names.emplace_back(config.name);
  return names;
}

void check_dense_config_runs(const DenseConfig& config, int m, bool wgmma) {
  if (config.tiling >= kHopperSmallM && !wgmma) {
    throw Error(ErrorCode::kInvalidArgument, std::string("dense configuration ") + config.name +
                                                 " uses warpgroup MMA: it runs on compute "
                                                 "capability 9.0 (sm_90a) only");
  }
  if (config.max_m > 0 && m > config.max_m) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string("dense configuration ") + config.name + " (A as the mma B operand) " +
                    "covers m <= " + std::to_string(config.max_m) + " only, not m=" +
                    std::to_string(m));
  }
}

const DenseConfig& dense_config_for(int m, int n, int k, bool wgmma, bool int8, bool rich) {
  // (a throw leaves the static uninitialized: every later GEMM reports the bad variable again)
  static const std::optional<DenseConfig> forced = []() -> std::optional<DenseConfig> {
    const char* spec = std::getenv("MARLIN_DENSE_CONFIG");
    if (spec == nullptr || *spec == '\0') return std::nullopt;
    return parse_dense_config(spec);
  }();
  if (!forced) return choose_dense_config(m, n, k, wgmma, int8, rich);
  check_dense_config_runs(*forced, m, wgmma);
  return *forced;
}

int large_batch_splits(long long tiles, int k_steps, int sm_count) {
  const auto waves = [&](long long blocks) { return waves_of(blocks, sm_count); };
  int best = 1;
  for (int s = 2; s <= kLargeBatchMaxSplits && s * kLargeBatchMinSplitSteps <= k_steps; ++s) {
    if (tiles * s > sm_count) break;
    // waves(tiles s) / s < waves(tiles best) / best, in integers
    if (waves(tiles * s) * best < waves(tiles * best) * s) best = s;
  }
  return best;
}

LargeBatchPlan choose_large_batch(int m, int n, int k, DType activation, QuantScheme scheme,
                                  bool wgmma, int sm_count, std::optional<bool> forced) {
  namespace lb = kernels::large_batch;
  // 64-row tiles up to m = 64 (wgmma N = 64: a 128-row tile would multiply as many padding rows
  // as real ones), 128-row tiles above.
  const int rows = m <= lb::kLargeBatchSmallRows ? lb::kLargeBatchSmallRows : lb::kLargeBatchRows;
  const lb::LargeBatchKernelEntry* const large =
      wgmma && n % lb::kLargeBatchTileN == 0
          ? lb::find_large_batch_kernel(activation, scheme, rows)
          : nullptr;
  if (large == nullptr || forced == false) return {};
  const long long tiles =
      static_cast<long long>((m + rows - 1) / rows) * (n / lb::kLargeBatchTileN);
  const int splits = large_batch_splits(tiles, k / lb::kLargeBatchTileK, sm_count);
  if (forced == true) return {large, splits};
  // Measured on an H200 (2026-11-27, docs/dense-kernel-notes.md v14-v15, every 7B, 8B, 70B and
  // `large` layer at m = 32-1024): where the blocks filled their waves to 61% or more the
  // large-batch kernel took 0.77-1.02x the dense kernel's time at m = 40-64 (64-row tiles) and
  // 0.60-0.95x from m = 72 (128-row tiles), but for 70B 8192 x 8192 at m = 112 (1.06x), 70B
  // 28672 x 8192 at m = 80 (1.02x) and two layers at m = 512 (70B qkv, 61%, 1.01x; 4096 x 4096
  // in 2 shares, 1.09x); at 48% and less 1.02-1.66x. At m = 32 it lost on 6 of the 8 layers it
  // would take (up to 1.18x). bench/large_batch_report.py applies this rule to its tables: keep
  // the two in step.
  const long long blocks = tiles * splits;
  return m >= kLargeBatchMinRows && 5 * blocks >= 3 * waves_of(blocks, sm_count) * sm_count
             ? LargeBatchPlan{large, splits}
             : LargeBatchPlan{};
}

std::optional<bool> large_batch_override() {
  // (a throw leaves the static uninitialized: every later GEMM reports the bad variable again)
  static const std::optional<bool> forced = []() -> std::optional<bool> {
    const char* value = std::getenv("MARLIN_LARGE_BATCH");
    if (value == nullptr || *value == '\0') {
      const char* dense = std::getenv("MARLIN_DENSE_CONFIG");
      if (dense != nullptr && *dense != '\0') return false;
      return std::nullopt;
    }
    const std::string text(value);
    if (text == "on") return true;
    if (text == "off") return false;
    throw Error(ErrorCode::kInvalidArgument,
                "MARLIN_LARGE_BATCH='" + text + "': the values are on and off (or unset)");
  }();
  return forced;
}

DenseGrid plan_dense_grid(long long total_tiles, int sm_count, int resident,
                          const DenseConfig& config) {
  // (at most total_tiles blocks: the floor is at least one tile)
  const long long floor_blocks = std::max(1LL, total_tiles / config.min_tiles_per_block);
  const long long target = std::min(static_cast<long long>(sm_count) * resident, floor_blocks);
  const long long tiles_per_block = (total_tiles + target - 1) / target;
  return {static_cast<int>(tiles_per_block),
          static_cast<int>((total_tiles + tiles_per_block - 1) / tiles_per_block)};
}

const kernels::dense::DenseKernelEntry& dense_kernel(DType activation, QuantScheme scheme,
                                                     const DenseConfig& config) {
  const DenseKernelEntry* entries = nullptr;
  const bool fp16 = activation == DType::kFloat16;
  if (activation == DType::kFloat16 || activation == DType::kBFloat16) {
    switch (scheme) {
      case QuantScheme::kSymmetricInt4:
        entries = fp16 ? dense_kernels_fp16_int4() : dense_kernels_bf16_int4();
        break;
      case QuantScheme::kAsymmetricInt4:
        entries =
            fp16 ? dense_kernels_fp16_int4_zero_point() : dense_kernels_bf16_int4_zero_point();
        break;
      case QuantScheme::kSymmetricInt8:
        entries = fp16 ? dense_kernels_fp16_int8() : dense_kernels_bf16_int8();
        break;
    }
  }
  if (entries == nullptr) {
    throw Error(ErrorCode::kUnsupported,
                "no dense kernel for " + std::string(dtype_name(activation)) +
                    " activations; fp16 and bf16 are supported");
  }
  return entries[config.tiling];
}

DenseWorkspaceLayout dense_workspace_layout(int max_m, int n, int sm_count, int max_act_order_k) {
  const auto round_up = [](std::size_t bytes) { return (bytes + 255) / 256 * 256; };
  std::size_t slices = 0;
  std::size_t partial_floats = 0;
  for (const DenseConfig& config : kConfigs) {
    const std::size_t chunks = static_cast<std::size_t>((max_m + config.rows - 1) / config.rows);
    const std::size_t n_tiles = static_cast<std::size_t>((n + config.tile_n - 1) / config.tile_n);
    slices = std::max(slices, chunks * n_tiles);
    const std::size_t blocks = static_cast<std::size_t>(sm_count) * config.blocks_per_sm;
    const std::size_t slot_rows = static_cast<std::size_t>(std::min(max_m, config.rows));
    partial_floats = std::max(partial_floats, 2 * blocks * slot_rows * config.tile_n);
  }
  // The large-batch kernel with k split: at most sm_count blocks (large_batch_splits keeps them
  // in one wave), so at most sm_count / 2 tiles of 2 counters each, and one slot of
  // min(m, rows) x tile n floats a block (its two half tiles).
  namespace lb = kernels::large_batch;
  const std::size_t sms = static_cast<std::size_t>(sm_count);
  const std::size_t large_rows = static_cast<std::size_t>(std::min(max_m, lb::kLargeBatchRows));
  slices = std::max(slices, sms);
  partial_floats = std::max(partial_floats, sms * large_rows * lb::kLargeBatchTileN);
  return {round_up(slices * sizeof(int)), round_up(partial_floats * sizeof(float)),
          round_up(static_cast<std::size_t>(max_m) * std::max(max_act_order_k, 0) * 2)};
}

}  // namespace marlin::gemm_detail

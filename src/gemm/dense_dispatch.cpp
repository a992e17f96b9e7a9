#include "gemm/dense_dispatch.h"

#include <algorithm>
#include <string>

#include "kernels/dense/dense_tiling.h"
#include "marlin/status.h"

namespace marlin::gemm_detail {
namespace {

using namespace kernels::dense;

template <class T>
constexpr DenseConfig config_of(const char* name, int tiling) {
  return {name, tiling, T::kRows, T::kTileK, T::kTileN, T::kBlocksPerSM};
}

// Rows: 16-row A blocks per tile. m <= 32 is memory-bound (weights dominate): 128x128 tiles,
// deep pipelines, two blocks per SM where registers allow. Larger m: 64x256 tiles; m > 64 runs
// as several 64-row chunks in one launch. n not a multiple of 256 falls back to the 32-row
// 128x128 configuration in 32-row chunks. Measurements behind each row: docs/dense-kernel-notes.md
// and bench/results/.
constexpr DenseConfig kConfigs[kDenseTilings] = {
    config_of<TilingM1>("m16_k128_n256_s4_b2", 0),
    config_of<TilingM2>("m32_k128_n128_s6_b1", 1),
    config_of<TilingM3>("m48_k64_n256_s4", 2),
    config_of<TilingM4>("m64_k64_n256_s4", 3),
};

}  // namespace

const DenseConfig& choose_dense_config(int m, int n) {
  if (m <= 16) return kConfigs[0];
  if (m <= 32 || n % 256 != 0) return kConfigs[1];
  if (m <= 48) return kConfigs[2];
  return kConfigs[3];
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
        entries = fp16 ? dense_kernels_fp16_int4_zero_point() : dense_kernels_bf16_int4_zero_point();
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
  return {round_up(slices * sizeof(int)), round_up(partial_floats * sizeof(float)),
          round_up(static_cast<std::size_t>(max_m) * std::max(max_act_order_k, 0) * 2)};
}

}  // namespace marlin::gemm_detail

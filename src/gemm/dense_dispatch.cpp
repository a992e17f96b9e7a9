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

// Why these six and these limits: dense_tiling.h, with the measurements.
constexpr DenseConfig kConfigs[kDenseTilings] = {
    config_of<TilingSmallM>("m16_k128_n256_s4_b2", 0),
    config_of<TilingMediumM>("m16_k128_n128_s6_b2", 1),
    config_of<TilingLargeM>("m32_k128_n256_s4", 2),
    config_of<TilingHopperMediumM>("m64_k128_n256_s4_wgmma_x4", 3),
    config_of<TilingHopperLargeM>("m128_k128_n128_s4_wgmma_x2", 4),
    config_of<TilingHopperWide>("m128_k128_n256_s4_wgmma_x4", 5),
};

}  // namespace

const DenseConfig& choose_dense_config(int m, int n, bool wgmma) {
  if (m <= 8) return kConfigs[0];
  if (m <= 16) return kConfigs[1];
  if (m <= 32 || !wgmma) return kConfigs[2];
  if (m <= 64) return kConfigs[3];
  return n >= 8192 ? kConfigs[5] : kConfigs[4];
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

#include "quant/gptq_common.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "marlin/status.h"

namespace marlin {

void validate_gptq_options(const GptqOptions& options, int k) {
  require(k > 0, "GPTQ: k=" + std::to_string(k) + " must be positive");
  const int group = options.group_size == kPerChannel ? k : options.group_size;
  require(options.group_size == kPerChannel || options.group_size > 0,
          "GPTQ: group_size=" + std::to_string(options.group_size) +
              " must be positive or -1 (per-channel)");
  require(k % group == 0, "GPTQ: k=" + std::to_string(k) + " must be a multiple of group_size=" +
                              std::to_string(options.group_size));
  require(options.block_size >= 1 && options.block_size <= 128,
          "GPTQ: block_size=" + std::to_string(options.block_size) + " must be in [1, 128]");
  require(options.damp_fraction > 0 && std::isfinite(options.damp_fraction),
          "GPTQ: damp_fraction=" + std::to_string(options.damp_fraction) +
              " must be positive and finite");
  require(options.max_damp_retries >= 0 && options.max_damp_retries <= 10,
          "GPTQ: max_damp_retries=" + std::to_string(options.max_damp_retries) +
              " must be in [0, 10]");
  require(options.scale_dtype == DType::kFloat16 || options.scale_dtype == DType::kBFloat16,
          "GPTQ: scale_dtype must be fp16 or bf16");
  if (options.mse_clip) {
    require(options.clip_grid >= 1 && options.clip_grid <= 1000,
            "GPTQ: clip_grid=" + std::to_string(options.clip_grid) + " must be in [1, 1000]");
    require(options.clip_min_shrink > 0 && options.clip_min_shrink <= 1,
            "GPTQ: clip_min_shrink=" + std::to_string(options.clip_min_shrink) +
                " must be in (0, 1]");
    require(options.clip_norm > 0 && options.clip_norm <= 10,
            "GPTQ: clip_norm=" + std::to_string(options.clip_norm) + " must be in (0, 10]");
  }
}

namespace gptq {

GridSpec make_grid_spec(const GptqOptions& options) {
  GridSpec grid;
  grid.max_code = (1 << scheme_bits(options.scheme)) - 1;
  grid.implicit_zero = scheme_implicit_zero(options.scheme);
  grid.bf16_scales = options.scale_dtype == DType::kBFloat16;
  grid.clip_grid = options.clip_grid;
  grid.clip_norm = static_cast<float>(options.clip_norm);
  // Shrink factors 1 - step / grid >= clip_min_shrink (the epsilon keeps 0.2 itself in).
  grid.clip_steps =
      options.mse_clip
          ? static_cast<int>(std::floor((1.0 - options.clip_min_shrink) * options.clip_grid + 1e-9)) + 1
          : 1;
  return grid;
}

std::vector<std::int32_t> processing_order(const std::vector<double>& diagonal, bool act_order) {
  std::vector<std::int32_t> order(diagonal.size());
  std::iota(order.begin(), order.end(), 0);
  if (act_order) {
    // A NaN diagonal (a broken Hessian, which then falls back to RTN) sorts last, so that the
    // comparison stays a strict weak order.
    auto key = [&](std::int32_t feature) {
      const double d = diagonal[static_cast<std::size_t>(feature)];
      return std::isnan(d) ? -std::numeric_limits<double>::infinity() : d;
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](std::int32_t a, std::int32_t b) { return key(a) > key(b); });
  }
  return order;
}

double damp_fraction_for_attempt(const GptqOptions& options, int attempt) {
  return options.damp_fraction * std::pow(10.0, attempt);
}

void warn(const GptqOptions& options, GptqReport* report, const std::string& message) {
  if (report) report->warnings.push_back(message);
  if (options.on_warning) options.on_warning(message);
}

void finish_output(const std::vector<std::int32_t>& order, const GptqOptions& options,
                   std::vector<std::uint8_t>&& codes_in_order, QuantizedMatrix& out) {
  const std::size_t n = static_cast<std::size_t>(out.n);
  const bool permuted = options.act_order;
  if (!permuted) {
    out.q = std::move(codes_in_order);
    return;
  }
  out.q.resize(codes_in_order.size());
  for (std::size_t p = 0; p < order.size(); ++p) {
    std::memcpy(&out.q[static_cast<std::size_t>(order[p]) * n], &codes_in_order[p * n], n);
  }
  if (options.group_size != kPerChannel) {
    // Groups are formed in processing order; g_idx maps each original feature to its group.
    out.g_idx.assign(order.size(), 0);
    for (std::size_t p = 0; p < order.size(); ++p) {
      out.g_idx[static_cast<std::size_t>(order[p])] =
          static_cast<std::int32_t>(p / static_cast<std::size_t>(options.group_size));
    }
  }
}

}  // namespace gptq
}  // namespace marlin

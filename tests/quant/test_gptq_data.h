// Test data for GPTQ: calibration activations shaped like an LLM's (correlated features, a few
// large-magnitude channels) and helpers to measure a quantized layer's output error.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "marlin/quant.h"

namespace marlin::test {

// Activations x = z M + noise, z ~ N(0, I_rank): features share a low-rank structure (as real
// hidden states do); every channel gets its own magnitude (log-normal), and `outliers` channels
// are `outlier_scale` times larger. The mixing matrix and channel magnitudes depend only on
// `layer_seed`, so calibration and evaluation rows drawn with different `row_seed`s come from
// the same distribution.
struct ActivationModel {
  int k = 0;
  int rank = 16;
  std::vector<float> mixing;          // rank x k
  std::vector<float> channel_scale;   // k

  ActivationModel(int features, std::uint64_t layer_seed, int outliers = 4,
                  float outlier_scale = 20.0f)
      : k(features) {
    std::mt19937_64 rng(layer_seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    mixing.resize(static_cast<std::size_t>(rank) * k);
    for (float& value : mixing) value = normal(rng) / std::sqrt(static_cast<float>(rank));
    channel_scale.resize(static_cast<std::size_t>(k));
    for (float& value : channel_scale) value = std::exp(0.5f * normal(rng));
    std::uniform_int_distribution<int> channel(0, k - 1);
    for (int i = 0; i < outliers; ++i) channel_scale[static_cast<std::size_t>(channel(rng))] *= outlier_scale;
  }

  std::vector<float> sample(int rows, std::uint64_t row_seed) const {
    std::mt19937_64 rng(row_seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::vector<float> x(static_cast<std::size_t>(rows) * k);
    std::vector<float> latent(static_cast<std::size_t>(rank));
    for (int r = 0; r < rows; ++r) {
      for (float& value : latent) value = normal(rng);
      for (int i = 0; i < k; ++i) {
        float value = 0.3f * normal(rng);
        for (int l = 0; l < rank; ++l) value += latent[l] * mixing[static_cast<std::size_t>(l) * k + i];
        x[static_cast<std::size_t>(r) * k + i] = value * channel_scale[static_cast<std::size_t>(i)];
      }
    }
    return x;
  }
};

// Gaussian weights in the Linear layout (n x k), std 1/sqrt(k), with a few 5x entries.
inline std::vector<float> random_linear_weight(int n, int k, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(k)));
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  std::vector<float> w(static_cast<std::size_t>(n) * k);
  for (float& value : w) value = normal(rng) * (uniform(rng) < 0.01f ? 5.0f : 1.0f);
  return w;
}

// The Linear layout n x k -> marlin's k x n.
inline std::vector<float> transpose_linear(const std::vector<float>& w, int n, int k) {
  std::vector<float> out(w.size());
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < k; ++i) {
      out[static_cast<std::size_t>(i) * n + j] = w[static_cast<std::size_t>(j) * k + i];
    }
  }
  return out;
}

// ||X W^T - X dequant(Q)||_F / ||X W^T||_F with X rows x k, W n x k (Linear), Q k x n.
inline double relative_output_error(const std::vector<float>& x, int rows,
                                    const std::vector<float>& weight, const QuantizedMatrix& q) {
  const int k = q.k;
  const int n = q.n;
  const std::vector<float> dequantized = dequantize(q);
  double error = 0;
  double reference = 0;
  std::vector<double> exact(static_cast<std::size_t>(n));
  std::vector<double> approx(static_cast<std::size_t>(n));
  for (int r = 0; r < rows; ++r) {
    std::fill(exact.begin(), exact.end(), 0.0);
    std::fill(approx.begin(), approx.end(), 0.0);
    for (int i = 0; i < k; ++i) {
      const double xi = x[static_cast<std::size_t>(r) * k + i];
      const float* dq_row = &dequantized[static_cast<std::size_t>(i) * n];
      for (int j = 0; j < n; ++j) {
        exact[j] += xi * weight[static_cast<std::size_t>(j) * k + i];
        approx[j] += xi * dq_row[j];
      }
    }
    for (int j = 0; j < n; ++j) {
      error += (exact[j] - approx[j]) * (exact[j] - approx[j]);
      reference += exact[j] * exact[j];
    }
  }
  return std::sqrt(error / reference);
}

// Fraction of equal codes.
inline double code_agreement(const QuantizedMatrix& a, const QuantizedMatrix& b) {
  std::size_t equal = 0;
  for (std::size_t i = 0; i < a.q.size(); ++i) equal += a.q[i] == b.q[i] ? 1 : 0;
  return static_cast<double>(equal) / static_cast<double>(a.q.size());
}

}  // namespace marlin::test

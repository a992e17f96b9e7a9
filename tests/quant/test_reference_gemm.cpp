// The reference GEMM against a naive triple loop written here, and dequantization (with and
// without an act-order map) against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "marlin/quant.h"

namespace marlin {
namespace {

// C = A * W (+ bias), A m x k, W k x n, both row-major; fp64 throughout, i-j-l loop order (the
// reference accumulates in another order, so agreement is not a tautology).
std::vector<double> naive_gemm(const std::vector<float>& a, const std::vector<float>& w, int m,
                               int n, int k, const std::vector<float>* bias) {
  std::vector<double> c(static_cast<std::size_t>(m) * n);
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double sum = bias ? static_cast<double>((*bias)[j]) : 0.0;
      for (int l = 0; l < k; ++l) {
        sum += static_cast<double>(a[static_cast<std::size_t>(i) * k + l]) *
               static_cast<double>(w[static_cast<std::size_t>(l) * n + j]);
      }
      c[static_cast<std::size_t>(i) * n + j] = sum;
    }
  }
  return c;
}

TEST(ReferenceGemm, SmallIntegersByHand) {
  // [1 2 3]   [1 0]   [ 4  5]
  // [4 5 6] * [0 1] = [10 11]   (+ bias [1, -1])
  //           [1 1]
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};
  const std::vector<float> w = {1, 0, 0, 1, 1, 1};
  EXPECT_EQ(reference_gemm(a, w, 2, 2, 3), (std::vector<double>{4, 5, 10, 11}));
  const std::vector<float> bias = {1, -1};
  EXPECT_EQ(reference_gemm(a, w, 2, 2, 3, &bias), (std::vector<double>{5, 4, 11, 10}));
}

TEST(ReferenceGemm, MatchesANaiveLoopOnRandomData) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int cases = 0;
  for (int m : {1, 3, 16}) {
    for (int k : {1, 7, 64, 129}) {
      for (int n : {1, 5, 64}) {
        std::vector<float> a(static_cast<std::size_t>(m) * k), w(static_cast<std::size_t>(k) * n);
        std::vector<float> bias(static_cast<std::size_t>(n));
        for (auto& v : a) v = normal(rng);
        for (auto& v : w) v = normal(rng);
        for (auto& v : bias) v = normal(rng);
        for (const std::vector<float>* b : {static_cast<const std::vector<float>*>(nullptr),
                                            static_cast<const std::vector<float>*>(&bias)}) {
          const auto got = reference_gemm(a, w, m, n, k, b);
          const auto expected = naive_gemm(a, w, m, n, k, b);
          ASSERT_EQ(got.size(), expected.size());
          double norm = 0;
          for (double v : expected) norm += v * v;
          ASSERT_GT(norm, 0.0);  // non-trivial data
          for (std::size_t i = 0; i < got.size(); ++i) {
            ASSERT_NEAR(got[i], expected[i], 1e-12 * (1 + std::fabs(expected[i])))
                << "m=" << m << " k=" << k << " n=" << n << (b ? " bias" : "") << " at " << i;
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_EQ(cases, 72);
}

TEST(Dequantize, SymmetricInt4ByHand) {
  QuantizedMatrix w;
  w.k = 4;
  w.n = 2;
  w.group_size = 2;
  w.q = {8, 0, 15, 9, 7, 8, 4, 12};  // rows 0-1 group 0, rows 2-3 group 1
  w.scales = {0.5f, 2.0f, 1.0f, 0.25f};
  // (q - 8) * s
  EXPECT_EQ(dequantize(w), (std::vector<float>{0.0f, -16.0f, 3.5f, 2.0f, -1.0f, 0.0f, -4.0f, 1.0f}));
}

TEST(Dequantize, ActOrderMapPicksTheGroupOfEachRow) {
  // Rows 0 and 2 belong to group 1, rows 1 and 3 to group 0 (an act-order permutation).
  QuantizedMatrix w;
  w.k = 4;
  w.n = 2;
  w.group_size = 2;
  w.q = {9, 10, 9, 10, 6, 5, 6, 5};
  w.scales = {1.0f, 2.0f,    // group 0
              0.5f, 0.25f};  // group 1
  w.g_idx = {1, 0, 1, 0};
  // row 0 (g1): (1 * 0.5, 2 * 0.25); row 1 (g0): (1 * 1, 2 * 2);
  // row 2 (g1): (-2 * 0.5, -3 * 0.25); row 3 (g0): (-2 * 1, -3 * 2)
  EXPECT_EQ(dequantize(w), (std::vector<float>{0.5f, 0.5f, 1.0f, 4.0f, -1.0f, -0.75f, -2.0f, -6.0f}));
  EXPECT_EQ(w.group_of_row(0), 1);
  EXPECT_EQ(w.group_of_row(3), 0);
  w.g_idx.clear();
  EXPECT_EQ(w.group_of_row(0), 0);
  EXPECT_EQ(w.group_of_row(3), 1);
}

TEST(Dequantize, AsymmetricInt4AndInt8ByHand) {
  QuantizedMatrix w;
  w.scheme = QuantScheme::kAsymmetricInt4;
  w.k = 2;
  w.n = 2;
  w.group_size = kPerChannel;
  w.q = {0, 15, 3, 4};
  w.scales = {0.5f, 2.0f};
  w.zeros = {3, 4};
  // (q - z) * s per column
  EXPECT_EQ(dequantize(w), (std::vector<float>{-1.5f, 22.0f, 0.0f, 0.0f}));

  QuantizedMatrix w8;
  w8.scheme = QuantScheme::kSymmetricInt8;
  w8.k = 2;
  w8.n = 1;
  w8.group_size = kPerChannel;
  w8.q = {0, 255};
  w8.scales = {0.5f};
  EXPECT_EQ(dequantize(w8), (std::vector<float>{-64.0f, 63.5f}));
}

}  // namespace
}  // namespace marlin

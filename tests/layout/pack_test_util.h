// Helpers for the packing tests: random quantized matrices of every scheme (scales drawn as bit
// patterns, so every one is exact in its type), random act-order groupings, bit-exact comparison
// and the message of an expected marlin::Error.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "marlin/half.h"
#include "marlin/quant.h"
#include "marlin/status.h"

namespace marlin::testing {

// A random positive finite scale, exactly representable in `dtype`.
inline float random_scale(std::mt19937& rng, DType dtype) {
  if (dtype == DType::kBFloat16) {
    std::uniform_int_distribution<int> bits(0x0001, 0x7f7f);  // subnormals .. largest finite
    return bf16_to_float(BFloat16{static_cast<std::uint16_t>(bits(rng))});
  }
  std::uniform_int_distribution<int> bits(0x0001, 0x7bff);
  return half_to_float(Half{static_cast<std::uint16_t>(bits(rng))});
}

// Codes over the scheme's whole range, zeros in [0, 15] for kAsymmetricInt4; no g_idx.
inline QuantizedMatrix random_quantized(std::mt19937& rng, QuantScheme scheme, int k, int n,
                                        int group_size, DType dtype) {
  QuantizedMatrix w;
  w.scheme = scheme;
  w.k = k;
  w.n = n;
  w.group_size = group_size;
  w.scale_dtype = dtype;
  std::uniform_int_distribution<int> code(0, (1 << scheme_bits(scheme)) - 1);
  w.q.resize(static_cast<std::size_t>(k) * n);
  for (auto& q : w.q) q = static_cast<std::uint8_t>(code(rng));
  w.scales.resize(static_cast<std::size_t>(w.groups()) * n);
  for (auto& s : w.scales) s = random_scale(rng, dtype);
  if (scheme_has_zeros(scheme)) {
    std::uniform_int_distribution<int> zero(0, 15);
    w.zeros.resize(w.scales.size());
    for (auto& z : w.zeros) z = static_cast<std::uint8_t>(zero(rng));
  }
  return w;
}

// A GPTQ act-order g_idx: every group holds exactly group_size rows, scattered over k.
inline std::vector<std::int32_t> random_act_order(std::mt19937& rng, int k, int group_size) {
  std::vector<std::int32_t> g_idx(static_cast<std::size_t>(k));
  for (int row = 0; row < k; ++row) g_idx[static_cast<std::size_t>(row)] = row / group_size;
  std::shuffle(g_idx.begin(), g_idx.end(), rng);
  return g_idx;
}

// Equal field by field; scales compared by value and by their fp16 and bf16 bits (no tolerance).
inline void expect_same(const QuantizedMatrix& a, const QuantizedMatrix& b,
                        const std::string& where) {
  EXPECT_EQ(a.scheme, b.scheme) << where;
  EXPECT_EQ(a.k, b.k) << where;
  EXPECT_EQ(a.n, b.n) << where;
  EXPECT_EQ(a.group_size, b.group_size) << where;
  EXPECT_EQ(a.scale_dtype, b.scale_dtype) << where;
  EXPECT_TRUE(a.q == b.q) << where;
  EXPECT_TRUE(a.zeros == b.zeros) << where;
  EXPECT_TRUE(a.g_idx == b.g_idx) << where;
  ASSERT_EQ(a.scales.size(), b.scales.size()) << where;
  for (std::size_t i = 0; i < a.scales.size(); ++i) {
    ASSERT_TRUE(float_to_half(a.scales[i]).bits == float_to_half(b.scales[i]).bits &&
                float_to_bf16(a.scales[i]).bits == float_to_bf16(b.scales[i]).bits &&
                a.scales[i] == b.scales[i])
        << where << ": scale " << i << " " << a.scales[i] << " vs " << b.scales[i];
  }
}

// The message of the marlin::Error `call` throws; fails the test if it throws nothing, something
// else, or an error of another code.
template <typename Call>
std::string error_of(Call call, ErrorCode expected_code = ErrorCode::kInvalidArgument) {
  try {
    call();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), expected_code) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected marlin::Error, got " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected marlin::Error, nothing was thrown";
  return "";
}

// Use as EXPECT_TRUE(has_text(message, part)): prints both when `part` is missing.
inline ::testing::AssertionResult has_text(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "message \"" << message << "\" lacks \"" << part << "\"";
}

}  // namespace marlin::testing

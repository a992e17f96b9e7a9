// Bad shapes and arguments are refused with marlin::Error(kInvalidArgument) and a message that
// names the rule: validate(), quantize_rtn(), reference_gemm() and the check_matrix() every entry
// point uses.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "marlin/quant.h"
#include "marlin/status.h"
#include "marlin/tensor.h"

namespace marlin {
namespace {

template <typename Call>
void expect_invalid(Call call, const std::string& rule) {
  try {
    call();
    ADD_FAILURE() << "expected an error mentioning \"" << rule << "\"; nothing was thrown";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(rule), std::string::npos)
        << "message \"" << e.what() << "\" does not mention \"" << rule << "\"";
  }
}

QuantizedMatrix valid_matrix() {
  QuantizedMatrix w;
  w.k = 64;
  w.n = 4;
  w.group_size = 32;
  w.q.assign(64 * 4, 8);
  w.scales.assign(2 * 4, 1.0f);
  return w;
}

TEST(Validate, AcceptsAConsistentMatrix) { EXPECT_NO_THROW(validate(valid_matrix())); }

TEST(Validate, NamesTheRuleThatFails) {
  auto w = valid_matrix();
  w.k = 0;
  expect_invalid([&] { validate(w); }, "k=0, n=4 must be positive");
  w = valid_matrix();
  w.group_size = 0;
  expect_invalid([&] { validate(w); }, "group_size=0 must be positive or -1");
  w = valid_matrix();
  w.group_size = 48;
  expect_invalid([&] { validate(w); }, "k=64 must be a multiple of group_size=48");
  w = valid_matrix();
  w.scale_dtype = DType::kFloat32;
  expect_invalid([&] { validate(w); }, "fp16 or bf16");
  w = valid_matrix();
  w.q.pop_back();
  expect_invalid([&] { validate(w); }, "expected k*n=256");
  w = valid_matrix();
  w.scales.resize(12);
  expect_invalid([&] { validate(w); }, "expected 2 groups x n=4");
  w = valid_matrix();
  w.q[10] = 16;
  expect_invalid([&] { validate(w); }, "q[10]=16 exceeds 15");
  w = valid_matrix();
  w.g_idx.assign(63, 0);
  expect_invalid([&] { validate(w); }, "expected k=64");
  w = valid_matrix();
  w.g_idx.assign(64, 0);
  w.g_idx[7] = 2;
  expect_invalid([&] { validate(w); }, "g_idx[7]=2 is outside [0, 2)");
  w = valid_matrix();
  w.zeros.assign(8, 8);
  expect_invalid([&] { validate(w); }, "zeros given for a symmetric scheme");
  w = valid_matrix();
  w.scheme = QuantScheme::kAsymmetricInt4;
  expect_invalid([&] { validate(w); }, "zeros has 0 values");
  w.zeros.assign(8, 3);
  EXPECT_NO_THROW(validate(w));
  w.zeros[5] = 16;
  expect_invalid([&] { validate(w); }, "zeros[5]=16 exceeds 15");
  w = valid_matrix();
  w.scheme = QuantScheme::kSymmetricInt8;
  w.q[0] = 255;
  EXPECT_NO_THROW(validate(w));  // int8 codes go to 255
}

TEST(QuantizeRtnArguments, NameTheRuleThatFails) {
  const std::vector<float> w(64 * 4, 1.0f);
  expect_invalid([&] { quantize_rtn(w, 64, 4, QuantScheme::kSymmetricInt4, 48); },
                 "k=64 must be a multiple of group_size=48");
  expect_invalid([&] { quantize_rtn(w, 64, 4, QuantScheme::kSymmetricInt4, 0); },
                 "must be a multiple of group_size=0");
  expect_invalid([&] { quantize_rtn(w, 0, 4, QuantScheme::kSymmetricInt4, 32); },
                 "k and n must be positive");
  expect_invalid([&] { quantize_rtn(w, 32, 4, QuantScheme::kSymmetricInt4, 32); },
                 "w has 256 values; expected k*n");
  expect_invalid(
      [&] { quantize_rtn(w, 64, 4, QuantScheme::kSymmetricInt4, 32, DType::kFloat32); },
      "fp16 or bf16");
  auto with_nan = w;
  with_nan[9] = std::numeric_limits<float>::quiet_NaN();
  expect_invalid([&] { quantize_rtn(with_nan, 64, 4, QuantScheme::kSymmetricInt4, 32); },
                 "w[2, 1]=nan must be finite");
}

TEST(ReferenceGemmArguments, NameTheRuleThatFails) {
  const std::vector<float> a(6), w(6), bias(3);
  expect_invalid([&] { reference_gemm(a, w, 0, 2, 3); }, "m, n, k must be positive");
  expect_invalid([&] { reference_gemm(a, w, 3, 2, 3); }, "A must hold m*k values");
  expect_invalid([&] { reference_gemm(a, w, 2, 3, 3); }, "W must hold k*n values");
  expect_invalid([&] { reference_gemm(a, w, 2, 2, 3, &bias); }, "bias must hold n values");
}

TEST(CheckMatrix, NamesTheArgumentAndTheExpectedShape) {
  std::vector<std::uint16_t> storage(16 * 64);
  const auto a = TensorView::matrix(storage.data(), DType::kFloat16, 16, 64);
  EXPECT_NO_THROW(check_matrix(a, "A", DType::kFloat16, 16, 64));
  expect_invalid([&] { check_matrix(a, "A", DType::kFloat16, 16, 128); },
                 "A is fp16[16, 64]; expected fp16[16, 128]");
  expect_invalid([&] { check_matrix(a, "A", DType::kBFloat16, 16, 64); },
                 "A is fp16[16, 64]; expected bf16[16, 64]");
  auto null_view = a;
  null_view.data = nullptr;
  expect_invalid([&] { check_matrix(null_view, "C", DType::kFloat16, 16, 64); },
                 "C is a null pointer; expected fp16[16, 64]");
  auto strided = a;
  strided.strides[0] = 128;
  expect_invalid([&] { check_matrix(strided, "C", DType::kFloat16, 16, 64); },
                 "C must be contiguous");
  const auto vector = TensorView::vector(storage.data(), DType::kFloat16, 64);
  expect_invalid([&] { check_matrix(vector, "bias", DType::kFloat16, 1, 64); },
                 "bias is fp16[64]; expected fp16[1, 64]");
}

}  // namespace
}  // namespace marlin

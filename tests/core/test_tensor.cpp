#include <gtest/gtest.h>

#include "marlin/device.h"
#include "marlin/status.h"
#include "marlin/tensor.h"

namespace marlin {
namespace {

TEST(TensorView, MatrixShapeAndBytes) {
  float storage[6] = {};
  const auto t = TensorView::matrix(storage, DType::kFloat32, 2, 3);
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.bytes(), 24u);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.describe(), "fp32[2, 3]");
  EXPECT_EQ(TensorView::matrix(storage, DType::kInt4Packed, 3, 3).bytes(), 5u);
}

TEST(TensorView, CheckMatrixNamesTheArgumentAndTheExpectation) {
  float storage[6] = {};
  const auto t = TensorView::matrix(storage, DType::kFloat32, 2, 3);
  EXPECT_NO_THROW(check_matrix(t, "A", DType::kFloat32, 2, 3));
  try {
    check_matrix(t, "A", DType::kFloat16, 2, 3);
    FAIL() << "a dtype mismatch must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("A is fp32[2, 3]; expected fp16[2, 3]"), std::string::npos)
        << e.what();
  }
  auto null_view = t;
  null_view.data = nullptr;
  EXPECT_THROW(check_matrix(null_view, "C", DType::kFloat32, 2, 3), Error);
  auto strided = t;
  strided.strides[0] = 4;
  EXPECT_THROW(check_matrix(strided, "C", DType::kFloat32, 2, 3), Error);
}

TEST(Device, CountIsAnAnswerNotAnError) {
  const int count = cuda_device_count();
  EXPECT_GE(count, 0);
  if (count == 0) {
    EXPECT_FALSE(cuda_unavailable_reason().empty());
  } else {
    const DeviceInfo info = query_device(0);
    EXPECT_GT(info.sm_count, 0);
    EXPECT_GE(info.compute_capability(), 30);
  }
}

}  // namespace
}  // namespace marlin

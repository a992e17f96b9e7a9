#include "marlin/tensor.h"

#include <string>

#include "marlin/status.h"

namespace marlin {

TensorView TensorView::matrix(void* data, DType dtype, std::int64_t rows, std::int64_t cols) {
  TensorView t;
  t.data = data;
  t.dtype = dtype;
  t.rank = 2;
  t.shape = {rows, cols, 0, 0};
  t.strides = {cols, 1, 0, 0};
  return t;
}

TensorView TensorView::vector(void* data, DType dtype, std::int64_t length) {
  TensorView t;
  t.data = data;
  t.dtype = dtype;
  t.rank = 1;
  t.shape = {length, 0, 0, 0};
  t.strides = {1, 0, 0, 0};
  return t;
}

std::int64_t TensorView::numel() const {
  std::int64_t count = 1;
  for (int d = 0; d < rank; ++d) count *= shape[d];
  return count;
}

std::size_t TensorView::bytes() const {
  return dtype_bytes(dtype, static_cast<std::size_t>(numel()));
}

bool TensorView::is_contiguous() const {
  std::int64_t expected = 1;
  for (int d = rank - 1; d >= 0; --d) {
    if (shape[d] != 1 && strides[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

std::string TensorView::describe() const {
  std::string text = std::string(dtype_name(dtype)) + "[";
  for (int d = 0; d < rank; ++d) {
    if (d) text += ", ";
    text += std::to_string(shape[d]);
  }
  return text + "]";
}

void check_matrix(const TensorView& t, const char* name, DType dtype, std::int64_t rows,
                  std::int64_t cols) {
  const std::string expected = std::string(dtype_name(dtype)) + "[" + std::to_string(rows) + ", " +
                               std::to_string(cols) + "]";
  require(t.data != nullptr, std::string(name) + " is a null pointer; expected " + expected);
  require(t.dtype == dtype && t.rank == 2 && t.shape[0] == rows && t.shape[1] == cols,
          std::string(name) + " is " + t.describe() + "; expected " + expected);
  require(t.is_contiguous(), std::string(name) + " must be contiguous (row-major)");
}

}  // namespace marlin

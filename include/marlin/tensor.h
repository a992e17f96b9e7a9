// Non-owning views of dense row-major tensors, with the shape checks every entry point uses.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "marlin/dtype.h"

namespace marlin {

// A view of up to 4 dimensions, contiguous in the last one. `strides` count elements; for packed
// sub-byte types the last dimension must be contiguous and strides of the others count values.
struct TensorView {
  static constexpr int kMaxRank = 4;

  void* data = nullptr;
  DType dtype = DType::kFloat16;
  int rank = 0;
  std::array<std::int64_t, kMaxRank> shape{};
  std::array<std::int64_t, kMaxRank> strides{};

  // A contiguous rows x cols matrix.
  static TensorView matrix(void* data, DType dtype, std::int64_t rows, std::int64_t cols);
  // A contiguous vector of `length` elements.
  static TensorView vector(void* data, DType dtype, std::int64_t length);

  std::int64_t numel() const;
  std::size_t bytes() const;  // of a contiguous tensor of this shape
  bool is_contiguous() const;
  std::string describe() const;  // e.g. "fp16[16, 4096]"

  template <typename T>
  T* as() const { return static_cast<T*>(data); }
};

// Throws kInvalidArgument unless `t` is a non-null, contiguous `dtype` matrix of rows x cols.
// `name` is the argument's name as the caller knows it ("A", "scales").
void check_matrix(const TensorView& t, const char* name, DType dtype, std::int64_t rows,
                  std::int64_t cols);

}  // namespace marlin

// Builds checkpoint tensors in memory for importer tests: owns the bytes and hands out
// TensorData views, as a safetensors file would.
#pragma once

#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "marlin/half.h"
#include "marlin/io/safetensors.h"

namespace marlin::io::testing {

class TensorStore {
 public:
  TensorData i32(const std::string& name, std::vector<std::uint64_t> shape,
                 const std::vector<std::uint32_t>& words) {
    return keep(name, StDType::kI32, std::move(shape), words.data(), words.size() * 4);
  }
  TensorData i8(const std::string& name, std::vector<std::uint64_t> shape,
                const std::vector<std::int8_t>& values) {
    return keep(name, StDType::kI8, std::move(shape), values.data(), values.size());
  }
  TensorData f16(const std::string& name, std::vector<std::uint64_t> shape,
                 const std::vector<float>& values) {
    std::vector<std::uint16_t> bits;
    for (float value : values) bits.push_back(float_to_half(value).bits);
    return keep(name, StDType::kF16, std::move(shape), bits.data(), bits.size() * 2);
  }
  TensorData bf16(const std::string& name, std::vector<std::uint64_t> shape,
                  const std::vector<float>& values) {
    std::vector<std::uint16_t> bits;
    for (float value : values) bits.push_back(float_to_bf16(value).bits);
    return keep(name, StDType::kBF16, std::move(shape), bits.data(), bits.size() * 2);
  }
  TensorData f32(const std::string& name, std::vector<std::uint64_t> shape,
                 const std::vector<float>& values) {
    return keep(name, StDType::kF32, std::move(shape), values.data(), values.size() * 4);
  }

 private:
  TensorData keep(const std::string& name, StDType dtype, std::vector<std::uint64_t> shape,
                  const void* data, std::size_t size) {
    const auto* bytes = static_cast<const std::uint8_t*>(data);
    buffers_.emplace_back(bytes, bytes + size);
    TensorData view;
    view.name = name;
    view.dtype = dtype;
    view.shape = std::move(shape);
    view.data = buffers_.back().data();
    view.size = size;
    return view;
  }
  std::deque<std::vector<std::uint8_t>> buffers_;
};

// Deterministic small pseudo-random numbers (tests must be reproducible).
class Lcg {
 public:
  explicit Lcg(std::uint32_t seed) : state_(seed) {}
  std::uint32_t next() {
    state_ = state_ * 1664525u + 1013904223u;
    return state_ >> 8;
  }
  int below(int bound) { return static_cast<int>(next() % static_cast<std::uint32_t>(bound)); }

 private:
  std::uint32_t state_;
};

}  // namespace marlin::io::testing

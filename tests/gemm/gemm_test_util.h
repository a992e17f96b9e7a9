// Building blocks of the GEMM GPU tests: device buffers, random quantized weights and 16-bit
// activations, and the comparison of a kernel's output with an fp64 reference.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/cuda_check.h"
#include "marlin/dtype.h"
#include "marlin/gemm.h"
#include "marlin/quant.h"

namespace marlin::testing {

// An owning cudaMalloc'd array (so 256-byte aligned: every alignment rule of gemm() holds).
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t count) : count_(count) {
    CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
  }
  ~DeviceBuffer() { cudaFree(data_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return data_; }
  std::size_t size() const { return count_; }
  void upload(const std::vector<T>& host) {
    CUDA_CHECK(cudaMemcpy(data_, host.data(), count_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    CUDA_CHECK(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  // All bits set: a NaN in fp16 (exponent 0x1f, mantissa 0x3ff) and in bf16 (exponent 0xff,
  // mantissa 0x7f), so an element the kernel never writes cannot pass as a value.
  void poison() { CUDA_CHECK(cudaMemset(data_, 0xff, count_ * sizeof(T))); }

 private:
  T* data_ = nullptr;
  std::size_t count_;
};

// 16-bit values as the device sees them (bits) and the same values exactly as fp32 (values),
// which is what every reference computes with.
struct Values16 {
  std::vector<std::uint16_t> bits;
  std::vector<float> values;
};

// `count` values uniform in [-1, 1], rounded to `dtype`.
Values16 random_values16(std::size_t count, DType dtype, std::mt19937& rng);

// Random codes over the scheme's whole range, random zero points (asymmetric INT4) and random
// scales exactly representable in scale_dtype, so the dequantized weights are exact fp32 values.
// Scales shrink by 2^(bits - 4) for INT8, so |w| has the same range for every scheme.
QuantizedMatrix random_weights(QuantScheme scheme, int k, int n, int group_size,
                               DType scale_dtype, std::mt19937& rng);

// A GPTQ act-order (desc_act) g_idx: the rows of a random permutation perm fill the groups in
// turn, g_idx[perm[i]] = i / group_size, so every group has group_size rows scattered over k.
std::vector<std::int32_t> random_act_order_g_idx(int k, int group_size, std::mt19937& rng);

// How close an output of `dtype` must come to the fp64 reference (see gemm_test_util.cpp for the
// derivation): every element within per_element * (|ref| + rms(ref)), and
// ||out - ref|| / ||ref|| below relative_frobenius.
struct OutputTolerance {
  double per_element;
  double relative_frobenius;
};
OutputTolerance output_tolerance(DType dtype);

// Every element written, finite and within output_tolerance(dtype) of `reference`.
void expect_matches_reference(const std::vector<std::uint16_t>& c, DType dtype,
                              const std::vector<double>& reference, const std::string& what);

// The arrival counters a launch with m rows and n columns used are back to zero (the next call
// on the workspace relies on it).
void expect_arrival_counters_zero(const Workspace& workspace, int m, int n,
                                  const std::string& what);

}  // namespace marlin::testing

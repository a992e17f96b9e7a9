#include "gemm_problem.h"

#include <gtest/gtest.h>

#include <utility>

#include "gpu_reference.h"
#include "marlin/pack.h"
#include "marlin/status.h"

namespace marlin::testing {

const char* scheme_name(QuantScheme scheme) {
  switch (scheme) {
    case QuantScheme::kSymmetricInt4: return "sym4";
    case QuantScheme::kAsymmetricInt4: return "asym4";
    case QuantScheme::kSymmetricInt8: return "sym8";
  }
  return "unknown";
}

std::string describe(const LayerSpec& spec) {
  std::string out = std::string(dtype_name(spec.dtype)) + " " + scheme_name(spec.scheme) +
                    " k=" + std::to_string(spec.k) + " n=" + std::to_string(spec.n) + " group=" +
                    (spec.group_size == kPerChannel ? std::string("per-channel")
                                                    : std::to_string(spec.group_size));
  if (spec.act_order) out += " act-order";
  if (spec.bias) out += " bias";
  return out;
}

QuantizedLayer::QuantizedLayer(const LayerSpec& spec, ReferenceOn reference_on, unsigned seed)
    : spec_(spec), reference_on_(reference_on) {
  require(!spec.act_order || spec.group_size != kPerChannel,
          "test setup: act-order needs real groups, not per-channel");
  std::mt19937 rng(seed);
  QuantizedMatrix quantized =
      random_weights(spec.scheme, spec.k, spec.n, spec.group_size, spec.dtype, rng);
  if (spec.act_order) quantized.g_idx = random_act_order_g_idx(spec.k, spec.group_size, rng);
  packed_ = upload(pack(quantized));
  // Without these the GEMM would silently skip the feature under test. (With one group every
  // row order is already sorted by group: pack() stores no perm then.)
  const bool permuted = spec.act_order && spec.k > spec.group_size;
  EXPECT_EQ(packed_.view().perm != nullptr, permuted) << describe(spec) << ": perm";
  EXPECT_EQ(packed_.view().scheme, spec.scheme) << describe(spec) << ": scheme";
  EXPECT_EQ(packed_.view().scale_dtype, spec.dtype) << describe(spec) << ": scale dtype";

  std::vector<float> dequantized = dequantize(quantized);
  if (reference_on == ReferenceOn::kCpu) {
    dequantized_ = std::move(dequantized);
  } else {
    dequantized_device_.emplace(dequantized.size());
    dequantized_device_->upload(dequantized);
  }
  if (spec.bias) {
    bias_ = random_values16(static_cast<std::size_t>(spec.n), spec.dtype, rng);
    bias_device_.emplace(bias_.bits.size());
    bias_device_->upload(bias_.bits);
  }
}

std::vector<double> QuantizedLayer::reference_product(const Values16& a,
                                                      const DeviceBuffer<std::uint16_t>& a_device,
                                                      int m) const {
  const int n = spec_.n;
  if (reference_on_ == ReferenceOn::kCpu) {
    return reference_gemm(a.values, dequantized_, m, n, spec_.k,
                          spec_.bias ? &bias_.values : nullptr);
  }
  DeviceBuffer<double> product(static_cast<std::size_t>(m) * n);
  reference_gemm_fp64_gpu(a_device.get(), spec_.dtype, dequantized_device_->get(), product.get(),
                          m, n, spec_.k, nullptr);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<double> out = product.download();
  if (spec_.bias) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] += bias_.values[i % n];
  }
  return out;
}

GemmBatch::GemmBatch(const QuantizedLayer& layer, int m, bool accumulate, unsigned seed)
    : layer_(layer),
      m_(m),
      accumulate_(accumulate),
      a_device_(static_cast<std::size_t>(m) * layer.spec().k),
      c_(static_cast<std::size_t>(m) * layer.spec().n) {
  const DType dtype = layer.spec().dtype;
  std::mt19937 rng(seed);
  const Values16 a = random_values16(a_device_.size(), dtype, rng);
  a_device_.upload(a.bits);
  reference_ = layer.reference_product(a, a_device_, m);
  if (accumulate) {
    // C_in of the same magnitude as A * W + bias, so that dropping either term fails.
    const Values16 c_in = random_values16(c_.size(), dtype, rng);
    c_in_.emplace(c_.size());
    c_in_->upload(c_in.bits);
    for (std::size_t i = 0; i < reference_.size(); ++i) reference_[i] += c_in.values[i];
  }
  reset_output();
}

void GemmBatch::reset_output() {
  if (c_in_) {
    CUDA_CHECK(cudaMemcpy(c_.get(), c_in_->get(), c_.size() * sizeof(std::uint16_t),
                          cudaMemcpyDeviceToDevice));
  } else {
    c_.poison();
  }
  CUDA_CHECK(cudaDeviceSynchronize());
}

void GemmBatch::run(const Workspace& workspace, cudaStream_t stream, bool static_weights) {
  GemmArgs args;
  args.a = a_device_.get();
  args.activation_dtype = layer_.spec().dtype;
  args.m = m_;
  args.weights = layer_.weights();
  args.c = c_.get();
  args.bias = layer_.bias_device();
  args.accumulate = accumulate_;
  args.workspace = workspace.view();
  args.static_weights = static_weights;
  gemm(args, stream);
}

std::string GemmBatch::describe() const {
  return testing::describe(layer_.spec()) + " m=" + std::to_string(m_) +
         (accumulate_ ? " accumulate" : "");
}

void GemmBatch::expect_output_matches_reference() const {
  expect_matches_reference(output(), layer_.spec().dtype, reference_, describe());
}

}  // namespace marlin::testing

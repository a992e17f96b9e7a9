// One GEMM problem of any supported kind, end to end: random quantized weights packed and
// uploaded (a layer), random activations for m rows (a batch), the fp64 reference on exactly the
// values the kernel reads, and the call to marlin::gemm.
//
//   QuantizedLayer layer(spec, ReferenceOn::kCpu, seed);   // weights (+ bias), once
//   GemmBatch batch(layer, m, /*accumulate=*/false, seed);  // A, C and the reference
//   Workspace workspace(m, spec.n, spec.act_order ? spec.k : 0);
//   batch.reset_output();
//   batch.run(workspace, stream);
//   batch.expect_output_matches_reference();
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gemm_test_util.h"
#include "marlin/gemm.h"

namespace marlin::testing {

// What a layer is: activation (= scale, bias and output) dtype, weight format and shape.
struct LayerSpec {
  DType dtype = DType::kFloat16;
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  int k = 0;
  int n = 0;
  int group_size = 128;    // 32, 64, 128 or kPerChannel
  bool act_order = false;  // a random GPTQ desc_act g_idx (real groups only)
  bool bias = false;       // a random bias [n]
};

// "bf16 asym4 k=1024 n=320 group=64 act-order bias", for failure messages.
std::string describe(const LayerSpec& spec);
const char* scheme_name(QuantScheme scheme);  // sym4, asym4, sym8

// Where the fp64 reference product is computed: the CPU reference_gemm (the definition), or the
// tiled fp64 GPU kernel (gpu_reference.h) for shapes where the CPU would take seconds.
enum class ReferenceOn { kCpu, kGpu };

// A layer's weights on the device, its bias, and the dequantized W the reference multiplies by.
class QuantizedLayer {
 public:
  QuantizedLayer(const LayerSpec& spec, ReferenceOn reference_on, unsigned seed);

  const LayerSpec& spec() const { return spec_; }
  PackedWeightsView weights() const { return packed_.view(); }
  const void* bias_device() const { return bias_device_ ? bias_device_->get() : nullptr; }

  // A * W + bias in fp64 for m rows of A, given as values (CPU) and as the device copy the
  // kernel reads (GPU).
  std::vector<double> reference_product(const Values16& a,
                                        const DeviceBuffer<std::uint16_t>& a_device, int m) const;

 private:
  LayerSpec spec_;
  ReferenceOn reference_on_;
  DeviceMatrix packed_;
  std::vector<float> dequantized_;                         // k x n, ReferenceOn::kCpu
  std::optional<DeviceBuffer<float>> dequantized_device_;  // k x n, ReferenceOn::kGpu
  Values16 bias_;                                          // n values, or empty
  std::optional<DeviceBuffer<std::uint16_t>> bias_device_;
};

// m rows of random A for a layer, the output C, and the reference C (accumulate: C starts as
// random values C_in and the reference is C_in + A * W + bias).
class GemmBatch {
 public:
  GemmBatch(const QuantizedLayer& layer, int m, bool accumulate, unsigned seed);

  // C back to its starting content: NaN poison, or C_in when accumulating. Synchronous: done
  // when it returns, whatever stream the GEMM then runs on.
  void reset_output();
  // One marlin::gemm call, asynchronous on `stream` (capturable into a CUDA graph).
  void run(const Workspace& workspace, cudaStream_t stream, bool static_weights = false);

  int m() const { return m_; }
  const LayerSpec& spec() const { return layer_.spec(); }
  std::vector<std::uint16_t> output() const { return c_.download(); }
  const DeviceBuffer<std::uint16_t>& output_device() const { return c_; }
  const std::vector<double>& reference() const { return reference_; }
  // "bf16 asym4 ... m=37 accumulate"
  std::string describe() const;
  // output() against reference() with the tolerance of the layer's dtype.
  void expect_output_matches_reference() const;

 private:
  const QuantizedLayer& layer_;
  int m_;
  bool accumulate_;
  DeviceBuffer<std::uint16_t> a_device_;
  DeviceBuffer<std::uint16_t> c_;
  std::optional<DeviceBuffer<std::uint16_t>> c_in_;
  std::vector<double> reference_;
};

}  // namespace marlin::testing

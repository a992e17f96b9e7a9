// GPTQ (Frantar et al., 2022, "GPTQ: Accurate Post-Training Quantization for Generative
// Pre-trained Transformers"): quantize a layer's weights one input feature at a time and spread
// each feature's rounding error over the features not yet quantized, weighted by the inverse
// Hessian H = 2/N * sum x x^T of the layer's inputs.
//
//   marlin::GptqQuantizer gptq(k, stream);                  // one per layer input (q, k, v share one)
//   for (batch : calibration) gptq.add_batch(x_device, rows);   // x: rows x k, fp32/fp16/bf16
//   marlin::GptqOptions options;                             // int4, group 128, 1% dampening
//   marlin::QuantizedMatrix q = gptq.quantize(weight_device, n, options);  // weight: n x k (Linear)
//
// The Hessian belongs to the layer's *input*, so one quantizer serves every weight matrix that
// reads the same activations; that is why the weights are an argument of quantize().
//
// Orientation: PyTorch stores Linear.weight as n x k (out x in); marlin's QuantizedMatrix is
// k x n (row = input feature, C = A * W), so the result is quantize(Linear.weight)^T.
//
// The algorithm (both implementations, the fp64 CPU reference and the GPU one, follow it step by
// step; the GPU one in fp32):
//   1. dead inputs (H_ii == 0: the feature was always zero) get H_ii = 1 and weight 0;
//   2. act-order (optional): features are processed by descending H_ii;
//   3. dampening: H += damp_fraction * mean(diag H) * I;
//   4. U = upper Cholesky factor of H^-1 (H^-1 = U^T U); if a factorization fails (H not positive
//      definite in working precision) the dampening is multiplied by 10 and step 3 is retried
//      (max_damp_retries times); if every retry fails, U = I (no error feedback: plain RTN) and the
//      report says so. The result never holds NaN or Inf;
//   5. features in blocks of block_size (the paper's "lazy batch updates"): inside a block every
//      feature c is quantized, its error e = (w_c - dequant(q_c)) / U_cc is subtracted from the
//      block's later features (w_l -= e * U_cl), and after the block one GEMM applies the block's
//      errors to every later feature;
//   6. a group's scale (and zero) is chosen when the processing reaches the group's first feature,
//      from the group's weights as they stand then: features inside the current block carry every
//      update so far, features beyond it the updates of completed blocks (when block_size is a
//      multiple or a divisor of group_size, that is every update so far);
//   7. scales and codes follow the RTN grid of quantize_rtn() (quant.h): symmetric int4 s = max|w|
//      / 7.5 with implicit zero 8, int8 s = max|w| / 127.5 with zero 128, asymmetric int4
//      s = (max - min) / 15 with zero round(-min / s); scales are rounded *up* to the scale dtype.
//
// Clipping (mse_clip): the GPTQ repository's Quantizer(mse=True) search. For shrink factors
// p = 1, 1 - 1/clip_grid, ..., down to clip_min_shrink, the group's range (max|w|, or min and max)
// is multiplied by p, the scale recomputed (and rounded to the scale dtype) and the group error
// sum |dequant(quant(w)) - w|^clip_norm evaluated; the smallest error wins (p = 1 on ties). With
// clip_norm = 2 this is plain MSE-optimal clipping; the repository's default is 2.4.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "marlin/dtype.h"
#include "marlin/quant.h"

namespace marlin {

struct GptqOptions {
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  int group_size = 128;  // input features per group (k must be a multiple); kPerChannel for one
  bool act_order = false;  // descending-diagonal order; sets g_idx (when group_size != kPerChannel)
  double damp_fraction = 0.01;  // of the mean Hessian diagonal; > 0
  int max_damp_retries = 4;     // each retry multiplies the dampening by 10
  int block_size = 128;         // lazy-batch block, 1..128
  DType scale_dtype = DType::kFloat16;  // kFloat16 or kBFloat16

  bool mse_clip = false;
  double clip_norm = 2.4;        // error exponent of the clip search; 2 = MSE
  int clip_grid = 100;           // shrink step 1 / clip_grid
  double clip_min_shrink = 0.2;  // smallest shrink factor tried

  // Called once for every warning (also kept in GptqReport::warnings). May be empty.
  std::function<void(const std::string&)> on_warning;
};

// What happened on the way; filled by both implementations.
struct GptqReport {
  int dead_inputs = 0;             // features with H_ii == 0 (weights set to 0)
  int damp_retries = 0;            // how often the dampening was multiplied by 10
  double damp_fraction_used = 0;   // the fraction of the mean diagonal finally added
  bool identity_fallback = false;  // every retry failed: no error feedback (result equals RTN)
  std::vector<std::string> warnings;
};

// Throws kInvalidArgument naming the option and the rule if `options` cannot be used for k.
void validate_gptq_options(const GptqOptions& options, int k);

// --- CPU reference (fp64, small layers; slow and obviously right) ------------------------------

// H = 2/rows * X^T X for X = rows x k row-major (fp64 accumulation), k x k row-major.
std::vector<double> gptq_hessian_reference(const std::vector<float>& x, int rows, int k);

// GPTQ of `weight` (n x k row-major, the Linear layout) with the k x k Hessian `hessian`
// (symmetric; only the entries hessian[i * k + j] with i >= j are read). Returns k x n codes.
QuantizedMatrix gptq_quantize_reference(const std::vector<float>& weight, int n, int k,
                                        const std::vector<double>& hessian,
                                        const GptqOptions& options, GptqReport* report = nullptr);

// --- GPU (cuBLAS + cuSOLVER, fp32) -------------------------------------------------------------

// Accumulates the Hessian of one layer input on the GPU (k x k fp32, never the activations) and
// quantizes weight matrices with it. All work runs on `stream`. add_batch and set_hessian are
// asynchronous (keep the input alive until the stream has passed it); hessian() and quantize()
// block until their results are on the host. Not thread-safe; one per stream.
class GptqQuantizer {
 public:
  explicit GptqQuantizer(int k, cudaStream_t stream = nullptr);
  ~GptqQuantizer();
  GptqQuantizer(GptqQuantizer&&) noexcept;
  GptqQuantizer& operator=(GptqQuantizer&&) noexcept;
  GptqQuantizer(const GptqQuantizer&) = delete;
  GptqQuantizer& operator=(const GptqQuantizer&) = delete;

  int k() const;
  long long samples() const;  // rows added so far

  // x: rows x k row-major on the device. H <- (N H + 2 X^T X) / (N + rows), N = samples so far.
  void add_batch(const float* x_device, int rows);
  void add_batch(const void* x_device, DType dtype, int rows);  // kFloat32, kFloat16, kBFloat16

  // Replaces the Hessian (k x k on the device, symmetric; element (i, j) at i * k + j, only
  // i >= j read), e.g. one computed elsewhere. samples() becomes `samples`.
  void set_hessian(const float* hessian_device, long long samples = 1);
  std::vector<float> hessian() const;  // k x k row-major copy on the host (tests)

  // GPTQ of `weight_device` (n x k row-major, fp32 / fp16 / bf16: the Linear layout).
  QuantizedMatrix quantize(const float* weight_device, int n, const GptqOptions& options,
                           GptqReport* report = nullptr);
  QuantizedMatrix quantize(const void* weight_device, DType weight_dtype, int n,
                           const GptqOptions& options, GptqReport* report = nullptr);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace marlin

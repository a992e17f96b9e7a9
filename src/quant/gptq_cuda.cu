// GPTQ on the GPU: the host side. Plans and checks on the host, then runs the algorithm of gptq.h
// with cuBLAS (Hessian accumulation, one lazy-batch GEMM per block), cuSOLVER (potrf, potri,
// potrf: the inverse Hessian's upper Cholesky factor) and the kernels of gptq_kernels.cuh.
//
// Cost for k features and n outputs: the factorizations are O(k^3) (k = 8192: ~0.7 TFLOP), the
// lazy-batch GEMMs sum to ~n k^2 FLOP (n = 28672, k = 8192: ~1.9 TFLOP fp32); the block kernel does
// ~n k 64 shared-memory updates, a small fraction of that.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cusolverDn.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "core/cuda_check.h"
#include "marlin/gptq.h"
#include "marlin/status.h"
#include "quant/gptq_common.h"
#include "quant/gptq_kernels.cuh"

namespace marlin {
namespace {

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    throw Error(ErrorCode::kCuda, std::string("GPTQ: ") + what + " failed: " +
                                      cublasGetStatusName(status) + " (" +
                                      cublasGetStatusString(status) + ")");
  }
}

void check_cusolver(cusolverStatus_t status, const char* what) {
  if (status != CUSOLVER_STATUS_SUCCESS) {
    throw Error(ErrorCode::kCuda,
                std::string("GPTQ: ") + what + " failed with cusolverStatus_t " +
                    std::to_string(static_cast<int>(status)));
  }
}

// An owning device allocation of `count` elements of T.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t count) : count_(count) {
    if (count > 0) CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
  }
  ~DeviceArray() {
    if (data_) cudaFree(data_);
  }
  DeviceArray(DeviceArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), count_(std::exchange(other.count_, 0)) {}
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* data() const { return data_; }
  std::size_t count() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

class CublasHandle {
 public:
  CublasHandle() { check_cublas(cublasCreate(&handle_), "cublasCreate"); }
  ~CublasHandle() {
    if (handle_) cublasDestroy(handle_);
  }
  CublasHandle(const CublasHandle&) = delete;
  CublasHandle& operator=(const CublasHandle&) = delete;
  cublasHandle_t get() const { return handle_; }

 private:
  cublasHandle_t handle_ = nullptr;
};

class CusolverHandle {
 public:
  CusolverHandle() { check_cusolver(cusolverDnCreate(&handle_), "cusolverDnCreate"); }
  ~CusolverHandle() {
    if (handle_) cusolverDnDestroy(handle_);
  }
  CusolverHandle(const CusolverHandle&) = delete;
  CusolverHandle& operator=(const CusolverHandle&) = delete;
  cusolverDnHandle_t get() const { return handle_; }

 private:
  cusolverDnHandle_t handle_ = nullptr;
};

// Grid size for the grid-stride kernels over k x k elements.
unsigned grid_stride_blocks(std::size_t count, int threads) {
  return static_cast<unsigned>(std::min<std::size_t>((count + threads - 1) / threads, 8192));
}

cudaDataType cuda_type_of(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return CUDA_R_32F;
    case DType::kFloat16: return CUDA_R_16F;
    case DType::kBFloat16: return CUDA_R_16BF;
    default: break;
  }
  throw Error(ErrorCode::kInvalidArgument,
              "GPTQ: dtype " + std::string(dtype_name(dtype)) + " must be fp32, fp16 or bf16");
}

}  // namespace

struct GptqQuantizer::Impl {
  int k = 0;
  cudaStream_t stream = nullptr;
  long long samples = 0;
  CublasHandle cublas;
  CusolverHandle cusolver;
  DeviceArray<float> hessian;  // k x k, symmetric (full), 2/N sum x x^T

  template <typename T>
  T read_back(const T* device_value) {
    T host_value{};
    CUDA_CHECK(cudaMemcpyAsync(&host_value, device_value, sizeof(T), cudaMemcpyDeviceToHost, stream));
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return host_value;
  }

  // U = upper Cholesky factor of (the damped, reordered H)^-1 in `u`. False if not usable.
  bool factor_inverse(const DeviceArray<std::int32_t>& order_device, float damp,
                      DeviceArray<float>& u, DeviceArray<float>& workspace,
                      DeviceArray<int>& status) {
    const std::size_t elements = static_cast<std::size_t>(k) * k;
    build_damped_hessian_launch(order_device, damp, u);
    const cublasFillMode_t upper = CUBLAS_FILL_MODE_UPPER;
    const int lwork = static_cast<int>(workspace.count());
    int* info = status.data();
    check_cusolver(cusolverDnSpotrf(cusolver.get(), upper, k, u.data(), k, workspace.data(), lwork, info),
                   "cusolverDnSpotrf(H)");
    if (read_back(info) != 0) return false;
    check_cusolver(cusolverDnSpotri(cusolver.get(), upper, k, u.data(), k, workspace.data(), lwork, info),
                   "cusolverDnSpotri");
    if (read_back(info) != 0) return false;
    check_cusolver(cusolverDnSpotrf(cusolver.get(), upper, k, u.data(), k, workspace.data(), lwork, info),
                   "cusolverDnSpotrf(H^-1)");
    if (read_back(info) != 0) return false;
    CUDA_CHECK(cudaMemsetAsync(info, 0, sizeof(int), stream));
    gptq::check_factor_kernel<<<grid_stride_blocks(elements, 256), 256, 0, stream>>>(u.data(), k, info);
    CUDA_CHECK_LAUNCH("check_factor_kernel");
    return read_back(info) == 0;
  }

  void build_damped_hessian_launch(const DeviceArray<std::int32_t>& order_device, float damp,
                                   DeviceArray<float>& u) {
    const std::size_t elements = static_cast<std::size_t>(k) * k;
    gptq::build_damped_hessian_kernel<<<grid_stride_blocks(elements, 256), 256, 0, stream>>>(
        hessian.data(), order_device.data(), k, damp, u.data());
    CUDA_CHECK_LAUNCH("build_damped_hessian_kernel");
  }
};

GptqQuantizer::GptqQuantizer(int k, cudaStream_t stream) : impl_(std::make_unique<Impl>()) {
  require(k > 0, "GptqQuantizer: k=" + std::to_string(k) + " must be positive");
  impl_->k = k;
  impl_->stream = stream;
  check_cublas(cublasSetStream(impl_->cublas.get(), stream), "cublasSetStream");
  // Plain fp32 arithmetic (no TF32): the Hessian and the error updates need fp32's mantissa.
  check_cublas(cublasSetMathMode(impl_->cublas.get(), CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  check_cusolver(cusolverDnSetStream(impl_->cusolver.get(), stream), "cusolverDnSetStream");
  impl_->hessian = DeviceArray<float>(static_cast<std::size_t>(k) * k);
  CUDA_CHECK(cudaMemsetAsync(impl_->hessian.data(), 0, impl_->hessian.bytes(), stream));
}

GptqQuantizer::~GptqQuantizer() = default;
GptqQuantizer::GptqQuantizer(GptqQuantizer&&) noexcept = default;
GptqQuantizer& GptqQuantizer::operator=(GptqQuantizer&&) noexcept = default;

int GptqQuantizer::k() const { return impl_->k; }
long long GptqQuantizer::samples() const { return impl_->samples; }

void GptqQuantizer::add_batch(const float* x_device, int rows) {
  add_batch(x_device, DType::kFloat32, rows);
}

void GptqQuantizer::add_batch(const void* x_device, DType dtype, int rows) {
  require(rows > 0, "GptqQuantizer::add_batch: rows=" + std::to_string(rows) + " must be positive");
  require(x_device != nullptr, "GptqQuantizer::add_batch: x is null");
  const cudaDataType type = cuda_type_of(dtype);
  const int k = impl_->k;
  // H <- (N H + 2 X^T X) / (N + rows): a running mean, so H keeps the size of one sample's
  // contribution however many batches come (fp32 would lose small batches against a large sum).
  // X is rows x k row-major = k x rows column-major (ld k), so X^T X is A A^T with A that matrix.
  const long long total = impl_->samples + rows;
  const float alpha = static_cast<float>(2.0 / static_cast<double>(total));
  const float beta = static_cast<float>(static_cast<double>(impl_->samples) / static_cast<double>(total));
  check_cublas(cublasGemmEx(impl_->cublas.get(), CUBLAS_OP_N, CUBLAS_OP_T, k, k, rows, &alpha,
                            x_device, type, k, x_device, type, k, &beta, impl_->hessian.data(),
                            CUDA_R_32F, k, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx (Hessian X^T X)");
  impl_->samples = total;
}

void GptqQuantizer::set_hessian(const float* hessian_device, long long samples) {
  require(hessian_device != nullptr, "GptqQuantizer::set_hessian: hessian is null");
  require(samples > 0, "GptqQuantizer::set_hessian: samples=" + std::to_string(samples) +
                           " must be positive");
  CUDA_CHECK(cudaMemcpyAsync(impl_->hessian.data(), hessian_device, impl_->hessian.bytes(),
                             cudaMemcpyDeviceToDevice, impl_->stream));
  impl_->samples = samples;
}

std::vector<float> GptqQuantizer::hessian() const {
  std::vector<float> host(impl_->hessian.count());
  CUDA_CHECK(cudaMemcpyAsync(host.data(), impl_->hessian.data(), impl_->hessian.bytes(),
                             cudaMemcpyDeviceToHost, impl_->stream));
  CUDA_CHECK(cudaStreamSynchronize(impl_->stream));
  return host;
}

QuantizedMatrix GptqQuantizer::quantize(const float* weight_device, int n,
                                        const GptqOptions& options, GptqReport* report) {
  return quantize(weight_device, DType::kFloat32, n, options, report);
}

QuantizedMatrix GptqQuantizer::quantize(const void* weight_device, DType weight_dtype, int n,
                                        const GptqOptions& options, GptqReport* report) {
  Impl& impl = *impl_;
  const int k = impl.k;
  const cudaStream_t stream = impl.stream;
  validate_gptq_options(options, k);
  require(n > 0, "GPTQ: n=" + std::to_string(n) + " must be positive");
  require(weight_device != nullptr, "GPTQ: weight is null");
  (void)cuda_type_of(weight_dtype);
  require(impl.samples > 0,
          "GPTQ: no calibration data (call add_batch or set_hessian before quantize)");
  if (report) *report = GptqReport{};

  const gptq::GridSpec grid = gptq::make_grid_spec(options);
  const int group = options.group_size == kPerChannel ? k : options.group_size;
  const int groups = k / group;
  const std::size_t kn = static_cast<std::size_t>(k) * n;
  const std::size_t kk = static_cast<std::size_t>(k) * k;

  // 1 + 2. Dead inputs and the processing order, decided on the host from the diagonal.
  std::vector<float> diagonal_float(static_cast<std::size_t>(k));
  CUDA_CHECK(cudaMemcpy2DAsync(diagonal_float.data(), sizeof(float), impl.hessian.data(),
                               (static_cast<std::size_t>(k) + 1) * sizeof(float), sizeof(float),
                               static_cast<std::size_t>(k), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  std::vector<double> diagonal(diagonal_float.begin(), diagonal_float.end());
  std::vector<std::uint8_t> dead(static_cast<std::size_t>(k), 0);
  double mean_diagonal = 0;
  for (int i = 0; i < k; ++i) {
    if (diagonal[i] == 0) {
      dead[i] = 1;
      diagonal[i] = 1;
      if (report) ++report->dead_inputs;
    }
    mean_diagonal += diagonal[i];
  }
  mean_diagonal /= k;
  const std::vector<std::int32_t> order = gptq::processing_order(diagonal, options.act_order);

  DeviceArray<std::int32_t> order_device(static_cast<std::size_t>(k));
  DeviceArray<std::uint8_t> dead_device(static_cast<std::size_t>(k));
  DeviceArray<float> w(kn);
  DeviceArray<std::uint8_t> codes(kn);
  DeviceArray<float> scales(static_cast<std::size_t>(groups) * n);
  DeviceArray<std::uint8_t> zeros(scheme_has_zeros(options.scheme) ? static_cast<std::size_t>(groups) * n : 0);
  DeviceArray<float> errors(static_cast<std::size_t>(options.block_size) * n);
  DeviceArray<float> u(kk);
  DeviceArray<int> flags(2);  // [0] non-finite weight / factor status, [1] scale out of range
  CUDA_CHECK(cudaMemcpyAsync(order_device.data(), order.data(), order_device.bytes(),
                             cudaMemcpyHostToDevice, stream));
  CUDA_CHECK(cudaMemcpyAsync(dead_device.data(), dead.data(), dead_device.bytes(),
                             cudaMemcpyHostToDevice, stream));
  // Poison the outputs: a code 255 or a NaN scale left behind would fail validate() below.
  CUDA_CHECK(cudaMemsetAsync(codes.data(), 0xFF, codes.bytes(), stream));
  CUDA_CHECK(cudaMemsetAsync(scales.data(), 0xFF, scales.bytes(), stream));
  CUDA_CHECK(cudaMemsetAsync(flags.data(), 0, flags.bytes(), stream));

  {
    const dim3 threads(gptq::kTransposeTile, gptq::kTransposeRows);
    const dim3 blocks(static_cast<unsigned>((k + gptq::kTransposeTile - 1) / gptq::kTransposeTile),
                      static_cast<unsigned>((n + gptq::kTransposeTile - 1) / gptq::kTransposeTile));
    switch (weight_dtype) {
      case DType::kFloat16:
        gptq::load_weights_in_order_kernel<<<blocks, threads, 0, stream>>>(
            static_cast<const __half*>(weight_device), order_device.data(), dead_device.data(), n,
            k, w.data(), flags.data());
        break;
      case DType::kBFloat16:
        gptq::load_weights_in_order_kernel<<<blocks, threads, 0, stream>>>(
            static_cast<const __nv_bfloat16*>(weight_device), order_device.data(),
            dead_device.data(), n, k, w.data(), flags.data());
        break;
      default:
        gptq::load_weights_in_order_kernel<<<blocks, threads, 0, stream>>>(
            static_cast<const float*>(weight_device), order_device.data(), dead_device.data(), n,
            k, w.data(), flags.data());
        break;
    }
    CUDA_CHECK_LAUNCH("load_weights_in_order_kernel");
    require(impl.read_back(flags.data()) == 0, "GPTQ: weight holds a non-finite value");
  }

  // 3 + 4. Dampening and the factor of the inverse, retried with 10x the dampening.
  int lwork = 0;
  check_cusolver(cusolverDnSpotrf_bufferSize(impl.cusolver.get(), CUBLAS_FILL_MODE_UPPER, k,
                                             u.data(), k, &lwork),
                 "cusolverDnSpotrf_bufferSize");
  int lwork_inverse = 0;
  check_cusolver(cusolverDnSpotri_bufferSize(impl.cusolver.get(), CUBLAS_FILL_MODE_UPPER, k,
                                             u.data(), k, &lwork_inverse),
                 "cusolverDnSpotri_bufferSize");
  DeviceArray<float> workspace(static_cast<std::size_t>(std::max({lwork, lwork_inverse, 1})));
  bool factored = false;
  for (int attempt = 0; attempt <= options.max_damp_retries && !factored; ++attempt) {
    const double fraction = gptq::damp_fraction_for_attempt(options, attempt);
    const float damp = static_cast<float>(fraction * mean_diagonal);
    factored = std::isfinite(damp) &&
               impl.factor_inverse(order_device, damp, u, workspace, flags);
    if (report) report->damp_fraction_used = fraction;
    if (!factored && attempt < options.max_damp_retries) {
      if (report) ++report->damp_retries;
      gptq::warn(options, report,
                 "GPTQ: Hessian not positive definite with dampening " + std::to_string(fraction) +
                     " x mean diagonal; retrying with " + std::to_string(fraction * 10));
    }
  }
  if (!factored) {
    gptq::set_identity_kernel<<<grid_stride_blocks(kk, 256), 256, 0, stream>>>(u.data(), k);
    CUDA_CHECK_LAUNCH("set_identity_kernel");
    if (report) report->identity_fallback = true;
    gptq::warn(options, report,
               "GPTQ: Hessian not positive definite after " +
                   std::to_string(options.max_damp_retries) +
                   " dampening retries; quantizing without error feedback (RTN)");
  }

  // 5 + 6. Blocks: the kernel quantizes a block with in-block feedback, then one GEMM applies the
  // block's errors E (count x n row-major) to every later feature. In cuBLAS's column-major view
  // our k x n row-major W is the n x k matrix W' (ld n), and the update reads
  //   W'(:, last:) -= E' (n x count, ld n) * U(first:last, last:) (count x (k - last), ld k)
  CUDA_CHECK(cudaMemsetAsync(flags.data() + 1, 0, sizeof(int), stream));
  const int max_shared = options.block_size * gptq::kBlockThreads * static_cast<int>(sizeof(float)) +
                         options.block_size * options.block_size * static_cast<int>(sizeof(float));
  CUDA_CHECK(cudaFuncSetAttribute(gptq::gptq_block_kernel,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, max_shared));
  const unsigned block_ctas = static_cast<unsigned>((n + gptq::kBlockThreads - 1) / gptq::kBlockThreads);
  for (int first = 0; first < k; first += options.block_size) {
    const int last = std::min(first + options.block_size, k);
    gptq::BlockArgs args;
    args.n = n;
    args.k = k;
    args.first = first;
    args.count = last - first;
    args.group = group;
    args.grid = grid;
    const std::size_t shared = static_cast<std::size_t>(args.count) * gptq::kBlockThreads * sizeof(float) +
                               static_cast<std::size_t>(args.count) * args.count * sizeof(float);
    gptq::gptq_block_kernel<<<block_ctas, gptq::kBlockThreads, shared, stream>>>(
        w.data(), u.data(), args, codes.data(), errors.data(), scales.data(), zeros.data(),
        flags.data() + 1);
    CUDA_CHECK_LAUNCH("gptq_block_kernel");
    if (last < k) {
      const float minus_one = -1.0f;
      const float one = 1.0f;
      check_cublas(cublasSgemm(impl.cublas.get(), CUBLAS_OP_N, CUBLAS_OP_N, n, k - last, args.count,
                               &minus_one, errors.data(), n,
                               u.data() + first + static_cast<std::size_t>(last) * k, k, &one,
                               w.data() + static_cast<std::size_t>(last) * n, n),
                   "cublasSgemm (lazy batch update)");
    }
  }

  // Results to the host, back in the original feature order.
  QuantizedMatrix out;
  out.scheme = options.scheme;
  out.k = k;
  out.n = n;
  out.group_size = options.group_size;
  out.scale_dtype = options.scale_dtype;
  std::vector<std::uint8_t> codes_in_order(kn);
  out.scales.resize(scales.count());
  out.zeros.resize(zeros.count());
  int bad_scale = 0;
  CUDA_CHECK(cudaMemcpyAsync(codes_in_order.data(), codes.data(), codes.bytes(),
                             cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaMemcpyAsync(out.scales.data(), scales.data(), scales.bytes(),
                             cudaMemcpyDeviceToHost, stream));
  if (zeros.count() > 0) {
    CUDA_CHECK(cudaMemcpyAsync(out.zeros.data(), zeros.data(), zeros.bytes(),
                               cudaMemcpyDeviceToHost, stream));
  }
  CUDA_CHECK(cudaMemcpyAsync(&bad_scale, flags.data() + 1, sizeof(int), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  if (bad_scale != 0) {
    throw Error(ErrorCode::kInvalidArgument,
                "GPTQ: a group needs a scale beyond the scale dtype's range (fp16 scales stop at "
                "65504; use bf16 scales for such weights)");
  }
  gptq::finish_output(order, options, std::move(codes_in_order), out);
  validate(out);
  return out;
}

}  // namespace marlin

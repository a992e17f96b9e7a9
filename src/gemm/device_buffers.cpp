// Owning device buffers behind the GEMM API: packed weights and the per-stream workspace.
#include <utility>

#include "core/cuda_check.h"
#include "marlin/gemm.h"

namespace marlin {

DeviceMatrix::~DeviceMatrix() { release(); }

DeviceMatrix::DeviceMatrix(DeviceMatrix&& other) noexcept { *this = std::move(other); }

DeviceMatrix& DeviceMatrix::operator=(DeviceMatrix&& other) noexcept {
  if (this != &other) {
    release();
    view_ = other.view_;
    qweight_ = std::exchange(other.qweight_, nullptr);
    scales_ = std::exchange(other.scales_, nullptr);
    other.view_ = PackedWeightsView{};
  }
  return *this;
}

void DeviceMatrix::release() {
  // Errors cannot be reported from a destructor; a failing cudaFree means the context is gone.
  if (qweight_) cudaFree(qweight_);
  if (scales_) cudaFree(scales_);
  qweight_ = scales_ = nullptr;
}

DeviceMatrix upload(const PackedMatrix& packed) {
  DeviceMatrix out;
  const std::size_t qweight_bytes = packed.qweight.size() * sizeof(std::uint32_t);
  const std::size_t scale_bytes = packed.scales.size() * sizeof(std::uint16_t);
  CUDA_CHECK(cudaMalloc(&out.qweight_, qweight_bytes));
  CUDA_CHECK(cudaMalloc(&out.scales_, scale_bytes));
  CUDA_CHECK(cudaMemcpy(out.qweight_, packed.qweight.data(), qweight_bytes, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(out.scales_, packed.scales.data(), scale_bytes, cudaMemcpyHostToDevice));
  out.view_.scheme = packed.scheme;
  out.view_.k = packed.k;
  out.view_.n = packed.n;
  out.view_.group_size = packed.group_size;
  out.view_.scale_dtype = packed.scale_dtype;
  out.view_.qweight = static_cast<const std::uint32_t*>(out.qweight_);
  out.view_.scales = out.scales_;
  return out;
}

Workspace::Workspace(int max_m, int n) : bytes_(gemm_workspace_bytes(max_m, n)) {
  CUDA_CHECK(cudaMalloc(&data_, bytes_));
  CUDA_CHECK(cudaMemset(data_, 0, bytes_));
}

Workspace::~Workspace() {
  if (data_) cudaFree(data_);
}

}  // namespace marlin

// Owning device buffers behind the GEMM API: packed weights and the per-stream workspace.
#include <utility>
#include <vector>

#include "core/cuda_check.h"
#include "marlin/device.h"
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
    perm_ = std::exchange(other.perm_, nullptr);
    other.view_ = PackedWeightsView{};
  }
  return *this;
}

void DeviceMatrix::release() {
  // Errors cannot be reported from a destructor; a failing cudaFree means the context is gone.
  for (void* buffer : {qweight_, scales_, perm_}) {
    if (buffer) cudaFree(buffer);
  }
  qweight_ = scales_ = perm_ = nullptr;
}

namespace {

// A device copy of `host` (nullptr for an empty vector), owned by the caller.
template <class T>
void* copy_to_device(const std::vector<T>& host) {
  if (host.empty()) return nullptr;
  void* device = nullptr;
  CUDA_CHECK(cudaMalloc(&device, host.size() * sizeof(T)));
  const cudaError_t copied =
      cudaMemcpy(device, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  if (copied != cudaSuccess) cudaFree(device);
  CUDA_CHECK(copied);
  return device;
}

}  // namespace

DeviceMatrix upload(const PackedMatrix& packed) {
  // A short array would make the kernels read past its end; a bad perm, past A's rows.
  check_packed(packed, "upload");
  DeviceMatrix out;
  // Each member owns its buffer as soon as it exists, so a failure part-way frees the others.
  out.qweight_ = copy_to_device(packed.qweight);
  out.scales_ = copy_to_device(device_scales(packed));
  out.perm_ = copy_to_device(packed.perm);
  out.view_.scheme = packed.scheme;
  out.view_.k = packed.k;
  out.view_.n = packed.n;
  out.view_.group_size = packed.group_size;
  out.view_.scale_dtype = packed.scale_dtype;
  out.view_.qweight = static_cast<const std::uint32_t*>(out.qweight_);
  out.view_.scales = out.scales_;
  out.view_.perm = static_cast<const std::int32_t*>(out.perm_);
  return out;
}

Workspace::Workspace(int max_m, int n, int max_act_order_k) {
  view_.bytes = gemm_workspace_bytes(max_m, n, current_sm_count(), max_act_order_k);
  view_.max_m = max_m;
  view_.n = n;
  view_.max_act_order_k = max_act_order_k;
  CUDA_CHECK(cudaMalloc(&view_.data, view_.bytes));
  const cudaError_t zeroed = cudaMemset(view_.data, 0, view_.bytes);
  if (zeroed != cudaSuccess) {
    cudaFree(view_.data);
    view_.data = nullptr;
  }
  CUDA_CHECK(zeroed);
}

Workspace::~Workspace() {
  if (view_.data) cudaFree(view_.data);
}

}  // namespace marlin

// The public GEMM entry: C[m,n] = A[m,k] * dequant(W)[k,n] on the GPU, W in the packed layout.
//
//   marlin::DeviceMatrix weights = marlin::upload(marlin::pack(quantized));   // once per layer
//   marlin::Workspace workspace(max_m, n);                                     // once per stream
//   marlin::GemmArgs args;
//   args.a = a; args.m = m; args.weights = weights.view(); args.c = c;
//   args.workspace = workspace.view();
//   marlin::gemm(args, stream);
//
// Everything the call cannot do is refused with marlin::Error before any launch.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "marlin/dtype.h"
#include "marlin/pack.h"
#include "marlin/quant.h"

namespace marlin {

// Device pointers to packed weights (see pack.h / src/layout/packed_format.h): qweight and perm
// as packed, scales as device_scales() (pack.h) made them (asymmetric INT4: zero points inside).
struct PackedWeightsView {
  QuantScheme scheme = QuantScheme::kSymmetricInt4;
  int k = 0;
  int n = 0;
  int group_size = 128;  // kPerChannel allowed
  DType scale_dtype = DType::kFloat16;  // must equal the activation dtype
  const std::uint32_t* qweight = nullptr;
  const void* scales = nullptr;        // device_scales(): 16-byte aligned
  const std::int32_t* perm = nullptr;  // act-order weights only (k entries)
};

// A zeroed device workspace and the problems it was sized for (Workspace::view(); C callers fill
// it from marlin_gemm_workspace_bytes*). Every call with m <= max_m, n <= n and, for act-order
// weights, k <= max_act_order_k may use it, one call after another: each finds its arrival
// counters zero and leaves them zero, and the layout follows these capacities, not the call, so
// no call's scratch lands on another's counters.
struct WorkspaceView {
  void* data = nullptr;
  std::size_t bytes = 0;  // at least gemm_workspace_bytes(max_m, n, sm_count, max_act_order_k)
  int max_m = 0;
  int n = 0;
  int max_act_order_k = 0;
};

struct GemmArgs {
  const void* a = nullptr;  // [m, k] row-major, device, fp16 or bf16
  DType activation_dtype = DType::kFloat16;
  int m = 0;
  PackedWeightsView weights;
  void* c = nullptr;        // [m, n] row-major, device, same dtype as A
  const void* bias = nullptr;  // [n], same dtype as A, added to every row; null for none
  bool accumulate = false;     // C = C + A * W (+ bias) instead of C = A * W (+ bias)
  WorkspaceView workspace;  // one per stream, see WorkspaceView
  // The weights (qweight, scales, perm) are not written by the GPU work this call
  // follows on the stream (true of a served model's layers). Then, on sm_90 and newer, the GEMM
  // is launched programmatically: it starts streaming its weights while the kernel before it
  // finishes, and waits for that kernel only before it reads A, bias or C or touches the
  // workspace. Off by default: a kernel that writes the weights right before the call would race.
  bool static_weights = false;
};

// Bytes of workspace one stream needs for problems up to max_m rows and n columns on the current
// device (it holds fp32 partial sums of the output tiles that several SMs share), or on a device
// with sm_count multiprocessors. Act-order weights also need room for A with its columns
// permuted: pass their largest k as max_act_order_k (0: no act-order weights).
std::size_t gemm_workspace_bytes(int max_m, int n);
std::size_t gemm_workspace_bytes(int max_m, int n, int sm_count);
std::size_t gemm_workspace_bytes(int max_m, int n, int sm_count, int max_act_order_k);

// Checks every argument (throws marlin::Error naming the rule) and launches on `stream`.
// Deterministic: the same inputs give bitwise the same C. CUDA-graph safe.
void gemm(const GemmArgs& args, cudaStream_t stream);

// Owning device buffers for a packed matrix.
class DeviceMatrix {
 public:
  DeviceMatrix() = default;
  ~DeviceMatrix();
  DeviceMatrix(DeviceMatrix&& other) noexcept;
  DeviceMatrix& operator=(DeviceMatrix&& other) noexcept;
  DeviceMatrix(const DeviceMatrix&) = delete;
  DeviceMatrix& operator=(const DeviceMatrix&) = delete;

  PackedWeightsView view() const { return view_; }

 private:
  friend DeviceMatrix upload(const PackedMatrix& packed);
  void release();
  PackedWeightsView view_;
  void* qweight_ = nullptr;
  void* scales_ = nullptr;
  void* perm_ = nullptr;
};

DeviceMatrix upload(const PackedMatrix& packed);

// A zeroed device workspace for one stream (one per stream running GEMMs concurrently).
class Workspace {
 public:
  Workspace(int max_m, int n, int max_act_order_k = 0);
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  void* data() const { return view_.data; }
  std::size_t bytes() const { return view_.bytes; }
  WorkspaceView view() const { return view_; }

 private:
  WorkspaceView view_;
};

}  // namespace marlin

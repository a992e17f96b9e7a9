// The 16-bit baseline: C[m,n] = A[m,k] * W[k,n] with cuBLASLt, A, W and C all fp16 or all bf16
// (the activation type of the marlin kernel it is compared with), fp32 accumulation
// (CUBLAS_COMPUTE_32F), the algorithm chosen among the heuristic's candidates by measurement.
//
// cuBLASLt is column-major; a row-major matrix is the column-major matrix of its transpose, so
//
//     row-major  C[m,n] = A[m,k] * W          is computed as      C'(n x m) = op(W') * A'(k x m)
//
// with every operand handed over as the column-major view of its own row-major storage:
//
//     operand  row-major storage   column-major view   ld   op
//     A        [m, k]              k x m               k    N
//     C        [m, n]              n x m               n    -
//     W (kn)   [k, n]              n x k               n    N    (W as the GEMM writes it)
//     W (nk)   [n, k]              k x n               k    T    (W^T: torch.nn.Linear's storage)
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <vector>

#include "cuda_resources.h"
#include "marlin/dtype.h"

namespace marlin::bench {

// How the fp16 weights given to cuBLAS are stored.
enum class WeightLayout {
  kKN,  // row-major [k, n]
  kNK,  // row-major [n, k] (transposed), as torch.nn.Linear stores its weight
};

std::string weight_layout_name(WeightLayout layout);  // "kn" / "nk"

// One cuBLASLt handle and its workspace; shared by every problem of a run.
class CublasLt {
 public:
  explicit CublasLt(std::size_t workspace_bytes);
  ~CublasLt();
  CublasLt(const CublasLt&) = delete;
  CublasLt& operator=(const CublasLt&) = delete;

  cublasLtHandle_t handle() const { return handle_; }
  void* workspace() const { return workspace_.data(); }
  std::size_t workspace_bytes() const { return workspace_.bytes(); }

 private:
  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
};

// The descriptors of one problem (m, n, k, weight layout, element type: fp16 or bf16).
class CublasLtGemm {
 public:
  CublasLtGemm(const CublasLt& lt, int m, int n, int k, WeightLayout layout, DType dtype);
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  // Up to `max_count` algorithms the heuristic proposes (best guess first) that fit the workspace.
  std::vector<cublasLtMatmulAlgo_t> heuristic_algos(int max_count) const;

  // Enqueues C = A * W on `stream` with `algo`. A, W, C are device fp16 or bf16 (the problem's
  // dtype) in the layouts above.
  void run(const cublasLtMatmulAlgo_t& algo, const void* a, const void* w, void* c,
           cudaStream_t stream) const;

 private:
  const CublasLt& lt_;
  cublasLtMatmulDesc_t matmul_ = nullptr;
  cublasLtMatrixLayout_t w_layout_ = nullptr;
  cublasLtMatrixLayout_t a_layout_ = nullptr;
  cublasLtMatrixLayout_t c_layout_ = nullptr;
};

}  // namespace marlin::bench

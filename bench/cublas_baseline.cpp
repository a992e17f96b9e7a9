#include "cublas_baseline.h"

#include <cstdint>
#include <string>

#include "cublas_check.h"
#include "marlin/status.h"

namespace marlin::bench {

std::string weight_layout_name(WeightLayout layout) {
  return layout == WeightLayout::kKN ? "kn" : "nk";
}

CublasLt::CublasLt(std::size_t workspace_bytes) : workspace_(workspace_bytes) {
  CUBLAS_CHECK(cublasLtCreate(&handle_));
}

CublasLt::~CublasLt() { cublasLtDestroy(handle_); }

CublasLtGemm::CublasLtGemm(const CublasLt& lt, int m, int n, int k, WeightLayout layout,
                           DType dtype)
    : lt_(lt) {
  require(m > 0 && n > 0 && k > 0, "cuBLASLt GEMM: m=" + std::to_string(m) + ", n=" +
                                       std::to_string(n) + ", k=" + std::to_string(k) +
                                       " must be positive");
  require(dtype == DType::kFloat16 || dtype == DType::kBFloat16,
          "cuBLASLt GEMM: dtype " + std::string(dtype_name(dtype)) + " must be fp16 or bf16");
  const cudaDataType_t type = dtype == DType::kBFloat16 ? CUDA_R_16BF : CUDA_R_16F;
  const auto rows = [](int value) { return static_cast<std::uint64_t>(value); };
  const auto ld = [](int value) { return static_cast<std::int64_t>(value); };
  CUBLAS_CHECK(cublasLtMatmulDescCreate(&matmul_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t op_w = layout == WeightLayout::kKN ? CUBLAS_OP_N : CUBLAS_OP_T;
  const cublasOperation_t op_a = CUBLAS_OP_N;
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(matmul_, CUBLASLT_MATMUL_DESC_TRANSA, &op_w,
                                              sizeof(op_w)));
  CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(matmul_, CUBLASLT_MATMUL_DESC_TRANSB, &op_a,
                                              sizeof(op_a)));
  // See the table in the header: the column-major views of the row-major buffers.
  if (layout == WeightLayout::kKN) {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&w_layout_, type, rows(n), rows(k), ld(n)));
  } else {
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&w_layout_, type, rows(k), rows(n), ld(k)));
  }
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&a_layout_, type, rows(k), rows(m), ld(k)));
  CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&c_layout_, type, rows(n), rows(m), ld(n)));
}

CublasLtGemm::~CublasLtGemm() {
  cublasLtMatrixLayoutDestroy(c_layout_);
  cublasLtMatrixLayoutDestroy(a_layout_);
  cublasLtMatrixLayoutDestroy(w_layout_);
  cublasLtMatmulDescDestroy(matmul_);
}

std::vector<cublasLtMatmulAlgo_t> CublasLtGemm::heuristic_algos(int max_count) const {
  cublasLtMatmulPreference_t preference = nullptr;
  CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&preference));
  const std::size_t workspace_bytes = lt_.workspace_bytes();
  std::vector<cublasLtMatmulHeuristicResult_t> results(static_cast<std::size_t>(max_count));
  int returned = 0;
  try {
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(
        preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
        sizeof(workspace_bytes)));
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt_.handle(), matmul_, w_layout_, a_layout_,
                                                c_layout_, c_layout_, preference, max_count,
                                                results.data(), &returned));
  } catch (...) {
    cublasLtMatmulPreferenceDestroy(preference);
    throw;
  }
  cublasLtMatmulPreferenceDestroy(preference);
  std::vector<cublasLtMatmulAlgo_t> algos;
  for (int i = 0; i < returned; ++i) {
    const auto& result = results[static_cast<std::size_t>(i)];
    if (result.state == CUBLAS_STATUS_SUCCESS && result.workspaceSize <= workspace_bytes) {
      algos.push_back(result.algo);
    }
  }
  if (algos.empty()) {
    throw Error(ErrorCode::kUnsupported,
                "cublasLtMatmulAlgoGetHeuristic proposed no algorithm for this problem");
  }
  return algos;
}

void CublasLtGemm::run(const cublasLtMatmulAlgo_t& algo, const void* a, const void* w, void* c,
                       cudaStream_t stream) const {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  CUBLAS_CHECK(cublasLtMatmul(lt_.handle(), matmul_, &alpha, w, w_layout_, a, a_layout_, &beta, c,
                              c_layout_, c, c_layout_, &algo, lt_.workspace(),
                              lt_.workspace_bytes(), stream));
}

}  // namespace marlin::bench

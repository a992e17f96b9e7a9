// The C API (include/marlin/marlin.h) over the C++ library. Every entry point runs its body
// through guarded(), which turns every exception into a status code plus the thread-local
// message: nothing thrown ever crosses into C.
#include "marlin/marlin.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "marlin/device.h"
#include "marlin/pack.h"
#include "marlin/quant.h"
#include "marlin/status.h"
#if MARLIN_HAVE_GEMM
#include "marlin/gemm.h"
#endif

struct marlin_quantized {
  marlin::QuantizedMatrix matrix;
};
struct marlin_packed {
  marlin::PackedMatrix matrix;
  std::vector<std::uint8_t> device_scales;  // marlin::device_scales(matrix): what the GPU reads
};

namespace {

thread_local std::string last_error_message;

static_assert(MARLIN_OK == static_cast<int>(marlin::ErrorCode::kOk) &&
                  MARLIN_INVALID_ARGUMENT == static_cast<int>(marlin::ErrorCode::kInvalidArgument) &&
                  MARLIN_UNSUPPORTED == static_cast<int>(marlin::ErrorCode::kUnsupported) &&
                  MARLIN_CUDA_ERROR == static_cast<int>(marlin::ErrorCode::kCuda) &&
                  MARLIN_IO_ERROR == static_cast<int>(marlin::ErrorCode::kIo) &&
                  MARLIN_INTERNAL_ERROR == static_cast<int>(marlin::ErrorCode::kInternal),
              "marlin_status must mirror marlin::ErrorCode");
static_assert(MARLIN_FLOAT16 == static_cast<int>(marlin::DType::kFloat16) &&
                  MARLIN_BFLOAT16 == static_cast<int>(marlin::DType::kBFloat16) &&
                  MARLIN_FLOAT32 == static_cast<int>(marlin::DType::kFloat32) &&
                  MARLIN_INT8_PACKED == static_cast<int>(marlin::DType::kInt8Packed),
              "marlin_dtype must mirror marlin::DType");
static_assert(MARLIN_SYMMETRIC_INT4 == static_cast<int>(marlin::QuantScheme::kSymmetricInt4) &&
                  MARLIN_ASYMMETRIC_INT4 == static_cast<int>(marlin::QuantScheme::kAsymmetricInt4) &&
                  MARLIN_SYMMETRIC_INT8 == static_cast<int>(marlin::QuantScheme::kSymmetricInt8),
              "marlin_quant_scheme must mirror marlin::QuantScheme");
static_assert(MARLIN_PER_CHANNEL == marlin::kPerChannel, "MARLIN_PER_CHANNEL must mirror kPerChannel");

marlin_status fail(marlin_status status, std::string message) {
  last_error_message = std::move(message);
  return status;
}

template <typename Body>
marlin_status guarded(const char* function, Body body) noexcept {
  try {
    last_error_message.clear();
    body();
    return MARLIN_OK;
  } catch (const marlin::Error& e) {
    return fail(static_cast<marlin_status>(e.code()), std::string(function) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return fail(MARLIN_INTERNAL_ERROR, std::string(function) + ": out of host memory");
  } catch (const std::exception& e) {
    return fail(MARLIN_INTERNAL_ERROR, std::string(function) + ": " + e.what());
  } catch (...) {
    return fail(MARLIN_INTERNAL_ERROR, std::string(function) + ": unknown exception");
  }
}

void require_pointer(const void* pointer, const char* name) {
  marlin::require(pointer != nullptr, std::string(name) + " is a null pointer");
}

marlin::QuantScheme to_scheme(marlin_quant_scheme scheme) {
  marlin::require(scheme == MARLIN_SYMMETRIC_INT4 || scheme == MARLIN_ASYMMETRIC_INT4 ||
                      scheme == MARLIN_SYMMETRIC_INT8,
                  "scheme=" + std::to_string(static_cast<int>(scheme)) + " is not a marlin_quant_scheme");
  return static_cast<marlin::QuantScheme>(scheme);
}

marlin::DType to_dtype(marlin_dtype dtype) {
  marlin::require(dtype >= MARLIN_FLOAT16 && dtype <= MARLIN_INT8_PACKED,
                  "dtype=" + std::to_string(static_cast<int>(dtype)) + " is not a marlin_dtype");
  return static_cast<marlin::DType>(dtype);
}

void fill_info(int k, int n, int group_size, int groups, marlin::QuantScheme scheme,
               marlin::DType scale_dtype, bool has_zeros, bool act_order,
               marlin_weight_info* info) {
  info->k = k;
  info->n = n;
  info->group_size = group_size;
  info->groups = groups;
  info->scheme = static_cast<marlin_quant_scheme>(scheme);
  info->scale_dtype = static_cast<marlin_dtype>(scale_dtype);
  info->has_zeros = has_zeros ? 1 : 0;
  info->act_order = act_order ? 1 : 0;
}

// Hands out a handle's array as (pointer, count). An empty one is (NULL, 0) whatever the
// vector's data() happens to return, so C callers can test the pointer.
template <typename T>
void hand_out(const std::vector<T>& array, const T** data, size_t* count) {
  *data = array.empty() ? nullptr : array.data();
  *count = array.size();
}

#if !MARLIN_HAVE_GEMM
[[noreturn]] void throw_no_gemm_kernels() {
  throw marlin::Error(marlin::ErrorCode::kUnsupported,
                      "this build of marlin has no GEMM kernels (built without marlin_gemm)");
}
#endif

}  // namespace

extern "C" {

const char* marlin_version(void) { return MARLIN_VERSION_STRING; }

const char* marlin_status_name(marlin_status status) {
  return marlin::error_code_name(static_cast<marlin::ErrorCode>(status));
}

const char* marlin_last_error_message(void) { return last_error_message.c_str(); }

int marlin_has_gemm(void) { return MARLIN_HAVE_GEMM ? 1 : 0; }

marlin_status marlin_device_count(int* count) {
  return guarded(__func__, [&] {
    require_pointer(count, "count");
    *count = marlin::cuda_device_count();
  });
}

marlin_status marlin_quantize_rtn(const float* w, int k, int n, marlin_quant_scheme scheme,
                                  int group_size, marlin_dtype scale_dtype,
                                  marlin_quantized** out) {
  return guarded(__func__, [&] {
    require_pointer(out, "out");
    *out = nullptr;
    require_pointer(w, "w");
    marlin::require(k > 0 && n > 0, "k=" + std::to_string(k) + ", n=" + std::to_string(n) +
                                        " must be positive");
    const std::size_t count = static_cast<std::size_t>(k) * static_cast<std::size_t>(n);
    auto handle = std::make_unique<marlin_quantized>();
    handle->matrix = marlin::quantize_rtn(std::vector<float>(w, w + count), k, n,
                                          to_scheme(scheme), group_size, to_dtype(scale_dtype));
    *out = handle.release();
  });
}

marlin_status marlin_quantized_from_codes(marlin_quant_scheme scheme, int k, int n,
                                          int group_size, marlin_dtype scale_dtype,
                                          const uint8_t* q, const float* scales,
                                          const uint8_t* zeros, const int32_t* g_idx,
                                          marlin_quantized** out) {
  return guarded(__func__, [&] {
    require_pointer(out, "out");
    *out = nullptr;
    require_pointer(q, "q");
    require_pointer(scales, "scales");
    marlin::require(k > 0 && n > 0, "k=" + std::to_string(k) + ", n=" + std::to_string(n) +
                                        " must be positive");
    // Checked here as well as in validate(): the array sizes below divide by it.
    marlin::require(group_size == marlin::kPerChannel || group_size > 0,
                    "group_size=" + std::to_string(group_size) +
                        " must be positive or -1 (per-channel)");
    auto handle = std::make_unique<marlin_quantized>();
    marlin::QuantizedMatrix& w = handle->matrix;
    w.scheme = to_scheme(scheme);
    w.k = k;
    w.n = n;
    w.group_size = group_size;
    w.scale_dtype = to_dtype(scale_dtype);
    const std::size_t group_rows = static_cast<std::size_t>(w.effective_group_size());
    const std::size_t groups = (static_cast<std::size_t>(k) + group_rows - 1) / group_rows;
    const std::size_t columns = static_cast<std::size_t>(n);
    w.q.assign(q, q + static_cast<std::size_t>(k) * columns);
    w.scales.assign(scales, scales + groups * columns);
    if (marlin::scheme_has_zeros(w.scheme)) {
      marlin::require(zeros != nullptr,
                      "zeros is a null pointer; asymmetric INT4 weights store zero points");
      w.zeros.assign(zeros, zeros + groups * columns);
    } else {
      marlin::require(zeros == nullptr, "zeros must be NULL for a symmetric scheme (its zero is "
                                        "implicit)");
    }
    if (g_idx != nullptr) w.g_idx.assign(g_idx, g_idx + k);
    marlin::validate(w);
    *out = handle.release();
  });
}

marlin_status marlin_quantized_info(const marlin_quantized* w, marlin_weight_info* info) {
  return guarded(__func__, [&] {
    require_pointer(w, "w");
    require_pointer(info, "info");
    const auto& m = w->matrix;
    fill_info(m.k, m.n, m.group_size, m.groups(), m.scheme, m.scale_dtype, !m.zeros.empty(),
              !m.g_idx.empty(), info);
  });
}

marlin_status marlin_dequantize(const marlin_quantized* w, float* out, size_t out_count) {
  return guarded(__func__, [&] {
    require_pointer(w, "w");
    require_pointer(out, "out");
    const std::size_t needed = w->matrix.q.size();
    marlin::require(out_count >= needed, "out holds " + std::to_string(out_count) +
                                             " floats; k*n=" + std::to_string(needed) + " needed");
    const std::vector<float> values = marlin::dequantize(w->matrix);
    std::copy(values.begin(), values.end(), out);
  });
}

void marlin_quantized_free(marlin_quantized* w) { delete w; }

marlin_status marlin_pack(const marlin_quantized* w, marlin_packed** out) {
  return guarded(__func__, [&] {
    require_pointer(out, "out");
    *out = nullptr;
    require_pointer(w, "w");
    auto handle = std::make_unique<marlin_packed>();
    handle->matrix = marlin::pack(w->matrix);
    handle->device_scales = marlin::device_scales(handle->matrix);
    *out = handle.release();
  });
}

marlin_status marlin_unpack(const marlin_packed* p, marlin_quantized** out) {
  return guarded(__func__, [&] {
    require_pointer(out, "out");
    *out = nullptr;
    require_pointer(p, "p");
    auto handle = std::make_unique<marlin_quantized>();
    handle->matrix = marlin::unpack(p->matrix);
    *out = handle.release();
  });
}

marlin_status marlin_packed_info(const marlin_packed* p, marlin_weight_info* info) {
  return guarded(__func__, [&] {
    require_pointer(p, "p");
    require_pointer(info, "info");
    const auto& m = p->matrix;
    const int groups = m.group_size == marlin::kPerChannel ? 1 : m.k / m.group_size;
    fill_info(m.k, m.n, m.group_size, groups, m.scheme, m.scale_dtype, !m.zeros.empty(),
              !m.perm.empty(), info);
  });
}

marlin_status marlin_packed_qweight(const marlin_packed* p, const uint32_t** words, size_t* count) {
  return guarded(__func__, [&] {
    require_pointer(p, "p");
    require_pointer(words, "words");
    require_pointer(count, "count");
    hand_out(p->matrix.qweight, words, count);
  });
}

marlin_status marlin_packed_scales(const marlin_packed* p, const uint16_t** scales, size_t* count) {
  return guarded(__func__, [&] {
    require_pointer(p, "p");
    require_pointer(scales, "scales");
    require_pointer(count, "count");
    hand_out(p->matrix.scales, scales, count);
  });
}

marlin_status marlin_packed_zeros(const marlin_packed* p, const uint8_t** zeros, size_t* count) {
  return guarded(__func__, [&] {
    require_pointer(p, "p");
    require_pointer(zeros, "zeros");
    require_pointer(count, "count");
    hand_out(p->matrix.zeros, zeros, count);
  });
}

marlin_status marlin_packed_device_scales(const marlin_packed* p, const uint8_t** bytes,
                                          size_t* count) {
  return guarded(__func__, [&] {
    require_pointer(p, "p");
    require_pointer(bytes, "bytes");
    require_pointer(count, "count");
    hand_out(p->device_scales, bytes, count);
  });
}

marlin_status marlin_packed_perm(const marlin_packed* p, const int32_t** perm, size_t* count) {
  return guarded(__func__, [&] {
    require_pointer(p, "p");
    require_pointer(perm, "perm");
    require_pointer(count, "count");
    hand_out(p->matrix.perm, perm, count);
  });
}

void marlin_packed_free(marlin_packed* p) { delete p; }

marlin_status marlin_gemm_workspace_bytes(int max_m, int n, size_t* bytes) {
  return guarded(__func__, [&] {
    require_pointer(bytes, "bytes");
#if MARLIN_HAVE_GEMM
    *bytes = marlin::gemm_workspace_bytes(max_m, n);
#else
    (void)max_m;
    (void)n;
    throw_no_gemm_kernels();
#endif
  });
}

marlin_status marlin_gemm_workspace_bytes_act_order(int max_m, int n, int max_act_order_k,
                                                    size_t* bytes) {
  return guarded(__func__, [&] {
    require_pointer(bytes, "bytes");
#if MARLIN_HAVE_GEMM
    // Like marlin_gemm_workspace_bytes, sized for the current device (kCuda without one).
    *bytes = marlin::gemm_workspace_bytes(max_m, n, marlin::current_device().sm_count,
                                          max_act_order_k);
#else
    (void)max_m;
    (void)n;
    (void)max_act_order_k;
    throw_no_gemm_kernels();
#endif
  });
}

marlin_status marlin_gemm(const marlin_gemm_args* args, void* stream) {
  return guarded(__func__, [&] {
    require_pointer(args, "args");
    marlin::require(args->zeros == nullptr,
                    "zeros must be NULL: zero points travel inside scales (upload "
                    "marlin_packed_device_scales)");
#if MARLIN_HAVE_GEMM
    marlin::GemmArgs gemm_args;
    gemm_args.a = args->a;
    gemm_args.activation_dtype = to_dtype(args->activation_dtype);
    gemm_args.m = args->m;
    gemm_args.weights.scheme = to_scheme(args->scheme);
    gemm_args.weights.k = args->k;
    gemm_args.weights.n = args->n;
    gemm_args.weights.group_size = args->group_size;
    gemm_args.weights.scale_dtype = to_dtype(args->scale_dtype);
    gemm_args.weights.qweight = args->qweight;
    gemm_args.weights.scales = args->scales;
    gemm_args.weights.perm = args->perm;
    gemm_args.c = args->c;
    gemm_args.bias = args->bias;
    gemm_args.accumulate = args->accumulate != 0;
    gemm_args.workspace.data = args->workspace;
    gemm_args.workspace.bytes = args->workspace_bytes;
    gemm_args.workspace.max_m = args->workspace_max_m;
    gemm_args.workspace.n = args->workspace_n;
    gemm_args.workspace.max_act_order_k = args->workspace_max_act_order_k;
    gemm_args.static_weights = args->static_weights != 0;
    marlin::gemm(gemm_args, static_cast<cudaStream_t>(stream));
#else
    (void)stream;
    throw_no_gemm_kernels();
#endif
  });
}

}  // extern "C"

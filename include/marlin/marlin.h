/* The marlin C API: quantize, pack and multiply INT4 / INT8 weights from C (or any language with
 * a C FFI). C99; every function returns a marlin_status, and on failure the thread's
 * marlin_last_error_message() says what was wrong (which argument, its value, the rule).
 *
 *   marlin_quantized* q = NULL;
 *   marlin_packed* p = NULL;
 *   if (marlin_quantize_rtn(w, k, n, MARLIN_SYMMETRIC_INT4, 128, MARLIN_FLOAT16, &q) != MARLIN_OK ||
 *       marlin_pack(q, &p) != MARLIN_OK) {
 *     fprintf(stderr, "marlin: %s\n", marlin_last_error_message());
 *   }
 *   ... upload marlin_packed_qweight(p) / _device_scales(p) (and _perm(p) where it is not
 *       NULL), then marlin_gemm(...) ...
 *   marlin_packed_free(p);
 *   marlin_quantized_free(q);
 *
 * Handles are opaque and own host memory; free them with their _free function (NULL is fine).
 * No exception or C++ type crosses this boundary. The C++ API (marlin/quant.h, pack.h, gemm.h)
 * is the same library seen from C++.
 */
#ifndef MARLIN_MARLIN_H_
#define MARLIN_MARLIN_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define MARLIN_API
#else
#define MARLIN_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Mirrors marlin::ErrorCode (marlin/status.h), value for value. */
typedef enum marlin_status {
  MARLIN_OK = 0,
  MARLIN_INVALID_ARGUMENT = 1, /* a shape, dtype, pointer or option the call does not support */
  MARLIN_UNSUPPORTED = 2,      /* valid input, but no kernel for it on this device / build */
  MARLIN_CUDA_ERROR = 3,       /* the CUDA runtime or a CUDA library reported an error */
  MARLIN_IO_ERROR = 4,         /* files: missing, unreadable, corrupt */
  MARLIN_INTERNAL_ERROR = 5    /* a bug in marlin (or out of host memory) */
} marlin_status;

/* Mirrors marlin::DType (marlin/dtype.h). */
typedef enum marlin_dtype {
  MARLIN_FLOAT16 = 0,
  MARLIN_BFLOAT16 = 1,
  MARLIN_FLOAT32 = 2,
  MARLIN_INT32 = 3,
  MARLIN_UINT8 = 4,
  MARLIN_INT4_PACKED = 5,
  MARLIN_INT8_PACKED = 6
} marlin_dtype;

/* Mirrors marlin::QuantScheme (marlin/quant.h). */
typedef enum marlin_quant_scheme {
  MARLIN_SYMMETRIC_INT4 = 0,  /* q in [0,15], w = (q - 8) * s */
  MARLIN_ASYMMETRIC_INT4 = 1, /* q in [0,15], w = (q - z) * s, z stored */
  MARLIN_SYMMETRIC_INT8 = 2   /* q in [0,255], w = (q - 128) * s */
} marlin_quant_scheme;

/* group_size value meaning one group over all of k. */
#define MARLIN_PER_CHANNEL (-1)

/* Plain quantized weights (one code per byte), host memory. */
typedef struct marlin_quantized marlin_quantized;
/* Weights in the kernels' packed layout (src/layout/packed_format.h), host memory. */
typedef struct marlin_packed marlin_packed;

/* Shape and format of a quantized or packed matrix W (k x n, C = A * W). */
typedef struct marlin_weight_info {
  int k;
  int n;
  int group_size; /* or MARLIN_PER_CHANNEL */
  int groups;     /* rows of scales */
  marlin_quant_scheme scheme;
  marlin_dtype scale_dtype; /* MARLIN_FLOAT16 or MARLIN_BFLOAT16 */
  int has_zeros; /* 1 when zero points are stored (MARLIN_ASYMMETRIC_INT4), else 0 */
  /* 1 when the rows carry act-order groups: a quantized matrix has a g_idx, a packed one a perm
   * (marlin_packed_perm). A g_idx that needs no reordering (row / group_size) packs to no perm,
   * so a quantized 1 can become a packed 0. */
  int act_order;
} marlin_weight_info;

/* "0.1.0"; never fails. */
MARLIN_API const char* marlin_version(void);
/* "ok", "invalid argument", ...; never fails. */
MARLIN_API const char* marlin_status_name(marlin_status status);
/* The message of the last failed call on this thread ("" if none failed since the last call
 * that succeeded). Valid until this thread's next marlin call. */
MARLIN_API const char* marlin_last_error_message(void);
/* 1 if this library was built with the GPU GEMM kernels, 0 if marlin_gemm always answers
 * MARLIN_UNSUPPORTED. */
MARLIN_API int marlin_has_gemm(void);

/* Number of CUDA devices; 0 (and MARLIN_OK) when there is no driver or no GPU. */
MARLIN_API marlin_status marlin_device_count(int* count);

/* Round-to-nearest quantization of the row-major k x n fp32 matrix w. */
MARLIN_API marlin_status marlin_quantize_rtn(const float* w, int k, int n, marlin_quant_scheme scheme,
                                             int group_size, marlin_dtype scale_dtype,
                                             marlin_quantized** out);
/* Wraps weights quantized elsewhere (GPTQ, AWQ, ...) in a handle; the arrays are copied. With
 * groups = ceil(k / group_size) (1 per-channel), as GPTQ counts them:
 *   q       k*n codes, row-major, one a byte: [0,15], or [0,255] for MARLIN_SYMMETRIC_INT8
 *   scales  groups*n floats, row-major
 *   zeros   groups*n codes in [0,15] for MARLIN_ASYMMETRIC_INT4; NULL for the other schemes
 *   g_idx   k entries, the group of each row (act-order), or NULL for row / group_size
 * Checks shapes and ranges. marlin_pack adds its own rules: scales exact in scale_dtype, and
 * every group of a g_idx exactly group_size rows. */
MARLIN_API marlin_status marlin_quantized_from_codes(marlin_quant_scheme scheme, int k, int n,
                                                     int group_size, marlin_dtype scale_dtype,
                                                     const uint8_t* q, const float* scales,
                                                     const uint8_t* zeros, const int32_t* g_idx,
                                                     marlin_quantized** out);
MARLIN_API marlin_status marlin_quantized_info(const marlin_quantized* w, marlin_weight_info* info);
/* Writes the k x n dequantized matrix (fp32, row-major) to out, which holds out_count floats. */
MARLIN_API marlin_status marlin_dequantize(const marlin_quantized* w, float* out, size_t out_count);
MARLIN_API void marlin_quantized_free(marlin_quantized* w);

/* Packs weights of any marlin_quant_scheme, act-order included, into the kernels' layout. */
MARLIN_API marlin_status marlin_pack(const marlin_quantized* w, marlin_packed** out);
/* The exact inverse of marlin_pack. */
MARLIN_API marlin_status marlin_unpack(const marlin_packed* p, marlin_quantized** out);
MARLIN_API marlin_status marlin_packed_info(const marlin_packed* p, marlin_weight_info* info);
/* Host arrays, valid until the handle is freed: k*n/8 words of codes (k*n/4 for INT8), to upload
 * as they are; groups*n fp16/bf16 scale bit patterns in the packed order (the GEMM reads them
 * through marlin_packed_device_scales). */
MARLIN_API marlin_status marlin_packed_qweight(const marlin_packed* p, const uint32_t** words,
                                               size_t* count);
MARLIN_API marlin_status marlin_packed_scales(const marlin_packed* p, const uint16_t** scales,
                                              size_t* count);
/* groups*n zero points, laid out like the scales, for MARLIN_ASYMMETRIC_INT4; NULL and 0 (not an
 * error) for the symmetric schemes. The GEMM reads them inside marlin_packed_device_scales. */
MARLIN_API marlin_status marlin_packed_zeros(const marlin_packed* p, const uint8_t** zeros,
                                             size_t* count);
/* The bytes to upload as marlin_gemm_args.scales: the scales as they are for the symmetric
 * schemes; for MARLIN_ASYMMETRIC_INT4 each group's row of scales with its zero points beside
 * them, per 256 columns (src/layout/packed_format.h, 7.). */
MARLIN_API marlin_status marlin_packed_device_scales(const marlin_packed* p, const uint8_t** bytes,
                                                     size_t* count);
/* Act-order: k entries, packed row i is original row perm[i]; NULL and 0 (not an error) when the
 * rows needed no reordering. */
MARLIN_API marlin_status marlin_packed_perm(const marlin_packed* p, const int32_t** perm,
                                            size_t* count);
MARLIN_API void marlin_packed_free(marlin_packed* p);

/* C[m,n] = A[m,k] * dequant(W)[k,n] (+ bias) on the GPU. All pointers are device pointers.
 * Zero-initialize the struct (memset, or = {0}) and set what the call uses: a field added later
 * then stays off. */
typedef struct marlin_gemm_args {
  const void* a; /* [m, k] row-major */
  marlin_dtype activation_dtype; /* MARLIN_FLOAT16 or MARLIN_BFLOAT16 (A, C and bias) */
  int m;
  /* W, packed: upload marlin_packed_qweight / _device_scales / _perm as they are */
  const uint32_t* qweight;
  const void* scales;   /* marlin_packed_device_scales; zero points inside (asymmetric INT4) */
  const uint8_t* zeros; /* must be NULL: zero points travel inside scales (the field stays so
                         * that the ones after it keep their offsets) */
  const int32_t* perm;  /* act-order weights only (k entries); NULL otherwise */
  int k;                /* a multiple of 128 */
  int n;                /* a multiple of 64 */
  int group_size;
  marlin_quant_scheme scheme;
  marlin_dtype scale_dtype; /* must equal activation_dtype */
  void* c;                /* [m, n] row-major, same dtype as A */
  const void* bias;       /* [n], same dtype as A, 4-byte aligned, added to every row; or NULL */
  int accumulate;         /* nonzero: C = C + A * W (+ bias); 0: C = A * W (+ bias) */
  void* workspace;        /* zeroed once (cudaMemset) by the caller; each launch leaves its
                           * counters zeroed again */
  size_t workspace_bytes; /* marlin_gemm_workspace_bytes(workspace_max_m, workspace_n), or with
                           * act-order marlin_gemm_workspace_bytes_act_order(...,
                           * workspace_max_act_order_k) */
  /* What the workspace was sized for. One workspace serves, one call after another, every call
   * with m <= workspace_max_m, n <= workspace_n and (act-order) k <= workspace_max_act_order_k;
   * others are refused (their scratch could land on another call's counters). */
  int workspace_max_m;
  int workspace_n;
  int workspace_max_act_order_k;
  /* nonzero: no GPU work this call follows on the stream writes the weights; on sm_90+ the GEMM
   * then starts streaming them while the previous kernel finishes (GemmArgs::static_weights) */
  int static_weights;
} marlin_gemm_args;

/* Bytes of workspace one stream needs for problems up to max_m rows and n columns on the current
 * device (MARLIN_CUDA_ERROR without one: the size depends on the device's SM count). */
MARLIN_API marlin_status marlin_gemm_workspace_bytes(int max_m, int n, size_t* bytes);
/* The same with room for act-order weights up to max_act_order_k rows (A with its columns
 * permuted lives in the workspace); max_act_order_k = 0 gives marlin_gemm_workspace_bytes. */
MARLIN_API marlin_status marlin_gemm_workspace_bytes_act_order(int max_m, int n,
                                                               int max_act_order_k,
                                                               size_t* bytes);
/* Checks every argument, then launches on `stream` (a cudaStream_t; NULL for the default
 * stream). Asynchronous like any launch. */
MARLIN_API marlin_status marlin_gemm(const marlin_gemm_args* args, void* stream);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* MARLIN_MARLIN_H_ */

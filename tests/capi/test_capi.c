/* The C API seen from C99: the header compiles as C, a quantize -> pack -> unpack -> dequantize
 * round trip works (act-order and zero points included), and errors come back as status codes
 * with a message naming the rule. Nothing here needs a GPU: the GEMM refusals happen in the
 * argument checks, before any CUDA call.
 * A plain C program (no test framework): prints each failed check, exits 1 if any failed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marlin/marlin.h"

static int failures = 0;

#define CHECK(condition)                                                   \
  do {                                                                     \
    if (!(condition)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

/* The call returned `status` and the thread's message contains `rule`. */
static void check_error(marlin_status got, marlin_status expected, const char* rule, int line) {
  const char* message = marlin_last_error_message();
  if (got != expected || strstr(message, rule) == NULL) {
    fprintf(stderr, "line %d: expected %s mentioning \"%s\"; got %s: \"%s\"\n", line,
            marlin_status_name(expected), rule, marlin_status_name(got), message);
    ++failures;
  }
}
#define CHECK_ERROR(call, expected, rule) check_error((call), (expected), (rule), __LINE__)

static void test_round_trip(void) {
  enum { K = 256, N = 128, GROUP = 128 };
  float* w = malloc(sizeof(float) * K * N);
  float* restored = malloc(sizeof(float) * K * N);
  float* again = malloc(sizeof(float) * K * N);
  marlin_quantized* q = NULL;
  marlin_quantized* unpacked = NULL;
  marlin_packed* p = NULL;
  marlin_weight_info info;
  const uint32_t* words = NULL;
  const uint16_t* scales = NULL;
  const uint8_t* zeros = NULL;
  const int32_t* perm = NULL;
  size_t word_count = 0, scale_count = 0, zero_count = 0, perm_count = 0;
  unsigned state = 12345u;
  int i;
  double worst = 0.0;
  for (i = 0; i < K * N; ++i) {
    state = state * 1664525u + 1013904223u; /* a small LCG: deterministic, no rand() state */
    w[i] = (float)((double)(state >> 8) / 16777216.0 - 0.5);
  }
  CHECK(marlin_quantize_rtn(w, K, N, MARLIN_SYMMETRIC_INT4, GROUP, MARLIN_FLOAT16, &q) == MARLIN_OK);
  CHECK(q != NULL);
  CHECK(strcmp(marlin_last_error_message(), "") == 0);
  CHECK(marlin_quantized_info(q, &info) == MARLIN_OK);
  CHECK(info.k == K && info.n == N && info.group_size == GROUP && info.groups == K / GROUP);
  CHECK(info.scheme == MARLIN_SYMMETRIC_INT4 && info.scale_dtype == MARLIN_FLOAT16);
  CHECK(info.has_zeros == 0 && info.act_order == 0);
  CHECK(marlin_dequantize(q, restored, (size_t)K * N) == MARLIN_OK);
  for (i = 0; i < K * N; ++i) {
    const double error = fabs((double)w[i] - (double)restored[i]);
    if (error > worst) worst = error;
  }
  /* |w| <= 0.5 -> scale <= 0.5 / 7.5 (rounded up to fp16): error <= scale / 2 < 0.0334 */
  CHECK(worst > 0.0 && worst < 0.0334);

  CHECK(marlin_pack(q, &p) == MARLIN_OK);
  CHECK(marlin_packed_info(p, &info) == MARLIN_OK);
  CHECK(info.k == K && info.n == N && info.groups == K / GROUP);
  CHECK(marlin_packed_qweight(p, &words, &word_count) == MARLIN_OK);
  CHECK(words != NULL && word_count == (size_t)K * N / 8);
  CHECK(marlin_packed_scales(p, &scales, &scale_count) == MARLIN_OK);
  CHECK(scales != NULL && scale_count == (size_t)(K / GROUP) * N);
  /* Symmetric, rows in order: no zero points and no perm, handed out as NULL and 0. */
  CHECK(info.has_zeros == 0 && info.act_order == 0);
  zeros = (const uint8_t*)words; /* poisoned: the calls must overwrite both */
  perm = (const int32_t*)words;
  zero_count = perm_count = 99;
  CHECK(marlin_packed_zeros(p, &zeros, &zero_count) == MARLIN_OK);
  CHECK(zeros == NULL && zero_count == 0);
  CHECK(marlin_packed_perm(p, &perm, &perm_count) == MARLIN_OK);
  CHECK(perm == NULL && perm_count == 0);
  CHECK(marlin_unpack(p, &unpacked) == MARLIN_OK);
  CHECK(marlin_dequantize(unpacked, again, (size_t)K * N) == MARLIN_OK);
  CHECK(memcmp(restored, again, sizeof(float) * K * N) == 0);

  marlin_packed_free(p);
  marlin_quantized_free(unpacked);
  marlin_quantized_free(q);
  marlin_quantized_free(NULL);
  marlin_packed_free(NULL);
  free(w);
  free(restored);
  free(again);
}

/* Asymmetric INT4 and INT8 weights pack too (packed_format.h, sections 4 and 5): INT8 codes take
 * twice the words, and marlin_unpack gives back exactly what was packed. The device scales carry
 * the zero points beside the scales, a group row padded to 256 columns (section 7). */
static void test_other_schemes(void) {
  enum { K = 32, N = 64, GROUPS = K / 16 };
  const marlin_quant_scheme schemes[2] = {MARLIN_ASYMMETRIC_INT4, MARLIN_SYMMETRIC_INT8};
  const size_t expected_words[2] = {K * N / 8, K * N / 4};
  const size_t expected_zeros[2] = {GROUPS * N, 0}; /* groups*n bytes; INT8 has none */
  const size_t expected_device_scales[2] = {GROUPS * 768, GROUPS * N * 2};
  float w[K * N];
  float before[K * N];
  float after[K * N];
  int s;
  int i;
  int nonzero;
  for (i = 0; i < K * N; ++i) w[i] = (float)((i * 37) % 101 - 40) / 64.0f;
  for (s = 0; s < 2; ++s) {
    marlin_quantized* q = NULL;
    marlin_quantized* back = NULL;
    marlin_packed* p = NULL;
    const uint32_t* words = NULL;
    size_t count = 0;
    CHECK(marlin_quantize_rtn(w, K, N, schemes[s], 16, MARLIN_BFLOAT16, &q) == MARLIN_OK);
    CHECK(marlin_pack(q, &p) == MARLIN_OK);
    CHECK(marlin_packed_qweight(p, &words, &count) == MARLIN_OK);
    CHECK(count == expected_words[s]);
    {
      const uint8_t* zeros = NULL;
      size_t zero_count = 0;
      const uint16_t* scales = NULL;
      size_t scale_count = 0;
      const uint8_t* device = NULL;
      size_t device_count = 0;
      int g;
      CHECK(marlin_packed_zeros(p, &zeros, &zero_count) == MARLIN_OK);
      CHECK(zero_count == expected_zeros[s] && (zeros != NULL) == (expected_zeros[s] != 0));
      CHECK(marlin_packed_scales(p, &scales, &scale_count) == MARLIN_OK);
      CHECK(marlin_packed_device_scales(p, &device, &device_count) == MARLIN_OK);
      CHECK(device != NULL && scale_count == GROUPS * N &&
            device_count == expected_device_scales[s]);
      for (g = 0; device != NULL && scales != NULL && g < GROUPS; ++g) {
        const size_t row = device_count / GROUPS;
        CHECK(memcmp(device + g * row, scales + g * N, N * 2) == 0);
        if (zeros != NULL) CHECK(memcmp(device + g * row + 512, zeros + g * N, N) == 0);
      }
    }
    CHECK(marlin_unpack(p, &back) == MARLIN_OK);
    CHECK(marlin_dequantize(q, before, K * N) == MARLIN_OK);
    CHECK(marlin_dequantize(back, after, K * N) == MARLIN_OK);
    CHECK(memcmp(before, after, sizeof before) == 0);
    nonzero = 0;
    for (i = 0; i < K * N; ++i) nonzero += before[i] != 0.0f;
    CHECK(nonzero > K * N / 2); /* not a trivial matrix */
    marlin_quantized_free(back);
    marlin_packed_free(p);
    marlin_quantized_free(q);
  }
}

/* Weights quantized elsewhere, asymmetric with act-order (GPTQ desc_act + zero points), built
 * from their arrays: packing keeps the zero points and sorts the rows by group (perm), and
 * unpacking gives back exactly the same matrix. */
static void test_act_order_zeros(void) {
  enum { K = 256, N = 128, GROUP = 64, GROUPS = K / GROUP };
  static uint8_t q[K * N];
  static float scales[GROUPS * N];
  static uint8_t zeros[GROUPS * N];
  static int32_t g_idx[K];
  static float expected[K * N];
  static float restored[K * N];
  static float again[K * N];
  marlin_quantized* w = NULL;
  marlin_quantized* unpacked = NULL;
  marlin_packed* p = NULL;
  marlin_packed* repacked = NULL;
  marlin_weight_info info;
  const uint8_t* packed_zeros = NULL;
  const uint8_t* repacked_zeros = NULL;
  const int32_t* perm = NULL;
  const int32_t* repacked_perm = NULL;
  size_t zero_count = 0, perm_count = 0, count = 0;
  int row, col, g, i;
  for (i = 0; i < K * N; ++i) q[i] = (uint8_t)((i * 7 + i / N) % 16);
  for (i = 0; i < GROUPS * N; ++i) {
    scales[i] = (float)(1 + i % 8) / 64.0f; /* exact in fp16 */
    zeros[i] = (uint8_t)((i * 5 + i / N) % 16);
  }
  /* Row r in group r % GROUPS: every group holds GROUP rows, none of them contiguous. */
  for (row = 0; row < K; ++row) g_idx[row] = row % GROUPS;
  for (row = 0; row < K; ++row) {
    for (col = 0; col < N; ++col) {
      const int at = g_idx[row] * N + col;
      expected[row * N + col] = (float)(q[row * N + col] - zeros[at]) * scales[at];
    }
  }

  CHECK(marlin_quantized_from_codes(MARLIN_ASYMMETRIC_INT4, K, N, GROUP, MARLIN_FLOAT16, q,
                                    scales, zeros, g_idx, &w) == MARLIN_OK);
  CHECK(marlin_quantized_info(w, &info) == MARLIN_OK);
  CHECK(info.groups == GROUPS && info.has_zeros == 1 && info.act_order == 1);
  /* w = (q - z[g_idx[row]]) * s[g_idx[row]]: the handle holds what the arrays said. */
  CHECK(marlin_dequantize(w, restored, K * N) == MARLIN_OK);
  CHECK(memcmp(restored, expected, sizeof expected) == 0);

  CHECK(marlin_pack(w, &p) == MARLIN_OK);
  CHECK(marlin_packed_info(p, &info) == MARLIN_OK);
  CHECK(info.groups == GROUPS && info.has_zeros == 1 && info.act_order == 1);
  CHECK(marlin_packed_perm(p, &perm, &perm_count) == MARLIN_OK);
  CHECK(perm != NULL && perm_count == K);
  /* The stable sort of the rows by group: packed row i is the (i % GROUP)-th row of group
   * i / GROUP, i.e. original row (i % GROUP) * GROUPS + i / GROUP. */
  for (i = 0; perm != NULL && i < K; ++i) CHECK(perm[i] == (i % GROUP) * GROUPS + i / GROUP);
  CHECK(marlin_packed_zeros(p, &packed_zeros, &zero_count) == MARLIN_OK);
  CHECK(packed_zeros != NULL && zero_count == (size_t)GROUPS * N);
  /* Stored transposed within each 64 columns (packed_format.h, section 4): each 64-column block
   * of a group holds the same zero points, in another order. */
  for (g = 0; packed_zeros != NULL && g < GROUPS; ++g) {
    for (col = 0; col < N; col += 64) {
      int histogram[16] = {0};
      int mismatches = 0;
      for (i = 0; i < 64; ++i) {
        ++histogram[zeros[g * N + col + i]];
        --histogram[packed_zeros[g * N + col + i]];
      }
      for (i = 0; i < 16; ++i) mismatches += histogram[i] != 0;
      CHECK(mismatches == 0);
    }
  }

  /* unpack gives back the same matrix, and packing that again the same zeros and perm. */
  CHECK(marlin_unpack(p, &unpacked) == MARLIN_OK);
  CHECK(marlin_quantized_info(unpacked, &info) == MARLIN_OK);
  CHECK(info.has_zeros == 1 && info.act_order == 1);
  CHECK(marlin_dequantize(unpacked, again, K * N) == MARLIN_OK);
  CHECK(memcmp(again, expected, sizeof expected) == 0);
  CHECK(marlin_pack(unpacked, &repacked) == MARLIN_OK);
  CHECK(marlin_packed_zeros(repacked, &repacked_zeros, &count) == MARLIN_OK);
  CHECK(count == zero_count && repacked_zeros != NULL && packed_zeros != NULL &&
        memcmp(repacked_zeros, packed_zeros, count) == 0);
  CHECK(marlin_packed_perm(repacked, &repacked_perm, &count) == MARLIN_OK);
  CHECK(count == perm_count && repacked_perm != NULL && perm != NULL &&
        memcmp(repacked_perm, perm, count * sizeof *perm) == 0);

  marlin_packed_free(repacked);
  marlin_packed_free(p);
  marlin_quantized_free(unpacked);
  marlin_quantized_free(w);

  /* What the arrays must satisfy, each refused with its rule. */
  CHECK_ERROR(marlin_quantized_from_codes(MARLIN_ASYMMETRIC_INT4, K, N, GROUP, MARLIN_FLOAT16, q,
                                          scales, NULL, g_idx, &w),
              MARLIN_INVALID_ARGUMENT, "asymmetric INT4 weights store zero points");
  CHECK(w == NULL);
  CHECK_ERROR(marlin_quantized_from_codes(MARLIN_SYMMETRIC_INT4, K, N, GROUP, MARLIN_FLOAT16, q,
                                          scales, zeros, NULL, &w),
              MARLIN_INVALID_ARGUMENT, "zeros must be NULL for a symmetric scheme");
  CHECK_ERROR(marlin_quantized_from_codes(MARLIN_SYMMETRIC_INT4, K, N, 0, MARLIN_FLOAT16, q,
                                          scales, NULL, NULL, &w),
              MARLIN_INVALID_ARGUMENT, "group_size=0 must be positive or -1");
  g_idx[5] = GROUPS;
  CHECK_ERROR(marlin_quantized_from_codes(MARLIN_ASYMMETRIC_INT4, K, N, GROUP, MARLIN_FLOAT16, q,
                                          scales, zeros, g_idx, &w),
              MARLIN_INVALID_ARGUMENT, "g_idx[5]=4 is outside [0, 4)");
  /* A valid g_idx whose groups are uneven is a matrix, but not one the packed format holds. */
  g_idx[5] = 0;
  CHECK(marlin_quantized_from_codes(MARLIN_ASYMMETRIC_INT4, K, N, GROUP, MARLIN_FLOAT16, q, scales,
                                    zeros, g_idx, &w) == MARLIN_OK);
  CHECK_ERROR(marlin_pack(w, &p), MARLIN_UNSUPPORTED, "needs exactly group_size=64 per group");
  CHECK(p == NULL);
  marlin_quantized_free(w);
}

/* marlin_gemm refusals that the argument checks make before any CUDA call, so they run without a
 * GPU. The pointers are host addresses that are never dereferenced: the workspace stays NULL, so
 * even a check that wrongly passed would end in the workspace refusal, never in a launch. */
static void check_gemm_refusals(void) {
  static char storage[256];
  char* const aligned = (char*)(((uintptr_t)storage + 15) & ~(uintptr_t)15); /* 16-byte aligned */
  marlin_gemm_args args;
  memset(&args, 0, sizeof args);
  args.a = aligned;
  args.activation_dtype = MARLIN_FLOAT16;
  args.m = 16;
  args.qweight = (const uint32_t*)(const void*)aligned;
  args.scales = aligned;
  args.k = 256;
  args.n = 256;
  args.group_size = 128;
  args.scheme = MARLIN_SYMMETRIC_INT4;
  args.scale_dtype = MARLIN_FLOAT16;
  args.c = aligned;
  /* Everything else is valid: only the workspace is missing. Each case below changes one field. */
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT, "workspace is null");

  args.activation_dtype = MARLIN_BFLOAT16;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT,
              "scale_dtype (fp16) must equal the activation dtype (bf16)");
  args.scale_dtype = MARLIN_BFLOAT16; /* bf16 throughout is accepted */
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT, "workspace is null");
  args.activation_dtype = args.scale_dtype = MARLIN_FLOAT16;

  /* Zero points travel inside the device scales: asymmetric weights pass nothing more, and a
   * separate zeros array (the layout before) is refused whatever the scheme. */
  args.scheme = MARLIN_ASYMMETRIC_INT4;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT, "workspace is null");
  args.zeros = (const uint8_t*)aligned;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT,
              "zeros must be NULL: zero points travel inside scales");
  args.scheme = MARLIN_SYMMETRIC_INT8;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT, "zeros must be NULL");
  args.scheme = MARLIN_SYMMETRIC_INT4;
  args.zeros = NULL;

  args.bias = aligned + 2;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT, "bias must be 4-byte aligned");
  args.bias = aligned + 4;
  args.accumulate = 1;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT, "workspace is null");
  args.bias = NULL;
  args.accumulate = 0;

  args.perm = (const int32_t*)(const void*)aligned;
  args.group_size = MARLIN_PER_CHANNEL;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT,
              "per-channel weights have no groups to reorder");
  args.perm = (const int32_t*)(const void*)(aligned + 4);
  args.group_size = 128;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT,
              "weights.perm (act-order) must be 16-byte aligned");

  args.perm = NULL;
  args.k = 100;
  CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT,
              "k=100 must be a positive multiple of 128");
}

static void test_errors(void) {
  float w[24 * 64];
  float out[4];
  marlin_quantized* q = (marlin_quantized*)&w; /* must be reset to NULL on failure */
  marlin_packed* p = NULL;
  marlin_gemm_args args;
  size_t bytes = 0;
  size_t act_order_bytes = 0;
  memset(w, 0, sizeof w);
  CHECK_ERROR(marlin_quantize_rtn(w, 24, 64, MARLIN_SYMMETRIC_INT4, 128, MARLIN_FLOAT16, &q),
              MARLIN_INVALID_ARGUMENT, "must be a multiple of group_size=128");
  CHECK(q == NULL);
  /* The message names the function. */
  CHECK(strstr(marlin_last_error_message(), "marlin_quantize_rtn") != NULL);
  CHECK_ERROR(marlin_quantize_rtn(NULL, 16, 64, MARLIN_SYMMETRIC_INT4, 16, MARLIN_FLOAT16, &q),
              MARLIN_INVALID_ARGUMENT, "w is a null pointer");
  CHECK_ERROR(marlin_quantize_rtn(w, 16, 64, (marlin_quant_scheme)7, 16, MARLIN_FLOAT16, &q),
              MARLIN_INVALID_ARGUMENT, "not a marlin_quant_scheme");
  CHECK_ERROR(marlin_quantize_rtn(w, 16, 64, MARLIN_SYMMETRIC_INT4, 16, MARLIN_FLOAT32, &q),
              MARLIN_INVALID_ARGUMENT, "fp16 or bf16");

  /* k = 24 is a valid per-channel quantization but cannot be packed (16-row tiles). */
  CHECK(marlin_quantize_rtn(w, 24, 64, MARLIN_SYMMETRIC_INT4, MARLIN_PER_CHANNEL, MARLIN_FLOAT16,
                            &q) == MARLIN_OK);
  CHECK_ERROR(marlin_pack(q, &p), MARLIN_INVALID_ARGUMENT, "k=24 must be a multiple of 16");
  CHECK(p == NULL);
  CHECK_ERROR(marlin_dequantize(q, out, 4), MARLIN_INVALID_ARGUMENT, "out holds 4 floats");
  marlin_quantized_free(q);
  q = NULL;

  CHECK_ERROR(marlin_pack(NULL, &p), MARLIN_INVALID_ARGUMENT, "w is a null pointer");
  CHECK_ERROR(marlin_device_count(NULL), MARLIN_INVALID_ARGUMENT, "count is a null pointer");
  CHECK_ERROR(marlin_gemm(NULL, NULL), MARLIN_INVALID_ARGUMENT, "args is a null pointer");

  memset(&args, 0, sizeof args);
  args.activation_dtype = MARLIN_FLOAT16;
  args.m = 16;
  args.k = 100; /* not a multiple of 128 */
  args.n = 256;
  args.group_size = 128;
  args.scheme = MARLIN_SYMMETRIC_INT4;
  args.scale_dtype = MARLIN_FLOAT16;
  if (marlin_has_gemm()) {
    CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_INVALID_ARGUMENT, "multiple of 128");
    check_gemm_refusals();
    /* The workspace depends on the device (its SM count): without one it is a CUDA error. */
    int devices = 0;
    CHECK(marlin_device_count(&devices) == MARLIN_OK);
    if (devices > 0) {
      CHECK(marlin_gemm_workspace_bytes(16, 256, &bytes) == MARLIN_OK && bytes > 0);
      CHECK(marlin_gemm_workspace_bytes_act_order(16, 256, 0, &act_order_bytes) == MARLIN_OK &&
            act_order_bytes == bytes);
      /* Room for A with its 4096 columns permuted: 16 x 4096 16-bit values at least. */
      CHECK(marlin_gemm_workspace_bytes_act_order(16, 256, 4096, &act_order_bytes) == MARLIN_OK &&
            act_order_bytes >= bytes + 16 * 4096 * 2);
    } else {
      CHECK(marlin_gemm_workspace_bytes(16, 256, &bytes) == MARLIN_CUDA_ERROR);
      CHECK(marlin_gemm_workspace_bytes_act_order(16, 256, 4096, &act_order_bytes) ==
            MARLIN_CUDA_ERROR);
    }
  } else {
    CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_UNSUPPORTED, "no GEMM kernels");
    CHECK_ERROR(marlin_gemm_workspace_bytes(16, 256, &bytes), MARLIN_UNSUPPORTED, "no GEMM kernels");
    CHECK_ERROR(marlin_gemm_workspace_bytes_act_order(16, 256, 4096, &act_order_bytes),
                MARLIN_UNSUPPORTED, "no GEMM kernels");
  }

  /* A call that succeeds clears the message. */
  {
    int count = -1;
    CHECK(marlin_device_count(&count) == MARLIN_OK && count >= 0);
    CHECK(strcmp(marlin_last_error_message(), "") == 0);
  }
}

int main(void) {
  CHECK(strcmp(marlin_version(), "") != 0);
  CHECK(strcmp(marlin_status_name(MARLIN_OK), "ok") == 0);
  CHECK(strcmp(marlin_status_name(MARLIN_INVALID_ARGUMENT), "invalid argument") == 0);
  CHECK(strcmp(marlin_last_error_message(), "") == 0);
  test_round_trip();
  test_other_schemes();
  test_act_order_zeros();
  test_errors();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("C API: all checks passed (marlin %s, GEMM %s)\n", marlin_version(),
         marlin_has_gemm() ? "built" : "not built");
  return 0;
}

/* The C API seen from C99: the header compiles as C, a quantize -> pack -> unpack -> dequantize
 * round trip works, and errors come back as status codes with a message naming the rule.
 * A plain C program (no test framework): prints each failed check, exits 1 if any failed. */
#include <math.h>
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
  size_t word_count = 0, scale_count = 0;
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
 * twice the words, and marlin_unpack gives back exactly what was packed. */
static void test_other_schemes(void) {
  enum { K = 32, N = 64 };
  const marlin_quant_scheme schemes[2] = {MARLIN_ASYMMETRIC_INT4, MARLIN_SYMMETRIC_INT8};
  const size_t expected_words[2] = {K * N / 8, K * N / 4};
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

static void test_errors(void) {
  float w[24 * 64];
  float out[4];
  marlin_quantized* q = (marlin_quantized*)&w; /* must be reset to NULL on failure */
  marlin_packed* p = NULL;
  marlin_gemm_args args;
  size_t bytes = 0;
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
    /* The workspace depends on the device (its SM count): without one it is a CUDA error. */
    int devices = 0;
    CHECK(marlin_device_count(&devices) == MARLIN_OK);
    if (devices > 0) {
      CHECK(marlin_gemm_workspace_bytes(16, 256, &bytes) == MARLIN_OK && bytes > 0);
    } else {
      CHECK(marlin_gemm_workspace_bytes(16, 256, &bytes) == MARLIN_CUDA_ERROR);
    }
  } else {
    CHECK_ERROR(marlin_gemm(&args, NULL), MARLIN_UNSUPPORTED, "no GEMM kernels");
    CHECK_ERROR(marlin_gemm_workspace_bytes(16, 256, &bytes), MARLIN_UNSUPPORTED, "no GEMM kernels");
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
  test_errors();
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("C API: all checks passed (marlin %s, GEMM %s)\n", marlin_version(),
         marlin_has_gemm() ? "built" : "not built");
  return 0;
}

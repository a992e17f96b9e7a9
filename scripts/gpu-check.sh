#!/usr/bin/env bash
# The one script for the GPU machine: configure and build with all cores, run every test (GPU
# tests included), compute-sanitizer on a few shapes, the benchmark, and a short table last.
#
#   scripts/gpu-check.sh [--quick-bench] [--no-bench] [--no-sanitizer] [--compare DIR]
#                        [--compare-bench "BENCH OPTIONS"] [--large-batch] [--tree REV]
#                        [--late-start S]
#
# --large-batch: also benchmark every layer with the Hopper large-batch kernel forced on and off
# (m = 48-1024) and write <date>-<gpu>-large-batch.{csv,md} (bench/large_batch_report.py). That
# makes 10 result files, more than the device tool brings back (8), so then everything in $OUT
# ends up in one archive, $OUT/gpu-check-results.tgz.
# --tree REV: the commit the tables name (say `--tree $(git rev-parse --short HEAD)`, expanded
# here before the call). Default: git rev-parse in the tree, which on the device machine's copy
# may name an older commit than the files it runs.
#
# --late-start S (default 480): a benchmark step that would start more than S seconds after the
# build began is skipped, and the summary says so. The device tool stops a call at 600 s and then
# brings back only what $OUT holds, unpacked (a full run with --large-batch took 594 s on an
# H100); the summary gives each step's seconds, to see what to leave out (--no-sanitizer, say).
#
# --compare DIR: DIR is another source tree (say `git archive main | tar -x -C .baseline`, carried
# along); its benchmark is built beside ours and both are timed in alternating rounds at a few m,
# so that a change is judged against its baseline on the same card in the same run.
# --compare-bench: the benchmark options of those rounds, instead of --m 1 8 16 32 64 128 512
# (e.g. "--variant fp16_int4_zp_g128 --m 16 64" to judge a format, or "--static-weights").
# bench/sweep_summary.py then prints both sides per layer, best of the rounds.
#
# Logs and benchmark results go to $OUT when set (the device tool brings $OUT back; it takes at
# most 8 files, so tar them), else to ./gpu-check-out. Packages the GPU machine lacks come from
# .deps/ (scripts/stage-device-deps.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${OUT:-$root/gpu-check-out}
mkdir -p "$out"
bench_mode=full
run_sanitizer=1
large_batch=0
tree=
compare_dir=
compare_bench=(--m 1 8 16 32 64 128 512)
late_start=480
while [ $# -gt 0 ]; do
  case "$1" in
    --quick-bench) bench_mode=quick ;;
    --no-bench) bench_mode=none ;;
    --no-sanitizer) run_sanitizer=0 ;;
    --large-batch) large_batch=1 ;;
    --tree)
      [ $# -ge 2 ] || { echo "--tree needs a revision" >&2; exit 2; }
      tree=$2
      shift ;;
    --late-start)
      [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || { echo "--late-start needs seconds" >&2; exit 2; }
      late_start=$2
      shift ;;
    --compare)
      [ $# -ge 2 ] && [ -f "$2/CMakeLists.txt" ] || { echo "--compare needs a source tree" >&2; exit 2; }
      compare_dir=$(cd "$2" && pwd)
      shift ;;
    --compare-bench)
      [ $# -ge 2 ] || { echo "--compare-bench needs the benchmark options" >&2; exit 2; }
      read -r -a compare_bench <<<"$2"
      shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -d .deps/usr ] && export CMAKE_PREFIX_PATH="$root/.deps/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export PATH=/usr/local/cuda/bin:$PATH
declare -A result

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$out/gpu.txt"
jobs=$(nproc)

start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
# in_time STEP: whether STEP may still start (else its result says why not).
in_time() {
  local now
  now=$(elapsed)
  [ "$now" -le "$late_start" ] && return 0
  result[$1]="skipped: ${now} s gone, later than --late-start $late_start"
  return 1
}
if [ -n "$compare_dir" ]; then
  # The baseline's benchmark only, at low priority beside our build.
  (cmake -S "$compare_dir" -B "$compare_dir/build-compare" -G Ninja -DCMAKE_BUILD_TYPE=Release \
       -DMARLIN_BUILD_TESTS=OFF >"$out/compare-build.log" 2>&1 &&
   nice cmake --build "$compare_dir/build-compare" -j"$(( $(nproc) / 2 ))" \
       --target marlin_bench_dense >>"$out/compare-build.log" 2>&1) &
  compare_build=$!
fi
# (configure and build share one log)
if cmake --preset default -DMARLIN_PTXAS_VERBOSE=ON >"$out/build.log" 2>&1 &&
   cmake --build build -j"$jobs" >>"$out/build.log" 2>&1; then
  result[build]="ok ($(( $(date +%s) - start )) s)"
else
  result[build]="FAILED"
  tail -40 "$out/build.log"
fi
# ptxas hygiene: no spills, no local memory in any kernel.
spills=$(grep -E "bytes spill (stores|loads)" "$out/build.log" | grep -vc " 0 bytes spill stores, 0 bytes spill loads" || true)
stack=$(grep -E "bytes stack frame" "$out/build.log" | grep -vc "^ *0 bytes stack frame" || true)
# ...and no wgmma chain that ptxas serialized (a full wait after every multiply: C7513, or C7515
# when other code writes accumulator registers while a wgmma is in flight).
serialized=$(grep -cE "C751[35]" "$out/build.log" || true)
result[ptxas]="$spills kernels with spills, $stack with a stack frame, $serialized with serialized wgmma"

if [ "${result[build]}" != FAILED ]; then
  # (-j4: correctness only; no test asserts a time. The slowest test takes ~8 s on an H100: a
  # minute each is room enough, and a kernel that hangs costs a minute, not the device call.)
  step_start=$(elapsed)
  ctest --test-dir build --output-on-failure -j4 --timeout 60 >"$out/tests.log" 2>&1
  result[tests]="$(grep -E "tests passed|tests failed" "$out/tests.log" | tail -1)"
  result[tests]+=" ($(( $(elapsed) - step_start )) s)"
  grep -E "Failed|\*\*\*|SKIPPED" "$out/tests.log" | head -20
  grep -E "GPTQ_TIME|GPTQ_GPU_VS_CPU" "$out/tests.log" | head -20

  if [ "$run_sanitizer" = 1 ]; then
    # Dense shapes (every tiling: m 1, 7, 20, 33, 77, 200, 130; per-channel, group 32; m 257 on
    # the large-batch kernel, and for memcheck m 200 with k in 4 shares and m 41 on 64-row tiles),
    # then #6's formats (bias, accumulate, act-order gather, bf16, zero points) and the
    # programmatic-launch chain; last, small shapes forced onto the large-batch kernel (128- and
    # 64-row tiles) with k in 2 shares (racecheck can afford them), and #6's zero-point test
    # forced onto it (its zero points come in the same bulk copy as the scales); and m <= 16
    # shapes forced onto the swapped 16-row tiling, which only the largest layers of
    # bandwidth-rich cards get unforced.
    # racecheck runs ~100x slower: it skips the largest tests (minutes each).
    dense='Sweep/DenseGemmShapes.MatchesFp64Reference/m1_k128_n128_g128:Sweep/DenseGemmShapes.MatchesFp64Reference/m33_k256_n384_g128:Sweep/DenseGemmShapes.MatchesFp64Reference/m77_k1152_n640_g128:Sweep/DenseGemmShapes.MatchesFp64Reference/m7_k512_n256_g32:Sweep/DenseGemmShapes.MatchesFp64Reference/m20_k1152_n640_g128:Sweep/DenseGemmShapes.MatchesFp64Reference/m200_k1152_n640_g128:Sweep/DenseGemmShapes.MatchesFp64Reference/m1_k384_n1280_gpc:Sweep/DenseGemmShapes.MatchesFp64Reference/m130_k256_n8256_g32:Sweep/DenseGemmShapes.MatchesFp64Reference/m257_k512_n21504_g128'
    generality='GemmGenerality.AsymmetricBf16ActOrderIsBitwiseDeterministic'
    large_dense='DenseGemm.StaticWeightsLaunchWaitsForTheKernelBefore:Sweep/DenseGemmShapes.MatchesFp64Reference/m200_k11008_n4096_g128:Sweep/DenseGemmShapes.MatchesFp64Reference/m41_k1024_n33792_g32'
    forced='Sweep/DenseGemmShapes.MatchesFp64Reference/m130_k4096_n512_g64:Sweep/DenseGemmShapes.MatchesFp64Reference/m40_k4096_n512_g64'
    large_generality='GemmGenerality.BiasAndAccumulateWhereBlocksOwnWholeSlices'
    swapped16='Sweep/DenseGemmShapes.MatchesFp64Reference/m12_k4096_n4096_g128:Sweep/DenseGemmShapes.MatchesFp64Reference/m7_k512_n256_g32:Sweep/DenseGemmShapes.MatchesFp64Reference/m1_k384_n1280_gpc'
    for tool in memcheck racecheck; do
      dense_filter=$dense generality_filter=$generality
      if [ "$tool" = memcheck ]; then
        dense_filter+=":$large_dense" generality_filter+=":$large_generality"
      fi
      : >"$out/sanitizer-$tool.log"
      step_start=$(elapsed)
      # (timeouts: a hanging kernel must not take the whole device call; each takes < 1 min)
      if timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 9 \
            build/tests/gemm/test_dense_gemm_gpu \
            --gtest_filter="$dense_filter" >>"$out/sanitizer-$tool.log" 2>&1 &&
         timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 9 \
            build/tests/gemm/test_gemm_generality_gpu --gtest_filter="$generality_filter" \
            >>"$out/sanitizer-$tool.log" 2>&1 &&
         MARLIN_LARGE_BATCH=on timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 9 \
            build/tests/gemm/test_dense_gemm_gpu \
            --gtest_filter="$forced" \
            >>"$out/sanitizer-$tool.log" 2>&1 &&
         MARLIN_LARGE_BATCH=on timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 9 \
            build/tests/gemm/test_gemm_generality_gpu --gtest_filter="$generality" \
            >>"$out/sanitizer-$tool.log" 2>&1 &&
         MARLIN_DENSE_CONFIG=m16_k128_n256_s8_swapped16 timeout 120 compute-sanitizer \
            --tool "$tool" --error-exitcode 9 build/tests/gemm/test_dense_gemm_gpu \
            --gtest_filter="$swapped16" >>"$out/sanitizer-$tool.log" 2>&1; then
        passed=$(grep -c '\[       OK \]' "$out/sanitizer-$tool.log")
        result[sanitizer-$tool]="clean ($passed tests, $(( $(elapsed) - step_start )) s)"
      else
        result[sanitizer-$tool]="ERRORS (see sanitizer-$tool.log)"
        tail -30 "$out/sanitizer-$tool.log"
      fi
    done
  fi

  if [ "$bench_mode" != none ] && [ -x build/bench/marlin_bench_dense ]; then
    flags=()
    [ "$bench_mode" = quick ] && flags+=(--quick)
    step_start=$(elapsed)
    if ! in_time bench; then :
    elif timeout 300 build/bench/marlin_bench_dense "${flags[@]}" --out-dir "$out" \
        >"$out/bench.log" 2>&1; then
      result[bench]="ok ($bench_mode, $(( $(elapsed) - step_start )) s)"
    else
      result[bench]="FAILED"
      tail -30 "$out/bench.log"
    fi
    # The same with GemmArgs::static_weights (programmatic dependent launch), m <= 128.
    pdl_m=(1 2 4 8 16 32 64 128)
    [ "$bench_mode" = quick ] && pdl_m=(1 16 128)
    step_start=$(elapsed)
    if ! in_time bench-pdl; then :
    elif timeout 300 build/bench/marlin_bench_dense "${flags[@]}" --static-weights \
        --m "${pdl_m[@]}" --out-dir "$out" >"$out/bench-pdl.log" 2>&1; then
      result[bench-pdl]="ok ($bench_mode, $(( $(elapsed) - step_start )) s)"
    else
      result[bench-pdl]="FAILED"
      tail -30 "$out/bench-pdl.log"
    fi
    # Issue #6's variants (bf16, zero points, act-order, INT8, group 32) against the fp16 kernel.
    step_start=$(elapsed)
    if ! in_time bench-variants; then :
    elif timeout 300 build/bench/marlin_bench_dense "${flags[@]}" --variants --out-dir "$out" \
        >"$out/bench-variants.log" 2>&1; then
      result[bench-variants]="ok ($bench_mode, $(( $(elapsed) - step_start )) s)"
    else
      result[bench-variants]="FAILED"
      tail -30 "$out/bench-variants.log"
    fi
    # The variants again with programmatic launches, m = 1 and 16 (the INT8 target's range).
    step_start=$(elapsed)
    if ! in_time bench-variants-pdl; then :
    elif timeout 300 build/bench/marlin_bench_dense "${flags[@]}" --variants --static-weights \
        --m 1 16 --out-dir "$out" >"$out/bench-variants-pdl.log" 2>&1; then
      result[bench-variants-pdl]="ok ($bench_mode, $(( $(elapsed) - step_start )) s)"
    else
      result[bench-variants-pdl]="FAILED"
      tail -30 "$out/bench-variants-pdl.log"
    fi
    # Each summary names the commit it measured and how the tests went, after its date line.
    [ -n "$tree" ] || tree=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    for summary in "$out"/*-dense*.md; do
      [ -f "$summary" ] && ! grep -q '^- measured at commit' "$summary" || continue
      sed -i "/^- date:/a - measured at commit $tree (scripts/gpu-check.sh; tests: ${result[tests]:-not run})" \
          "$summary"
    done
  fi

  if [ "$large_batch" = 1 ] && [ -x build/bench/marlin_bench_dense ] &&
     in_time bench-large-batch; then
    step_start=$(elapsed)
    # The large-batch kernel forced on, then off, one run after the other on the same card.
    device_line=$(build/tools/marlin version 2>/dev/null | grep -m1 '^CUDA device 0:')
    device_name=$(sed -E 's/^CUDA device 0: (.*) \(compute capability.*/\1/' <<<"$device_line")
    sm_count=$(sed -E 's/.*, ([0-9]+) SMs,.*/\1/' <<<"$device_line")
    ok=1
    for side in on off; do
      mkdir -p "$out/large-batch/$side"
      MARLIN_LARGE_BATCH=$side timeout 300 build/bench/marlin_bench_dense \
          --m 48 64 96 128 256 512 1024 \
          --out-dir "$out/large-batch/$side" >"$out/large-batch/$side/bench.log" 2>&1 || ok=0
    done
    gpu_file=$(basename "$(ls "$out"/large-batch/off/*-dense.csv 2>/dev/null | head -1)" -dense.csv)
    [ -n "$tree" ] || tree=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ "$ok" = 1 ] && [ -n "$gpu_file" ] && [[ "$sm_count" =~ ^[0-9]+$ ]] &&
       python3 bench/large_batch_report.py --on "$out/large-batch/on/$gpu_file-dense.csv" \
           --off "$out/large-batch/off/$gpu_file-dense.csv" --sm-count "$sm_count" \
           --device "$device_name" --tree "$tree" \
           -o "$out/$gpu_file-large-batch" >"$out/large-batch/report.log" 2>&1; then
      result[bench-large-batch]="ok ($(( $(elapsed) - step_start )) s)"
    else
      result[bench-large-batch]="FAILED (see large-batch/*/bench.log, report.log)"
    fi
  fi
fi

if [ -n "$compare_dir" ] && [ "${result[build]}" != FAILED ]; then
  baseline_bench=$compare_dir/build-compare/bench/marlin_bench_dense
  if wait "$compare_build" && [ -x "$baseline_bench" ]; then
    # Two alternating rounds: a drift of the card between runs shows as disagreeing rounds.
    # (laid out as scripts/sweep-dense-configs.sh does, for bench/sweep_summary.py)
    for round in 1 2; do
      for side in baseline candidate; do
        bench=build/bench/marlin_bench_dense
        [ "$side" = baseline ] && bench=$baseline_bench
        dir=$out/compare/round$round/$side
        mkdir -p "$dir" && echo "$side" >"$dir/config.txt"
        timeout 300 "$bench" "${compare_bench[@]}" --out-dir "$dir" >"$dir/bench.log" 2>&1 ||
          echo "compare: $side round $round FAILED"
      done
    done
    python3 bench/sweep_summary.py "$out/compare" >"$out/compare-summary.md" 2>&1
    result[compare]="ok (baseline $compare_dir, ${compare_bench[*]})"
  else
    result[compare]="FAILED (baseline build: see compare-build.log)"
    tail -20 "$out/compare-build.log"
  fi
fi

echo
echo "== benchmark summary =="
tail -60 "$out/bench.log" 2>/dev/null | sed -n '/^|/p' | head -60
echo "-- with static_weights (programmatic dependent launch):"
tail -60 "$out/bench-pdl.log" 2>/dev/null | sed -n '/^|/p' | head -60
grep -A12 -i "^## Targets" "$out"/*-dense-variants.md 2>/dev/null | head -14
echo "-- variants with static_weights:"
grep -A12 -i "^## Targets" "$out"/*-dense-variants-pdl.md 2>/dev/null | head -14
if [ "$large_batch" = 1 ]; then
  echo "-- large-batch kernel (on / off), summed per model:"
  sed -n '/^## Summed per model: speedup/,/^## Summed per model with/p' "$out"/*-large-batch.md \
    2>/dev/null | grep '^| [a-z]'
fi
if [ -n "$compare_dir" ]; then
  for round in 1 2; do
    for side in baseline candidate; do
      echo "-- compare round $round, $side:"
      sed -n '/^## Speedup/,/^## [^S]/p' "$out/compare/round$round/$side"/*.md 2>/dev/null |
        grep '^| [a-z]'
    done
  done
  echo "-- compare, best of the rounds (compare-summary.md has every layer):"
  python3 bench/sweep_summary.py --summed-only "$out/compare" 2>&1 | head -60
fi
echo
echo "== gpu-check summary ($(head -2 "$out/gpu.txt" | tail -1)) =="
printf '| %-20s | %s\n' step result
for key in build ptxas tests sanitizer-memcheck sanitizer-racecheck bench bench-pdl bench-variants \
    bench-variants-pdl bench-large-batch compare; do
  [ -n "${result[$key]:-}" ] && printf '| %-20s | %s\n' "$key" "${result[$key]}"
done
if [ "$large_batch" = 1 ]; then
  tar -czf /tmp/gpu-check-results.tgz -C "$out" . &&
    find "$out" -mindepth 1 -delete && mv /tmp/gpu-check-results.tgz "$out/" &&
    echo "(results and logs: $out/gpu-check-results.tgz)"
fi

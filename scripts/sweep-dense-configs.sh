#!/usr/bin/env bash
# Times the dense benchmark once per kernel configuration (MARLIN_DENSE_CONFIG), to tune the
# dispatch rule (src/gemm/dense_dispatch.cpp) for a GPU, a weight format or a launch mode.
#
#   scripts/sweep-dense-configs.sh [--bench PATH] [--out DIR] [--rounds N]
#                                  [--configs "NAME[:FLOOR] ..."] [-- BENCH OPTIONS]
#
# Each round runs the benchmark with the dispatcher's own choice ("auto"), then with each
# configuration forced, so that drift over the run hits all of them alike. bench/sweep_summary.py
# then prints, per layer and m, the best time of each and the winner. Where a configuration cannot
# run a problem (warpgroup MMA off compute capability 9.0, the m <= 8 one above m = 8), the
# benchmark reports that m as refused and the summary shows it as missing; the benchmark's check
# launch runs the largest m up to 16, so sweep the m <= 8 configuration with --m values <= 8.
#   --configs: default every configuration (marlin_bench_dense --list-configs); NAME:FLOOR also
#              sets the fewest tiles per block.
#   bench options: default --models llama-2-7b llama-3-8b llama-2-70b --m 16 32 64 128; e.g.
#              --variant fp16_int4_zp_g128 sweeps a format, --static-weights the launch mode.
set -uo pipefail
cd "$(dirname "$0")/.."
bench=build/bench/marlin_bench_dense
out=sweep-out
rounds=2
configs=
while [ $# -gt 0 ]; do
  case "$1" in
    --bench) bench=$2; shift ;;
    --out) out=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --configs) configs=$2; shift ;;
    --) shift; break ;;
    *) echo "unknown option $1 (bench options go after --)" >&2; exit 2 ;;
  esac
  shift
done
bench_options=("$@")
[ ${#bench_options[@]} -gt 0 ] ||
  bench_options=(--models llama-2-7b llama-3-8b llama-2-70b --m 16 32 64 128)
[ -x "$bench" ] || { echo "no benchmark at $bench (build it first, or --bench PATH)" >&2; exit 2; }
[ -n "$configs" ] || configs=$("$bench" --list-configs | tr '\n' ' ')
mkdir -p "$out"

for round in $(seq 1 "$rounds"); do
  for config in auto $configs; do
    dir=$out/round$round/${config//:/-floor}
    mkdir -p "$dir"
    echo "$config" >"$dir/config.txt"
    if [ "$config" = auto ]; then
      env -u MARLIN_DENSE_CONFIG "$bench" "${bench_options[@]}" --out-dir "$dir" >"$dir/bench.log" 2>&1
    else
      MARLIN_DENSE_CONFIG=$config "$bench" "${bench_options[@]}" --out-dir "$dir" >"$dir/bench.log" 2>&1
    fi
    status=$?
    echo "round $round, $config: $([ $status = 0 ] && echo ok || echo "FAILED ($(tail -1 "$dir/bench.log"))")"
  done
done
python3 bench/sweep_summary.py "$out" | tee "$out/summary.md"

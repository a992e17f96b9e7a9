#!/usr/bin/env python3
"""Splits each kernel's GEMM time into a fixed cost per launch and a streaming rate, from a
benchmark CSV (marlin_bench_dense, plain or --variants), and says what fixed cost a speedup
target over FP16 cuBLASLt leaves at the kernel's own rate.

    python3 bench/fixed_cost.py CSV [--models M ...] [--target X]

Per m and kernel, a least-squares line through the layers of the chosen models,

    time_us = fixed_us + bytes / rate        (bytes: what the GEMM moves for its weights)

and the same for cuBLASLt (16-bit weights, k x n x 2 bytes). With --target X, per model: the
kernel's speedup now, and the largest fixed cost per layer at which its summed time would reach
X times faster than cuBLASLt's, given its fitted rate:

    allowed_fixed = (sum cublas_us / X - sum bytes / rate) / layers

A negative or tiny allowed fixed cost says the target is out of reach of any launch that pays
what these kernels pay to start and finish (docs/dense-kernel-notes.md, v20: INT8 at m = 16).
"""
import argparse
import csv
import sys
from collections import defaultdict

DEFAULT_MODELS = ["llama-2-7b", "llama-3-8b"]


def fit_line(points):
    """(intercept, slope) of the least-squares line through (x, y) points; None for fewer than
    two distinct x."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var_x = sum((x - mean_x) ** 2 for x, _ in points)
    if var_x == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var_x
    return mean_y - slope * mean_x, slope


def load(path, models):
    """rows[m][kernel] = [(model, k, n, time_us, weight_mb, cublas_us)] for the chosen models."""
    rows = defaultdict(lambda: defaultdict(list))
    with open(path) as f:
        for row in csv.DictReader(f):
            if row["model"] not in models:
                continue
            time_us = float(row["time_us"])
            # weight_tb_s is bytes / time in TB/s, i.e. MB per microsecond.
            weight_mb = time_us * float(row["weight_tb_s"])
            rows[int(row["m"])][row["kernel"]].append(
                (row["model"], int(row["k"]), int(row["n"]), time_us, weight_mb,
                 float(row["fp16_cublas_us"])))
    return rows


def report(rows, models, target):
    lines = []
    for m in sorted(rows):
        lines.append(f"## m = {m}")
        lines.append("")
        lines.append("| kernel | fixed (us) | rate (TB/s) | cuBLASLt fixed (us) | "
                     "cuBLASLt rate (TB/s) |")
        lines.append("| --- | ---: | ---: | ---: | ---: |")
        allowed_lines = []
        for kernel in sorted(rows[m]):
            layers = rows[m][kernel]
            ours = fit_line([(mb, t) for _, _, _, t, mb, _ in layers])
            theirs = fit_line([(k * n * 2 / 1e6, c) for _, k, n, _, _, c in layers])
            if ours is None or theirs is None or ours[1] <= 0 or theirs[1] <= 0:
                continue
            fixed, us_per_mb = ours
            lines.append(f"| {kernel} | {fixed:.2f} | {1 / us_per_mb:.2f} | {theirs[0]:.2f} | "
                         f"{1 / theirs[1]:.2f} |")
            if target is None:
                continue
            for model in models:
                mine = [layer for layer in layers if layer[0] == model]
                if not mine:
                    continue
                time_us = sum(layer[3] for layer in mine)
                cublas_us = sum(layer[5] for layer in mine)
                streaming_us = sum(layer[4] for layer in mine) * us_per_mb
                allowed = (cublas_us / target - streaming_us) / len(mine)
                allowed_lines.append(
                    f"| {kernel} | {model} | {cublas_us / time_us:.2f}x | "
                    f"{(time_us - streaming_us) / len(mine):.2f} | {allowed:.2f} |")
        lines.append("")
        if allowed_lines:
            lines.append(f"Fixed cost per layer that {target}x over cuBLASLt allows, at the "
                         "kernel's fitted rate:")
            lines.append("")
            lines.append("| kernel | model | speedup now | fixed now (us) | allowed (us) |")
            lines.append("| --- | --- | ---: | ---: | ---: |")
            lines.extend(allowed_lines)
            lines.append("")
    return "\n".join(lines)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv")
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--target", type=float, default=None,
                        help="a speedup over FP16 cuBLASLt, e.g. 1.8 (issue #6's INT8 target)")
    args = parser.parse_args(argv)
    if args.target is not None and args.target <= 0:
        parser.error("--target must be positive")
    rows = load(args.csv, set(args.models))
    if not rows:
        print(f"fixed_cost.py: no rows of {', '.join(args.models)} in {args.csv}", file=sys.stderr)
        return 1
    print(report(rows, args.models, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Plot marlin_bench_dense results: speedup over FP16 cuBLASLt vs m, one line per model.

    python3 bench/plot_dense.py bench/results/<date>-<gpu>-dense.csv [-o out.png]

Times are summed over each model's layers before the ratio is taken, as in the markdown summary.
Without matplotlib the script says so and exits 0 (the CSV and markdown are the results; the plot
is a convenience).
"""
import argparse
import csv
import os
import sys
from collections import defaultdict


def model_speedups(rows):
    """{model: [(m, speedup)]}, times summed over the model's layers, m ascending."""
    marlin = defaultdict(float)
    cublas = defaultdict(float)
    models = []
    for row in rows:
        key = (row["model"], int(row["m"]))
        marlin[key] += float(row["time_us"])
        cublas[key] += float(row["fp16_cublas_us"])
        if row["model"] not in models:
            models.append(row["model"])
    return {
        model: sorted((m, cublas[(name, m)] / marlin[(name, m)])
                      for (name, m) in marlin if name == model)
        for model in models
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="a ...-dense.csv written by marlin_bench_dense")
    parser.add_argument("-o", "--output", help="PNG to write (default: the CSV name, .png)")
    args = parser.parse_args()

    with open(args.csv, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        sys.exit(f"{args.csv} has no rows")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_dense.py: matplotlib is not installed; skipping the plot")
        return 0

    output = args.output or os.path.splitext(args.csv)[0] + ".png"
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for model, points in model_speedups(rows).items():
        axes.plot([m for m, _ in points], [s for _, s in points], marker="o", label=model)
    axes.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
    axes.set_xscale("log", base=2)
    axes.set_xlabel("m (rows of A: batch x tokens)")
    axes.set_ylabel("speedup over FP16 cuBLASLt")
    axes.set_title(f"marlin FP16 x INT4 (group {rows[0]['group']}) on {rows[0]['gpu']}, "
                   f"{rows[0]['date']}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

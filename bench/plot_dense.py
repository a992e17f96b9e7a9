#!/usr/bin/env python3
"""Plot marlin_bench_dense results: speedup over FP16 cuBLASLt vs m, one line per model.

    python3 bench/plot_dense.py bench/results/<date>-<gpu>-dense.csv [-o out.png]
    python3 bench/plot_dense.py <...>-dense.csv <...>-dense-pdl.csv [-o out.png]
    python3 bench/plot_dense.py bench/results/<date>-<gpu>-dense-variants.csv [-o out.png]

The speedup plot is of the reference kernel (marlin_dense_fp16_int4, or _pdl in a
--static-weights run); given several CSVs it draws each one's lines on the same axes (solid for
the first, dashed for the next). A CSV of a --variants run
also gets <out>-relative.png: per model, each variant's relative time, its time over the
reference's time scaled by the bytes ratio (bench/dense_variants.h), with issue #6's targets 1.05
and 1.10 drawn. Bytes are recovered from the CSV as weight_tb_s x time_us.

Times are summed over each model's layers before the ratio is taken, as in the markdown summary.
Without matplotlib the script says so and exits 0 (the CSV and markdown are the results; the plot
is a convenience).
"""
import argparse
import csv
import os
import sys
from collections import defaultdict

REFERENCE = "marlin_dense_fp16_int4"
LINE_STYLES = ("-", "--", ":", "-.")


def reference_name(rows):
    """The reference kernel's name in this CSV: REFERENCE, with _pdl after a --static-weights
    run; None if it has neither."""
    names = {row["kernel"] for row in rows}
    for name in (REFERENCE, REFERENCE + "_pdl"):
        if name in names:
            return name
    return None
TARGETS = (1.05, 1.10)  # relative time: bf16, zero points, group 32; act-order


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


def moved_bytes(row):
    """What the GEMM moves for its weights: weight_tb_s (1e12 B/s) x time_us (1e-6 s)."""
    return float(row["weight_tb_s"]) * float(row["time_us"]) * 1e6


def relative_times(rows, reference_kernel):
    """{model: {kernel: [(m, relative time)]}} for every variant, m ascending: the variant's time
    over the reference's time x bytes ratio, each summed over the layers both were measured on."""
    reference = {(r["model"], r["k"], r["n"], r["m"]): r for r in rows
                 if r["kernel"] == reference_kernel}
    sums = defaultdict(lambda: [0.0, 0.0])  # (model, kernel, m) -> [time, scaled reference time]
    for row in rows:
        ref = reference.get((row["model"], row["k"], row["n"], row["m"]))
        if row["kernel"] == reference_kernel or ref is None:
            continue
        total = sums[(row["model"], row["kernel"], int(row["m"]))]
        total[0] += float(row["time_us"])
        total[1] += float(ref["time_us"]) * moved_bytes(row) / moved_bytes(ref)
    out = defaultdict(lambda: defaultdict(list))
    for (model, kernel, m), (time, scaled) in sorted(sums.items(), key=lambda item: item[0][2]):
        out[model][kernel].append((m, time / scaled))
    return out


def plot_speedups(plt, runs, output):
    """runs: [(label suffix, reference rows)], one line style each; a model keeps its color."""
    figure, axes = plt.subplots(figsize=(7, 4.5))
    colors = {}
    for style, (suffix, rows) in zip(LINE_STYLES, runs):
        for model, points in model_speedups(rows).items():
            line, = axes.plot([m for m, _ in points], [s for _, s in points], marker="o",
                              linestyle=style, color=colors.get(model), label=model + suffix)
            colors.setdefault(model, line.get_color())
    axes.axhline(1.0, color="gray", linewidth=0.8, linestyle="--")
    rows = runs[0][1]
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


def plot_relative_times(plt, rows, reference_kernel, output):
    by_model = relative_times(rows, reference_kernel)
    figure, all_axes = plt.subplots(1, len(by_model), figsize=(4.5 * len(by_model), 4.5),
                                    sharey=True, squeeze=False)
    for axes, (model, kernels) in zip(all_axes[0], by_model.items()):
        for kernel, points in kernels.items():
            axes.plot([m for m, _ in points], [r for _, r in points], marker="o", label=kernel)
        for target in TARGETS:
            axes.axhline(target, color="gray", linewidth=0.8, linestyle="--")
        axes.set_xscale("log", base=2)
        axes.set_xlabel("m")
        axes.set_title(model)
        axes.grid(True, which="both", alpha=0.3)
    all_axes[0][0].set_ylabel(f"time / ({reference_kernel} time x bytes ratio)")
    all_axes[0][-1].legend(fontsize="small")
    figure.suptitle(f"marlin variants vs the FP16 x INT4 group-128 kernel on {rows[0]['gpu']}, "
                    f"{rows[0]['date']}")
    figure.tight_layout()
    figure.savefig(output, dpi=120)
    print(f"wrote {output}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", help="...-dense.csv, ...-dense-pdl.csv or "
                                               "...-dense-variants.csv written by marlin_bench_dense")
    parser.add_argument("-o", "--output", help="PNG to write (default: the first CSV's name, .png)")
    args = parser.parse_args()

    runs = []  # (path, all rows, reference kernel)
    for path in args.csv:
        with open(path, newline="") as file:
            rows = list(csv.DictReader(file))
        reference = reference_name(rows)
        if reference is None:
            sys.exit(f"{path} has no rows of {REFERENCE} (or {REFERENCE}_pdl)")
        runs.append((path, rows, reference))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_dense.py: matplotlib is not installed; skipping the plot")
        return 0

    output = args.output or os.path.splitext(args.csv[0])[0] + ".png"
    plot_speedups(plt, [(" (static_weights)" if reference.endswith("_pdl") else "",
                         [row for row in rows if row["kernel"] == reference])
                        for _, rows, reference in runs], output)
    for path, rows, reference in runs:
        if any(row["kernel"] != reference for row in rows):
            plot_relative_times(plt, rows, reference,
                                os.path.splitext(path)[0] + "-relative.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

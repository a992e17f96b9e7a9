#!/usr/bin/env python3
"""The large-batch kernel against the dense kernel and FP16 cuBLASLt, from two runs of
marlin_bench_dense in one device call: MARLIN_LARGE_BATCH=on (every layer the large-batch kernel
can run takes it) and =off (every layer on the dense kernel). Writes OUT.csv (the rows of both
runs; the forced-on rows renamed marlin_large_batch_fp16_int4), OUT.md (sums per model, the
dispatcher's mix, every layer with its tile count and wave fill) and, with matplotlib, OUT.png
(each layer's large-batch / dense time against the waves of SMs its blocks fill).

    python3 bench/large_batch_report.py --on ON.csv --off OFF.csv --sm-count 132 \\
        --device "NVIDIA H100 80GB HBM3" --tree 15d7b15 -o bench/results/<date>-<gpu>-large-batch

The "dispatcher" column applies choose_large_batch's rule (src/gemm/dense_dispatch.cpp) to the
layer: m >= 40, n a multiple of 256, and the blocks (64 x 256 tiles up to m = 64, 128 x 256
above, times the shares of k that large_batch_splits picks) filling their waves of the SMs to at
least 60%. Keep the two in step.
"""
import argparse
import csv
import os
from collections import defaultdict

MIN_ROWS, SMALL_ROWS, ROWS, TILE_N, TILE_K = 40, 64, 128, 256, 64
MAX_SPLITS, MIN_SPLIT_STEPS = 4, 32
LARGE, DENSE = "marlin_large_batch_fp16_int4", "marlin_dense_fp16_int4"


def tiles_of(m, n):
    rows = SMALL_ROWS if m <= SMALL_ROWS else ROWS
    return -(-m // rows) * (n // TILE_N)


def waves_of(tiles, sm_count):
    return -(-tiles // sm_count)


def splits_of(tiles, k, sm_count):
    """large_batch_splits: the shares of k with the fewest waves per share, in one wave."""
    steps, best = k // TILE_K, 1
    for s in range(2, MAX_SPLITS + 1):
        if s * MIN_SPLIT_STEPS > steps or tiles * s > sm_count:
            break
        if waves_of(tiles * s, sm_count) * best < waves_of(tiles * best, sm_count) * s:
            best = s
    return best


def blocks_of(m, k, n, sm_count):
    tiles = tiles_of(m, n)
    return tiles * splits_of(tiles, k, sm_count)


def fill_of(blocks, sm_count):
    return blocks / (waves_of(blocks, sm_count) * sm_count)


def dispatcher_takes_large(m, k, n, sm_count):
    if n % TILE_N != 0 or m < MIN_ROWS:
        return False
    blocks = blocks_of(m, k, n, sm_count)
    return 5 * blocks >= 3 * waves_of(blocks, sm_count) * sm_count


def load(path):
    """(model, k, n, m) -> row, for the fp16 INT4 group-128 rows of one benchmark CSV."""
    rows = {}
    for row in csv.DictReader(open(path)):
        if row["kernel"] == DENSE:
            rows[(row["model"], int(row["k"]), int(row["n"]), int(row["m"]))] = row
    return rows


def ratio(cublas, ours):
    return f"{cublas / ours:.2f}"


def report(on, off, sm_count, device, tree):
    layers = [key for key in off if key in on and key[3] >= MIN_ROWS]
    models = list(dict.fromkeys(key[0] for key in layers))
    ms = sorted({key[3] for key in layers})
    copy = float(next(iter(off.values()))["copy_tb_s"])
    date = next(iter(off.values()))["date"]
    # sums[model][m] = [large, dense, dispatcher's mix, cuBLASLt of the dense run, of the large]
    sums = defaultdict(lambda: defaultdict(lambda: [0.0, 0.0, 0.0, 0.0, 0.0]))
    for key in layers:
        model, _, n, m = key
        large, dense = float(on[key]["time_us"]), float(off[key]["time_us"])
        entry = sums[model][m]
        entry[0] += large
        entry[1] += dense
        entry[2] += large if dispatcher_takes_large(m, key[1], n, sm_count) else dense
        entry[3] += float(off[key]["fp16_cublas_us"])
        entry[4] += float(on[key]["fp16_cublas_us"])
    head = "| model | " + " | ".join(f"m={m}" for m in ms) + " |"
    rule = "| --- | " + " | ".join("---:" for _ in ms) + " |"
    lines = [
        f"# Large-batch kernel vs dense kernel vs FP16 cuBLASLt ({device})",
        "",
        f"- device: {device} ({sm_count} SMs), date: {date}, copy bandwidth {copy:.3f} TB/s "
        "(read + write)",
        f"- tree: {tree}, two benchmark runs in one device call: `MARLIN_LARGE_BATCH=on` (every "
        "layer it can run on the large-batch kernel) and `off` (every layer on the dense kernel). "
        "Plain launches, group 128, CUDA graphs over weights rotated beyond 2x L2, medians.",
        f"- `{LARGE}` rows: forced on; `{DENSE}` rows: forced off.",
        "- The dispatcher (`choose_large_batch`) takes the large-batch kernel for m >= 40 where "
        "its blocks (64 x 256 tiles up to m = 64, 128 x 256 above, each split into the shares of "
        "k in the table) fill their "
        f"waves of the {sm_count} SMs to at least 60%: the last column.",
        "",
        "## Summed per model: speedup over FP16 cuBLASLt, large-batch / dense",
        "",
        "(Each against the cuBLASLt times of its own run.)",
        "",
        head,
        rule,
    ]
    for model in models:
        cells = [f"{ratio(sums[model][m][4], sums[model][m][0])} / "
                 f"{ratio(sums[model][m][3], sums[model][m][1])}" for m in ms]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += ["", "## Summed per model with the dispatcher's choice / dense kernel only", "",
              head, rule]
    for model in models:
        cells = [f"{ratio(sums[model][m][3], sums[model][m][2])} / "
                 f"{ratio(sums[model][m][3], sums[model][m][1])}" for m in ms]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "(The dispatcher's kernel per layer, both against the dense run's cuBLASLt times.)",
        "",
        "## Per layer: large-batch time / dense time (below 1: the large-batch kernel is faster)",
        "",
        "| model | k | n | m | tiles | shares of k | waves full | large-batch us | dense us | "
        "ratio | dispatcher |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key in sorted(layers, key=lambda key: (key[3], models.index(key[0]), key[2], key[1])):
        model, k, n, m = key
        large, dense = float(on[key]["time_us"]), float(off[key]["time_us"])
        tiles = tiles_of(m, n)
        splits = splits_of(tiles, k, sm_count)
        fill = fill_of(tiles * splits, sm_count)
        choice = "large-batch" if dispatcher_takes_large(m, k, n, sm_count) else "dense"
        lines.append(f"| {model} | {k} | {n} | {m} | {tiles} | {splits} | {fill:.0%} | "
                     f"{large:.1f} | {dense:.1f} | {large / dense:.3f} | {choice} |")
    return "\n".join(lines) + "\n"


def write_plot(path, on, off, sm_count, device):
    """Each layer's time ratio against its blocks / SMs; the rule's picks filled. False without
    matplotlib (the CSV and markdown are the results; the plot is a convenience)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axes = plt.subplots(figsize=(8, 4.5))
    ms = sorted({key[3] for key in off if key in on and key[3] >= MIN_ROWS})
    for index, m in enumerate(ms):
        keys = [key for key in off if key in on and key[3] == m]
        for taken in (True, False):
            chosen = [key for key in keys
                      if dispatcher_takes_large(m, key[1], key[2], sm_count) == taken]
            if not chosen:
                continue
            axes.scatter([blocks_of(m, key[1], key[2], sm_count) / sm_count for key in chosen],
                         [float(on[key]["time_us"]) / float(off[key]["time_us"]) for key in chosen],
                         color=f"C{index}", marker="o", facecolors=None if taken else "none",
                         label=f"m={m}" + (" (dispatcher: large-batch)" if taken else ""))
    axes.axhline(1.0, color="gray", linestyle="--", linewidth=0.8)
    axes.set_xscale("log", base=2)
    axes.set_yscale("log", base=2)
    axes.set_xlabel(f"blocks (tiles x shares of k) / SMs ({sm_count}): waves of the "
                    "large-batch kernel")
    axes.set_ylabel("large-batch time / dense time")
    axes.set_title(f"Large-batch vs dense kernel per layer, {device}")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return True


def write_csv(path, on, off):
    fields = list(next(iter(off.values())).keys())
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for key in sorted(on):
            writer.writerow({**on[key], "kernel": LARGE})
        for key in sorted(off):
            writer.writerow(off[key])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--on", required=True, help="CSV of the MARLIN_LARGE_BATCH=on run")
    parser.add_argument("--off", required=True, help="CSV of the MARLIN_LARGE_BATCH=off run")
    parser.add_argument("--sm-count", type=int, required=True)
    parser.add_argument("--device", required=True, help="device name, as the benchmark prints it")
    parser.add_argument("--tree", required=True, help="the commit the runs were built from")
    parser.add_argument("-o", "--output", required=True, help="output path without extension")
    args = parser.parse_args()
    on, off = load(args.on), load(args.off)
    if not on or not off:
        raise SystemExit("large_batch_report: no marlin_dense_fp16_int4 rows in --on or --off")
    write_csv(args.output + ".csv", on, off)
    plotted = write_plot(args.output + ".png", on, off, args.sm_count, args.device)
    with open(args.output + ".md", "w") as f:
        f.write(report(on, off, args.sm_count, args.device, args.tree))
        if plotted:
            name = os.path.basename(args.output)
            f.write(f"\n![large-batch / dense time per layer against waves]({name}.png)\n")
    print(f"wrote {args.output}.csv and {args.output}.md" +
          (f" and {args.output}.png" if plotted else " (no matplotlib: no plot)"))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Summary of scripts/sweep-dense-configs.sh: per kernel, layer and m, the best time over the
rounds of every configuration, the winner, and how far the dispatcher's own choice ("auto") is
from it; then the same summed per model.

    python3 bench/sweep_summary.py [--summed-only] SWEEP_DIR
        (SWEEP_DIR/round*/CONFIG/*.csv, CONFIG/config.txt; --summed-only: the column legend and
        the per-model sums, without the per-layer tables)
"""
import csv
import glob
import os
import sys
from collections import defaultdict


def load(sweep_dir):
    # times[kernel][(model, k, n, m)][config] = [time_us per round]
    times = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    configs = []
    for config_dir in sorted(glob.glob(os.path.join(sweep_dir, "round*", "*"))):
        name_file = os.path.join(config_dir, "config.txt")
        if not os.path.isfile(name_file):
            continue
        config = open(name_file).read().strip()
        if config not in configs:
            configs.append(config)
        for path in glob.glob(os.path.join(config_dir, "*.csv")):
            for row in csv.DictReader(open(path)):
                key = (row["model"], int(row["k"]), int(row["n"]), int(row["m"]))
                times[row["kernel"]][key][config].append(float(row["time_us"]))
    # "auto" first, then the configurations in the order they ran
    configs.sort(key=lambda c: c != "auto")
    return times, configs


def main():
    arguments = sys.argv[1:]
    summed_only = "--summed-only" in arguments
    arguments = [a for a in arguments if a != "--summed-only"]
    if len(arguments) != 1:
        sys.exit(__doc__)
    times, configs = load(arguments[0])
    if not times:
        sys.exit(f"no benchmark CSVs under {arguments[0]}/round*/*/")
    print("Columns: " + ", ".join(f"c{i} = {c}" for i, c in enumerate(configs)) + "\n")
    header = "| model | k x n | m | " + " | ".join(f"c{i}" for i in range(len(configs)))
    header += " | best | auto / best |"
    rule = "| --- | --- | ---: |" + " ---: |" * len(configs) + " --- | ---: |"
    for kernel, layers in sorted(times.items()):
        if not summed_only:
            print(f"## {kernel}: best time over the rounds (us)\n\n{header}\n{rule}")
        sums = defaultdict(lambda: defaultdict(float))  # (model, m) -> config -> summed best
        for key in sorted(layers):
            best = {c: min(t) for c, t in layers[key].items()}
            for config, value in best.items():
                sums[(key[0], key[3])][config] += value
            if summed_only:
                continue
            winner = min(best, key=best.get)
            cells = " | ".join(f"{best[c]:.1f}" if c in best else "-" for c in configs)
            auto = f"{best['auto'] / best[winner]:.3f}" if "auto" in best else "-"
            print(f"| {key[0]} | {key[1]} x {key[2]} | {key[3]} | {cells} | "
                  f"c{configs.index(winner)} | {auto} |")
        print(f"{'' if summed_only else chr(10)}## {kernel}: summed per model (us; a configuration missing on a layer is left "
              f"out)\n\n| model | m | " + " | ".join(f"c{i}" for i in range(len(configs))) + " |")
        print("| --- | ---: |" + " ---: |" * len(configs))
        for (model, m), per_config in sorted(sums.items()):
            count = len([key for key in layers if key[0] == model and key[3] == m])
            complete = {c: v for c, v in per_config.items()
                        if sum(1 for key in layers if key[0] == model and key[3] == m
                               and c in layers[key]) == count}
            cells = " | ".join(f"{complete[c]:.1f}" if c in complete else "-" for c in configs)
            print(f"| {model} | {m} | {cells} |")
        print()


if __name__ == "__main__":
    main()

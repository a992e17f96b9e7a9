"""bench/sweep_summary.py on a small sweep: best of the rounds per configuration, the winner, the
dispatcher's distance from it, and sums that leave out configurations missing on a layer."""
import os
import subprocess
import sys
import tempfile

HEADER = "gpu,date,model,k,n,m,group,kernel,time_us,fp16_cublas_us,speedup,weight_tb_s,copy_tb_s\n"


def write_run(root, round_index, config, rows):
    directory = os.path.join(root, f"round{round_index}", config.replace(":", "-floor"))
    os.makedirs(directory)
    with open(os.path.join(directory, "config.txt"), "w") as f:
        f.write(config + "\n")
    with open(os.path.join(directory, "gpu-dense.csv"), "w") as f:
        f.write(HEADER)
        for model, k, n, m, time_us in rows:
            f.write(f"gpu,2026-11-27,{model},{k},{n},{m},128,marlin_dense_fp16_int4,{time_us},"
                    "20.0,2.0,1.0,3.0\n")


def main():
    summary = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "sweep_summary.py")
    with tempfile.TemporaryDirectory() as root:
        # round 1 and 2: "auto", "a", "b:8"; "a" fails on the second layer (no row)
        write_run(root, 1, "auto", [("x", 4096, 4096, 16, 10.0), ("x", 4096, 8192, 16, 30.0)])
        write_run(root, 1, "a", [("x", 4096, 4096, 16, 9.0)])
        write_run(root, 1, "b:8", [("x", 4096, 4096, 16, 12.0), ("x", 4096, 8192, 16, 24.0)])
        write_run(root, 2, "auto", [("x", 4096, 4096, 16, 11.0), ("x", 4096, 8192, 16, 31.0)])
        write_run(root, 2, "a", [("x", 4096, 4096, 16, 8.0)])
        write_run(root, 2, "b:8", [("x", 4096, 4096, 16, 13.0), ("x", 4096, 8192, 16, 25.0)])
        out = subprocess.run([sys.executable, summary, root], check=True, capture_output=True,
                             text=True).stdout
    expected = [
        "Columns: c0 = auto, c1 = a, c2 = b:8",
        "| x | 4096 x 4096 | 16 | 10.0 | 8.0 | 12.0 | c1 | 1.250 |",
        "| x | 4096 x 8192 | 16 | 30.0 | - | 24.0 | c2 | 1.250 |",
        "| x | 16 | 40.0 | - | 36.0 |",
    ]
    for line in expected:
        assert line in out, f"missing {line!r} in:\n{out}"
    # --summed-only: the legend and the sums, no per-layer rows
    with tempfile.TemporaryDirectory() as root:
        write_run(root, 1, "baseline", [("x", 4096, 4096, 16, 10.0)])
        write_run(root, 1, "candidate", [("x", 4096, 4096, 16, 9.0)])
        summed = subprocess.run([sys.executable, summary, "--summed-only", root], check=True,
                                capture_output=True, text=True).stdout
    assert "Columns: c0 = baseline, c1 = candidate" in summed, summed
    assert "| x | 16 | 10.0 | 9.0 |" in summed, summed
    assert "4096 x 4096" not in summed, summed
    usage = subprocess.run([sys.executable, summary], capture_output=True, text=True)
    assert usage.returncode != 0 and "SWEEP_DIR" in usage.stderr, usage.stderr
    print("ok")


if __name__ == "__main__":
    main()

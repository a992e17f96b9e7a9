"""bench/large_batch_report.py on two small runs: the dispatcher column follows choose_large_batch's
rule (m >= 40, n a multiple of 256, blocks of 64 x 256 tiles up to m = 64 and 128 x 256 above
times the shares of k filling their
waves to at least 60%), the sums per model, and the CSV with the forced-on rows renamed."""
import csv
import os
import subprocess
import sys
import tempfile

HEADER = "gpu,date,model,k,n,m,group,kernel,time_us,fp16_cublas_us,speedup,weight_tb_s,copy_tb_s\n"


def write_run(path, rows):
    with open(path, "w") as f:
        f.write(HEADER)
        for model, k, n, m, time_us, cublas_us in rows:
            f.write(f"gpu,2026-11-27,{model},{k},{n},{m},128,marlin_dense_fp16_int4,{time_us},"
                    f"{cublas_us},1.0,1.0,3.0\n")


def main():
    script = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "large_batch_report.py")
    with tempfile.TemporaryDirectory() as root:
        on, off, out = (os.path.join(root, name) for name in ("on.csv", "off.csv", "report"))
        # 132 SMs. (129, 33792): 2 x 132 tiles, two full waves, k whole -> large-batch.
        # (256, 8192, 8192): 64 tiles, k = 8192 in 2 shares: 128 blocks, 97% -> large-batch.
        # (256, 4096, 4096): 32 tiles in 2 shares, 48% -> dense. (512, 4160): n not a multiple
        # of 256 -> dense. (48, 33792): 132 tiles of 64 rows, one full wave -> large-batch;
        # (64, 4096, 4096): 16 tiles of 64 rows in 2 shares, 24% -> dense. (32, ...): below m = 40.
        write_run(on, [("x", 4096, 33792, 129, 80.0, 50.0), ("x", 8192, 8192, 256, 40.0, 10.0),
                       ("x", 4096, 4096, 256, 90.0, 60.0), ("x", 4096, 4160, 512, 30.0, 15.0),
                       ("x", 4096, 33792, 48, 30.0, 45.0), ("x", 4096, 4096, 64, 6.0, 5.0),
                       ("x", 4096, 4096, 32, 5.0, 5.0)])
        write_run(off, [("x", 4096, 33792, 129, 100.0, 50.0), ("x", 8192, 8192, 256, 20.0, 10.0),
                        ("x", 4096, 4096, 256, 60.0, 60.0), ("x", 4096, 4160, 512, 25.0, 15.0),
                        ("x", 4096, 33792, 48, 36.0, 45.0), ("x", 4096, 4096, 64, 4.0, 5.0),
                        ("x", 4096, 4096, 32, 4.0, 5.0)])
        printed = subprocess.run([sys.executable, script, "--on", on, "--off", off, "--sm-count",
                                  "132", "--device", "Test GPU", "--tree", "abc1234", "-o", out],
                                 check=True, capture_output=True, text=True).stdout
        # the plot only where matplotlib is installed
        assert os.path.isfile(out + ".png") == ("report.png" in printed), printed
        md = open(out + ".md").read()
        rows = list(csv.DictReader(open(out + ".csv")))
    expected = [
        "# Large-batch kernel vs dense kernel vs FP16 cuBLASLt (Test GPU)",
        "| x | 4096 | 33792 | 129 | 264 | 1 | 100% | 80.0 | 100.0 | 0.800 | large-batch |",
        "| x | 8192 | 8192 | 256 | 64 | 2 | 97% | 40.0 | 20.0 | 2.000 | large-batch |",
        "| x | 4096 | 4096 | 256 | 32 | 2 | 48% | 90.0 | 60.0 | 1.500 | dense |",
        "| x | 4096 | 4160 | 512 | 64 | 2 | 97% | 30.0 | 25.0 | 1.200 | dense |",
        "| x | 4096 | 33792 | 48 | 132 | 1 | 100% | 30.0 | 36.0 | 0.833 | large-batch |",
        "| x | 4096 | 4096 | 64 | 16 | 2 | 24% | 6.0 | 4.0 | 1.500 | dense |",
        # m = 256: large 70 / (40 + 90), dense 70 / (20 + 60)
        "| x | 1.50 / 1.25 | 0.83 / 1.25 | 0.62 / 0.50 | 0.54 / 0.88 | 0.50 / 0.60 |",
        # the dispatcher at m = 64: the dense kernel; at m = 256: 40 (large-batch) + 60 (dense)
        "| x | 1.50 / 1.25 | 1.25 / 1.25 | 0.62 / 0.50 | 0.70 / 0.88 | 0.60 / 0.60 |",
    ]
    for line in expected:
        assert line in md, f"missing {line!r} in:\n{md}"
    assert "| x | 4096 | 4096 | 32 |" not in md, md
    kernels = sorted({row["kernel"] for row in rows})
    assert kernels == ["marlin_dense_fp16_int4", "marlin_large_batch_fp16_int4"], kernels
    assert len(rows) == 14, len(rows)
    print("large_batch_report: ok")


if __name__ == "__main__":
    main()

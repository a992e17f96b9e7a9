"""bench/fixed_cost.py on exact lines: it recovers each kernel's fixed cost and rate, cuBLASLt's,
and the fixed cost a speedup target allows; and it refuses a CSV without the models asked for."""
import os
import subprocess
import sys
import tempfile

HEADER = "gpu,date,model,k,n,m,group,kernel,time_us,fp16_cublas_us,speedup,weight_tb_s,copy_tb_s\n"
SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "fixed_cost.py")


def run(csv_path, *options):
    return subprocess.run([sys.executable, SCRIPT, csv_path, *options], capture_output=True,
                          text=True)


def main():
    with tempfile.TemporaryDirectory() as root:
        path = os.path.join(root, "dense.csv")
        with open(path, "w") as f:
            f.write(HEADER)
            # Kernel "q": 3 us + its bytes at 2 TB/s (2 MB per us); it moves a quarter of the
            # 16-bit bytes. cuBLASLt: 4 us + the 16-bit bytes at 3 TB/s.
            for k, n in [(4096, 4096), (4096, 8192), (8192, 8192)]:
                mb16 = k * n * 2 / 1e6
                mb = mb16 / 4
                time_us = 3 + mb / 2
                cublas_us = 4 + mb16 / 3
                f.write(f"gpu,2026-11-27,x,{k},{n},16,128,q,{time_us},{cublas_us},"
                        f"{cublas_us / time_us},{mb / time_us},3.0\n")
            # another model, left out by default
            f.write("gpu,2026-11-27,y,4096,4096,16,128,q,99,10,0.1,0.1,3.0\n")
        result = run(path, "--models", "x", "--target", "2")
        assert result.returncode == 0, result.stderr
        out = result.stdout
        expected = [
            "## m = 16",
            "| q | 3.00 | 2.00 | 4.00 | 3.00 |",
            # sums: cuBLASLt 90.294 us, q 38.360 us, q's bytes 58.720 MB (29.360 us at 2 TB/s);
            # allowed = (90.294 / 2 - 29.360) / 3 = 5.26
            "| q | x | 2.35x | 3.00 | 5.26 |",
        ]
        missing = [line for line in expected if line not in out.splitlines()]
        assert not missing, f"missing {missing} in:\n{out}"
        assert "| q | y |" not in out, out
        # Without --target: the fits only.
        plain = run(path, "--models", "x").stdout
        assert "| q | 3.00 | 2.00 | 4.00 | 3.00 |" in plain.splitlines(), plain
        assert "allows" not in plain, plain
        # No row of the models asked for: an error, not an empty table.
        none = run(path, "--models", "z")
        assert none.returncode == 1 and "no rows of z" in none.stderr, \
            (none.returncode, none.stderr)
        bad = run(path, "--target", "0")
        assert bad.returncode != 0, bad.stdout
    print("fixed_cost.py: ok")


if __name__ == "__main__":
    main()

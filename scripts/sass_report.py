#!/usr/bin/env python3
"""A kernel's machine code (SASS) in numbers, without a GPU: per kernel, its main loop (the loop
that holds the most tensor-core instructions) and what that loop issues, so that a change can be
judged by its instruction counts, shared loads and spills before it spends device time.

    python3 scripts/sass_report.py src/kernels/large_batch/large_batch_kernels.cu
    python3 scripts/sass_report.py build/.../dense_fp16_int4.cu.o --filter Li64E
    python3 scripts/sass_report.py KERNELS.cubin --fetch

A .cu file is compiled here for sm_90a (nvcc -cubin -O3 -std=c++20, with include/ and src/ of
the source tree it belongs to); anything else is handed to cuobjdump as it is (cubin, object
file, executable). cuobjdump comes from
--cuobjdump, $CUOBJDUMP, PATH or /usr/local/cuda/bin; the toolkit here has none, but the PyPI
packages nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm (which cuobjdump runs) read our sm_90a
cubins: --fetch downloads both (pip download, no install) into ~/.cache/marlin-sass.

Columns: instructions of the kernel and of its main loop (one trip: a loop the compiler unrolled
by two counts both copies), then the loop's tensor-core instructions (HMMA / HGMMA), shared loads
(LDS, LDSM), async copies issued (LDGSTS, bulk and tensor copies), barriers and waits, and local
memory accesses (spills) in the loop / in the whole kernel.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

CACHE = os.path.join(os.path.expanduser("~"), ".cache", "marlin-sass")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (column, opcodes that count towards it); an opcode matches with any suffix (LDS.128, ...)
COLUMNS = [
    ("mma", ("HMMA", "HGMMA")),
    ("lds", ("LDS",)),
    ("ldsm", ("LDSM",)),
    ("copies", ("LDGSTS", "UBLKCP", "UTMALDG")),
    ("waits", ("BAR", "DEPBAR", "WARPGROUP.DEPBAR", "SYNCS.PHASECHK", "MEMBAR")),
    ("spills", ("LDL", "STL")),
]


def parse_sass(text):
    """cuobjdump -sass output -> {(architecture, kernel name): [(address, opcode, full text)]}
    (an object file may hold a kernel for several architectures)."""
    kernels, current, arch = {}, None, "?"
    for line in text.splitlines():
        match = re.search(r"code for (sm_\w+)", line)
        if match:
            arch = match.group(1)
            continue
        match = re.search(r"Function : (\S+)", line)
        if match:
            current = kernels.setdefault((arch, match.group(1)), [])
            continue
        match = re.match(r"\s+/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if match and current is not None:
            body = re.sub(r"^@!?U?P[T0-9]+\s+", "", match.group(2))  # drop the predicate
            current.append((int(match.group(1), 16), body.split()[0], body))
    return kernels


def matches(opcode, names):
    return any(opcode == name or opcode.startswith(name + ".") for name in names)


def main_loop(instructions):
    """(start, end) of the loop with the most tensor-core instructions (the tightest of equals),
    or None for a kernel without one. A loop is a backward branch and its target."""
    best = None
    for address, opcode, text in instructions:
        if opcode != "BRA":
            continue
        target = re.search(r"0x([0-9a-f]+)", text)
        if target is None or int(target.group(1), 16) >= address:
            continue
        start = int(target.group(1), 16)
        mma = sum(1 for a, op, _ in instructions
                  if start <= a <= address and matches(op, COLUMNS[0][1]))
        if mma == 0:
            continue
        key = (mma, -(address - start))
        if best is None or key > best[0]:
            best = (key, start, address)
    return None if best is None else (best[1], best[2])


def report_rows(kernels, name_filter=""):
    """One row per kernel: (architecture, name), instructions, loop instructions, then COLUMNS in
    the loop, then spills in the whole kernel."""
    rows = []
    for key, instructions in kernels.items():
        if name_filter and name_filter not in key[1]:
            continue
        loop = main_loop(instructions)
        inside = [(a, op) for a, op, _ in instructions if loop and loop[0] <= a <= loop[1]]
        counts = [sum(1 for _, op in inside if matches(op, names)) for _, names in COLUMNS]
        spills = sum(1 for _, op, _ in instructions if matches(op, COLUMNS[-1][1]))
        rows.append([key, len(instructions), len(inside)] + counts + [spills])
    return rows


ACTIVATIONS = {"0": "fp16", "1": "bf16"}
SCHEMES = {"0": "int4", "1": "int4_zp", "2": "int8"}


def short_name(demangled):
    """A demangled kernel name without namespaces, parameters and enum casts: the family, the
    format (fp16_int4, bf16_int8, ...) and the other template arguments."""
    name = re.sub(r"^void ", "", demangled)
    name = re.sub(r"\b(marlin|kernels|dense|large_batch)::", "", name)
    name = re.sub(r"\((DenseParams|const DenseParams).*$", "", name)
    name = re.sub(r"Format<\(Activation\)(\d), \(QuantScheme\)(\d)>",
                  lambda m: ACTIVATIONS.get(m.group(1), m.group(1)) + "_" +
                  SCHEMES.get(m.group(2), m.group(2)), name)
    return re.sub(r"\((int|bool)\)", "", name)


def demangle(mangled):
    filt = shutil.which("c++filt")
    if filt is None:
        return mangled
    return subprocess.run([filt, mangled], capture_output=True, text=True).stdout.strip()


def source_tree(path):
    """The source tree a .cu file belongs to (the nearest folder above it with include/ and src/:
    a baseline tree beside ours compiles against its own headers), else this one."""
    folder = os.path.dirname(os.path.abspath(path))
    while folder != os.path.dirname(folder):
        if os.path.isdir(os.path.join(folder, "include")) and \
                os.path.isdir(os.path.join(folder, "src")):
            return folder
        folder = os.path.dirname(folder)
    return ROOT


def fetch_tools():
    """Downloads cuobjdump and the nvdisasm it runs (PyPI wheels, no install) into CACHE/bin."""
    os.makedirs(os.path.join(CACHE, "bin"), exist_ok=True)
    for tool in ("cuobjdump", "nvdisasm"):
        target = os.path.join(CACHE, "bin", tool)
        if os.access(target, os.X_OK):
            continue
        download = os.path.join(CACHE, tool)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d",
                        download, "nvidia-cuda-" + tool], check=True)
        wheel = sorted(f for f in os.listdir(download) if f.endswith(".whl"))[-1]
        with zipfile.ZipFile(os.path.join(download, wheel)) as archive:
            member = next(m for m in archive.namelist() if m.endswith("/bin/" + tool))
            with archive.open(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
        os.chmod(target, 0o755)


def find_cuobjdump(explicit, fetch):
    """cuobjdump's path; it runs nvdisasm, which must sit beside it or on PATH."""
    for candidate in (explicit, os.environ.get("CUOBJDUMP"), shutil.which("cuobjdump"),
                      "/usr/local/cuda/bin/cuobjdump"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    cached = os.path.join(CACHE, "bin", "cuobjdump")
    if fetch:
        fetch_tools()
    if os.access(cached, os.X_OK):
        return cached
    sys.exit("sass_report: no cuobjdump (pass --cuobjdump PATH, or --fetch to download one)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", help=".cu file (compiled for sm_90a here), cubin or object file")
    parser.add_argument("--filter", default="", help="only kernels whose mangled name has this")
    parser.add_argument("--cuobjdump", help="the cuobjdump to use")
    parser.add_argument("--fetch", action="store_true", help="download cuobjdump if none is found")
    args = parser.parse_args()
    if not os.path.exists(args.input):
        sys.exit(f"sass_report: {args.input}: no such file")
    cuobjdump = find_cuobjdump(args.cuobjdump, args.fetch)
    with tempfile.TemporaryDirectory() as scratch:
        binary = args.input
        if args.input.endswith(".cu"):
            binary = os.path.join(scratch, "kernels.cubin")
            tree = source_tree(args.input)
            subprocess.run(["nvcc", "-std=c++20", "-O3", "-arch=sm_90a", "-cubin",
                            "-I" + os.path.join(tree, "include"), "-I" + os.path.join(tree, "src"),
                            args.input, "-o", binary], check=True)
        env = dict(os.environ)
        env["PATH"] = os.path.dirname(cuobjdump) + os.pathsep + env.get("PATH", "")
        run = subprocess.run([cuobjdump, "-sass", binary], capture_output=True, text=True, env=env)
        if run.returncode != 0:
            sys.exit("sass_report: cuobjdump failed: " + run.stderr.strip())
        sass = run.stdout
    rows = report_rows(parse_sass(sass), args.filter)
    if not rows:
        sys.exit("sass_report: no kernel" + (f" matching {args.filter!r}" if args.filter else ""))
    print("| kernel | arch | instructions | main loop | " + " | ".join(c for c, _ in COLUMNS) +
          " | spills (kernel) |")
    print("| --- | --- " + "| ---: " * (len(COLUMNS) + 3) + "|")
    for row in sorted(rows, key=lambda r: (r[0][1], r[0][0])):
        arch, name = row[0]
        print(f"| {short_name(demangle(name))} | {arch} | " +
              " | ".join(str(v) for v in row[1:]) + " |")


if __name__ == "__main__":
    main()

"""benches/ray/run's body: see that script for what it measures and its environment."""

import os
import shutil
import statistics
import tempfile
import time

import ray

import dativo
import dativo.ray as dray

ROWS = int(os.environ["ROWS"])
FILES = [int(n) for n in os.environ["FILES"].split()]
RUNS = int(os.environ["RUNS"])
WORK = os.environ["DATIVO_BENCH_DIR"]
TYPES = {"id": "integer", "amount": "float", "country": "string", "note": "string"}


def make_inputs(files: int) -> list:
    folder = os.path.join(WORK, f"in-{files}")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    per_file = ROWS // files
    paths = []
    for f in range(files):
        path = os.path.join(folder, f"orders-{f:03d}.csv")
        with open(path, "w") as out:
            out.write("id,amount,country,note\n")
            start = f * per_file
            out.writelines(f"{i},{i % 1000 * 0.25},{'FR' if i % 3 else 'DE'},note {i % 97}\n"
                           for i in range(start, start + per_file))
        paths.append(path)
    return paths


def local(paths, out):
    stream = dativo.read_csv(paths, column_types=TYPES)
    with dativo.ParquetWriter(out, stream.schema) as writer:
        writer.write(stream)
    return sum(f.rows for f in writer.files)


def through_ray(paths, out):
    return sum(f.rows for f in dray.write_parquet(dray.read_csv(paths, column_types=TYPES), out))


def timed(fn, paths):
    times = []
    for _ in range(RUNS):
        out = tempfile.mkdtemp(dir=WORK, prefix="out-")
        start = time.perf_counter()
        rows = fn(paths, out)
        times.append(time.perf_counter() - start)
        shutil.rmtree(out)
        assert rows == len(paths) * (ROWS // len(paths)), rows
    return statistics.median(times)


def main():
    os.makedirs(WORK, exist_ok=True)
    ray.init(num_cpus=int(os.environ["RAY_CPUS"]), include_dashboard=False, log_to_driver=False)
    through_ray(make_inputs(2), tempfile.mkdtemp(dir=WORK))  # warm the workers: not timed
    results = []
    for files in FILES:
        paths = make_inputs(files)
        # Alternate the two, so that drift on a shared machine hits both.
        results.append((files, timed(local, paths), timed(through_ray, paths)))
    ray.shutdown()

    rows = ROWS
    print(f"\n{rows} rows in all, split over N files; median of {RUNS} runs; "
          f"library {dativo.__version__}; ray {ray.__version__}, num_cpus={os.environ['RAY_CPUS']}\n")
    print("| files | local dativo (s) | through Ray (s) | Ray / local | Ray - local (s) |")
    print("|---:|---:|---:|---:|---:|")
    for files, lt, rt in results:
        print(f"| {files} | {lt:.2f} | {rt:.2f} | {rt / lt:.2f} | {rt - lt:.2f} |")
    (f1, l1, r1), (fn, ln, rn) = results[0], results[-1]
    if fn > f1:
        per_file = ((rn - ln) - (r1 - l1)) / (fn - f1)
        print(f"\noverhead per file (growth of the gap from {f1} to {fn} files): {per_file * 1000:.1f} ms")
    print(f"overhead per row at {f1} file(s): {(r1 - l1) / rows * 1e6:.2f} µs "
          f"(local: {l1 / rows * 1e6:.2f} µs per row)")


if __name__ == "__main__":
    main()

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


def job_file(paths, out) -> str:
    files = "".join(f"    - path: {p}\n" for p in paths)
    types = ", ".join(f"{k}: {v}" for k, v in TYPES.items())
    path = os.path.join(out, "job.yaml")
    with open(path, "w") as f:
        f.write(f"source:\n  type: csv\n  files:\n{files}  engine:\n    options:\n      column_types: {{{types}}}\n"
                f"target:\n  output_base: {out}/parquet\n")
    return path


def local_job(paths, out):
    return dativo.run_job(job_file(paths, out)).rows_written


def job_on_ray(paths, out):
    return dray.run_job(job_file(paths, out))["rows_written"]


def ray_data(paths, out):
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
    warm = make_inputs(2)  # the workers' first tasks import dativo: not timed
    ray_data(warm, tempfile.mkdtemp(dir=WORK))
    job_on_ray(warm, tempfile.mkdtemp(dir=WORK))
    results = []
    for files in FILES:
        paths = make_inputs(files)
        # One after the other per file count, so that drift on a shared machine hits all three.
        results.append((files, timed(local_job, paths), timed(job_on_ray, paths), timed(ray_data, paths)))
    ray.shutdown()

    rows = ROWS
    print(f"\n{rows} rows in all, split over N files; median of {RUNS} runs; "
          f"library {dativo.__version__}; ray {ray.__version__}, num_cpus={os.environ['RAY_CPUS']}\n")
    print("| files | local job (s) | job on Ray (s) | Ray / local | Ray Data read+write (s) | Ray Data / local |")
    print("|---:|---:|---:|---:|---:|---:|")
    for files, lt, jt, dt in results:
        print(f"| {files} | {lt:.2f} | {jt:.2f} | {jt / lt:.2f} | {dt:.2f} | {dt / lt:.2f} |")
    (f1, l1, j1, d1), (fn, ln, jn, dn) = results[0], results[-1]
    for name, a, b in (("job on Ray", j1, jn), ("Ray Data", d1, dn)):
        if fn > f1:
            per_file = ((b - ln) - (a - l1)) / (fn - f1)
            print(f"\n{name}: overhead per file (growth of the gap from {f1} to {fn} files): {per_file * 1000:.1f} ms")
        print(f"{name}: overhead per row at {f1} file(s): {(a - l1) / rows * 1e6:.2f} µs "
              f"(local: {l1 / rows * 1e6:.2f} µs per row)")


if __name__ == "__main__":
    main()

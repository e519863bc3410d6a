"""dativo.ray on a real local Ray cluster (a head and a worker node, started here on 127.0.0.1).

The cluster starts once per session (about 10 s), so the Ray tests are few and each proves
several things. Every `ray start` runs with `--block` in its own session, and teardown kills
exactly those process groups: `ray stop --force` would kill every Ray process of the machine,
other users' included. Startup and every wait have a hard timeout, so a broken cluster fails
the tests instead of hanging CI.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import dativo

TESTS = Path(__file__).resolve().parent
STARTUP_TIMEOUT = 120  # seconds for the head and the worker to join
COLUMN_TYPES = {"id": "integer", "amount": "float", "country": "string"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_start(ray_bin, args, log, env):
    """`ray start --block ...` in a new session: its pid is the group of every Ray process
    of that node, which teardown kills."""
    ports = ["--dashboard-agent-listen-port", "--dashboard-agent-grpc-port", "--runtime-env-agent-port",
             "--metrics-export-port"]
    port_args = [f"{flag}={_free_port()}" for flag in ports]
    return subprocess.Popen([str(ray_bin), "start", "--block", "--disable-usage-stats", *args, *port_args],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(process):
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture(scope="session")
def ray_cluster():
    if os.environ.get("DATIVO_RAY_TESTS") == "0":
        pytest.skip("DATIVO_RAY_TESTS=0")
    # The driver: Ray turns a 127.0.0.1 address into the machine's own IP before connecting;
    # this setting, read when ray is imported, keeps it on loopback. Not passed to `ray start`
    # (a worker node refuses to start with it).
    # Short: Ray's unix sockets live under it (108-byte path limit).
    temp = tempfile.mkdtemp(prefix="dray", dir="/tmp")
    # HOME too: a ~/.ray/auth_token left by any earlier local ray.init would make the cluster
    # demand a token this driver does not send.
    ray_env = {**os.environ, "PYTHONPATH": str(TESTS), "RAY_USAGE_STATS_ENABLED": "0", "HOME": temp}
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    ray = pytest.importorskip("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    log = open(os.path.join(temp, "ray-start.log"), "w")
    # Workers import test helpers (the killing datasink) from this folder (PYTHONPATH above).
    env = ray_env
    port = _free_port()
    processes = [_ray_start(ray_bin, ["--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                                      "--num-cpus=1", "--include-dashboard=false", f"--temp-dir={temp}",
                                      f"--node-manager-port={_free_port()}",
                                      f"--object-manager-port={_free_port()}"], log, env)]
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if processes[0].poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the Ray head did not start: see {log.name}")
                time.sleep(0.5)
        processes.append(_ray_start(ray_bin, [f"--address={address}", "--node-ip-address=127.0.0.1",
                                              "--num-cpus=1", f"--node-manager-port={_free_port()}",
                                              f"--object-manager-port={_free_port()}"], log, env))
        ray.init(address=address, log_to_driver=False)
        while len([n for n in ray.nodes() if n["Alive"]]) < 2:
            if time.monotonic() > deadline:
                pytest.fail(f"the Ray worker node did not join in {STARTUP_TIMEOUT} s: see {log.name}")
            time.sleep(0.5)
        yield address
    finally:
        if ray.is_initialized():
            ray.shutdown()
        for process in reversed(processes):
            _stop(process)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def test_the_cluster_listens_where_only_loopback_reaches(ray_cluster):
    """run-tests.sh runs the suite in a network namespace whose only interface is loopback (Ray's
    gcs_server and raylet listen on every interface): nothing the tests start is reachable
    from another machine."""
    if os.environ.get("DATIVO_TEST_NETNS") != "active":
        pytest.skip("not in a private network namespace (run-tests.sh makes one where unshare works)")
    assert [name for _, name in socket.if_nameindex()] == ["lo"]
    port = int(ray_cluster.rsplit(":", 1)[1])
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                if state == "0A":  # LISTEN
                    listening.add(int(local.rsplit(":", 1)[1], 16))
    assert port in listening, "the Ray head's GCS listens in this namespace"


def _write_inputs(folder: Path, files: int, rows: int) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for f in range(files):
        path = folder / f"orders-{f:02d}.csv"
        lines = ["id,amount,country"]
        lines += [f"{f * rows + i},{i * 1.5},{'FR' if i % 3 else 'DE'}" for i in range(rows)]
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def _pyarrow_rows(paths) -> list:
    types = {"id": pa.int64(), "amount": pa.float64(), "country": pa.string()}
    tables = [pacsv.read_csv(p, convert_options=pacsv.ConvertOptions(column_types=types)) for p in paths]
    return sorted(pa.concat_tables(tables).to_pylist(), key=lambda r: r["id"])


def _manifest_rows(out: Path) -> list:
    """The rows of the files the manifest lists, read back with pyarrow."""
    import json
    manifest = json.loads((out / "_manifest.json").read_text())
    tables = [pq.read_table(out / f["file"]) for f in manifest["files"]]
    assert sum(t.num_rows for t in tables) == manifest["rows"]
    return sorted(pa.concat_tables(tables).to_pylist(), key=lambda r: r["id"])


def test_import_dativo_ray_without_ray_is_a_clear_error_and_dativo_still_works():
    code = ("import sys; sys.modules['ray'] = None\n"
            "import dativo; dativo.read_csv\n"
            "try:\n    import dativo.ray\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "dativo.ray needs Ray Data" in out.stdout and 'pip install "dativo[ray]"' in out.stdout, out


def test_read_csv_one_task_per_file_equals_pyarrow_and_bad_rows_follow_on_error(ray_cluster, tmp_path):
    import dativo.ray as dray
    paths = _write_inputs(tmp_path / "in", files=3, rows=50)
    ds = dray.read_csv(str(tmp_path / "in" / "orders-*.csv"), column_types=COLUMN_TYPES)
    assert sorted(ds.input_files()) == sorted(str(p) for p in paths)
    assert ds.schema().base_schema == pa.schema([("id", pa.int64()), ("amount", pa.float64()),
                                                  ("country", pa.string())])
    assert sorted(ds.take_all(), key=lambda r: r["id"]) == _pyarrow_rows(paths)

    # A bad value on line 4 of one file: rejected into that file's own rejects file...
    bad = tmp_path / "in" / "orders-01.csv"
    lines = bad.read_text().splitlines()
    lines[3] = "51,not-a-number,FR"
    bad.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "rejects"
    ds = dray.read_csv([str(p) for p in paths], column_types=COLUMN_TYPES, on_error="reject",
                       rejects_dir=str(rejects))
    assert ds.count() == 149
    assert sorted(os.listdir(rejects)) == sorted(os.path.basename(dray.rejects_path_for(rejects, str(p)))
                                                 for p in paths)
    rejected = pacsv.read_csv(dray.rejects_path_for(rejects, str(bad))).to_pylist()
    assert [(r["line"], r["column"]) for r in rejected] == [(4, "amount")], rejected
    assert "not-a-number" in rejected[0]["raw_line"]
    # ... and with on_error=fail the read fails naming the file and the line.
    with pytest.raises(Exception) as failure:
        dray.read_csv([str(p) for p in paths], column_types=COLUMN_TYPES, on_error="fail").materialize()
    assert str(bad) in str(failure.value) and "line 4" in str(failure.value), str(failure.value)


def test_write_parquet_reads_back_row_for_row_with_only_final_files(ray_cluster, tmp_path):
    import dativo.ray as dray
    paths = _write_inputs(tmp_path / "in", files=4, rows=40)
    out = tmp_path / "out"
    (out).mkdir()
    (out / "part-old-00000.parquet").write_bytes(b"an older run's part, replaced by overwrite")
    files = dray.write_parquet(dray.read_csv([str(p) for p in paths], column_types=COLUMN_TYPES), str(out),
                               compression="zstd")
    assert sum(f.rows for f in files) == 160
    assert _manifest_rows(out) == _pyarrow_rows(paths)
    names = sorted(os.listdir(out))
    assert names == sorted([os.path.basename(f.path) for f in files] + ["_manifest.json"]), names
    assert all(not n.startswith(".") for n in names), "no staged or temp file is left"


def test_killed_write_tasks_are_retried_and_the_commit_has_every_row_once(ray_cluster, tmp_path):
    import dativo.ray as dray
    from ray_kill_helpers import KillingDatasink
    paths = _write_inputs(tmp_path / "in", files=4, rows=30)
    out, markers = tmp_path / "out", tmp_path / "markers"
    markers.mkdir()
    # Task 0's first attempt dies with a half-written file; task 1's dies after staging its
    # files (they exist, but no result reached the driver). Ray retries both.
    sink = KillingDatasink(str(out), str(markers), kill_mid_write=0, kill_after_stage=1)
    ds = dray.read_csv([str(p) for p in paths], column_types=COLUMN_TYPES)
    ds.write_datasink(sink)
    assert sorted(os.listdir(markers)) == ["after-stage-1", "mid-write-0"], "both kills happened"
    assert _manifest_rows(out) == _pyarrow_rows(paths), "every row exactly once"
    names = sorted(os.listdir(out))
    assert all(not n.startswith(".") for n in names), f"temp or staged files left: {names}"
    assert len(names) == len(sink.files) + 1


def _job(folder: Path, inputs, out: Path, incremental: bool) -> Path:
    files = "".join(f"    - path: {p}\n" for p in inputs)
    inc = "  incremental:\n    strategy: file_modified_time\n    state_path: state.json\n" if incremental else ""
    text = (f"source:\n  type: csv\n{inc}  files:\n{files}  engine:\n    options:\n      on_error: reject\n"
            f"      column_types: {{id: integer, amount: float, country: string}}\n"
            f"target:\n  output_base: {out}\n  engine:\n    options: {{max_rows_per_file: 25}}\n")
    path = folder / ("inc.yaml" if incremental else "job.yaml")
    path.write_text(text)
    return path


def _hidden(out: Path) -> list:
    return [n for n in os.listdir(out) if n.startswith(".") and not n.endswith(".lock")]


def test_a_job_on_ray_writes_what_a_local_run_writes_and_keeps_its_state(ray_cluster, tmp_path):
    import dativo.ray as dray
    paths = _write_inputs(tmp_path / "in", files=3, rows=60)
    expected = _pyarrow_rows(paths)
    bad = paths[1]
    bad.write_text(bad.read_text() + "999,not-a-number,FR\n")
    # A plain job: the same rows and rejects as a local run of it.
    local = dativo.run_job(_job(tmp_path / "in", paths, tmp_path / "local", incremental=False))
    report = dray.run_job(_job(tmp_path / "in", paths, tmp_path / "ray", incremental=False))
    assert (report["rows_written"], report["rows_rejected"]) == (local.rows_written, local.rows_rejected) == (180, 1)
    assert _manifest_rows(tmp_path / "ray") == _manifest_rows(tmp_path / "local") == expected
    assert (tmp_path / "ray" / "_rejects.csv").read_text() == (tmp_path / "local" / "_rejects.csv").read_text()
    assert _hidden(tmp_path / "ray") == []

    # Incremental: the first run ingests every file, the next skips them, a changed file is
    # the only one read again; a local run agrees with the state Ray runs keep.
    out = tmp_path / "inc"
    job = _job(tmp_path / "in", paths, out, incremental=True)
    first = dray.run_job(job)
    assert len(first["incremental"]["ingested"]) == 3
    assert dray.run_job(job)["incremental"]["skipped"] == [str(p) for p in paths]
    time.sleep(0.05)
    _write_inputs(tmp_path / "in", files=1, rows=10)  # orders-00.csv shrinks to 10 rows
    third = dray.run_job(job)
    assert third["incremental"]["ingested"] == [str(paths[0])] and third["rows_written"] == 10
    assert len(_manifest_rows(out)) == 130
    assert dativo.run_job(job).rows_written == 0  # nothing left to ingest for a local run either
    assert _hidden(out) == []

    # The CLI: `dativo run --engine ray=ADDRESS` prints the local run's summary; a failed run
    # (the bad row, with on_error: fail) exits 1 with the worker's error, and writes nothing.
    cli = TESTS.parents[2] / "target" / os.environ.get("DATIVO_CARGO_PROFILE", "debug") / "dativo"
    env = {**os.environ, "DATIVO_PYTHON": sys.executable}
    run = subprocess.run([str(cli), "run", "--config", str(job), "--engine", f"ray={ray_cluster}", "--full-refresh"],
                         capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    assert "130 written, 1 rejected" in run.stdout and "inputs: 3 ingested, 0 skipped" in run.stdout, run.stdout
    assert len(_manifest_rows(out)) == 130
    strict = _job(tmp_path / "in", paths, tmp_path / "strict", incremental=False)
    strict.write_text(strict.read_text().replace("on_error: reject", "on_error: fail"))
    run = subprocess.run([str(cli), "run", "--config", str(strict), "--engine", f"ray={ray_cluster}"],
                         capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "orders-01.csv:62: column 'amount'" in run.stderr and "not-a-number" in run.stderr, run.stderr
    assert not (tmp_path / "strict" / "_manifest.json").exists()


def test_killed_unit_tasks_are_retried_and_every_row_lands_once(ray_cluster, tmp_path):
    import dativo.ray as dray
    from ray_kill_helpers import dying_unit
    paths = _write_inputs(tmp_path / "in", files=4, rows=50000)
    markers = tmp_path / "markers"
    markers.mkdir()
    out = tmp_path / "out"
    job = _job(tmp_path / "in", paths, out, incremental=False)
    job.write_text(job.read_text().replace("max_rows_per_file: 25", "max_rows_per_file: 20000"))
    report = dray.run_job(job, unit_function=dying_unit(str(markers), kill_mid_unit=0, kill_after_stage=2))
    assert sorted(os.listdir(markers)) == ["after-stage-2", "mid-unit-0"], "both kills happened"
    assert report["rows_written"] == 200000
    rows = _manifest_rows(out)
    assert [r["id"] for r in rows] == list(range(200000)), "every row exactly once"
    names = sorted(os.listdir(out))
    assert names == sorted([os.path.basename(f["path"]) for f in report["files"]] + ["_manifest.json", "_rejects.csv"])
    assert _hidden(out) == [], "the dead attempts' temps and staged files are gone"


def test_a_job_on_ray_reads_objects_and_commits_to_a_bucket(ray_cluster, s3_server, s3_fs, tmp_path):
    import json

    import dativo.ray as dray
    from ray_kill_helpers import dying_unit
    where = f"{s3_server.bucket}/ray-{os.getpid()}"
    paths = _write_inputs(tmp_path / "in", files=3, rows=500)
    for p in paths:  # the inputs are objects too
        with s3_fs.open_output_stream(f"{where}/in/{p.name}") as out:
            out.write(p.read_bytes())
    files = "".join(f"    - path: s3://{where}/in/{p.name}\n" for p in paths)
    # Literal test credentials: a worker resolves ${VAR}s from its own environment, and this
    # cluster's workers were started without the server's keys.
    job = tmp_path / "bucket.yaml"
    job.write_text(
        f"source:\n  type: csv\n  files:\n{files}  engine:\n    options:\n"
        f"      column_types: {{id: integer, amount: float, country: string}}\n"
        f"target:\n  type: s3\n  connection:\n    s3:\n      endpoint: {s3_server.endpoint}\n"
        f"      bucket: {s3_server.bucket}\n      prefix: ray-{os.getpid()}/out\n"
        f"      access_key_id: {s3_server.access_key}\n      secret_access_key: {s3_server.secret_key}\n"
        f"      region: us-east-1\n      path_style_access: true\n      secure: false\n"
        f"  engine:\n    options: {{max_rows_per_file: 200}}\n")
    markers = tmp_path / "markers"
    markers.mkdir()
    # Unit 1's first attempt dies after its objects were uploaded: they must not count.
    report = dray.run_job(job, unit_function=dying_unit(str(markers), kill_mid_unit=-1, kill_after_stage=1))
    assert os.listdir(markers) == ["after-stage-1"]
    assert report["rows_written"] == 1500

    def table():
        with s3_fs.open_input_stream(f"{where}/out/_manifest.json") as f:
            manifest = json.loads(f.read())
        rows = pa.concat_tables([pq.read_table(f"{where}/out/{f['file']}", filesystem=s3_fs)
                                 for f in manifest["files"]])
        return manifest, sorted(rows.to_pylist(), key=lambda r: r["id"])

    manifest, rows = table()
    assert rows == _pyarrow_rows(paths)
    import pyarrow.fs as pafs
    listed = sorted(i.path.rsplit("/", 1)[1] for i in s3_fs.get_file_info(
        pafs.FileSelector(f"{where}/out", recursive=True)))
    assert listed == sorted([f["file"] for f in manifest["files"]] + ["_manifest.json"]), \
        "the dead attempt's objects are gone; only what the manifest names is left"


def test_a_hive_partitioned_job_on_ray_commits_its_bucket_folders_once(ray_cluster, s3_server, s3_fs, tmp_path):
    import datetime
    import json

    import pyarrow.dataset as pads
    import pyarrow.fs as pafs

    import dativo.ray as dray
    from ray_kill_helpers import dying_unit
    where = f"{s3_server.bucket}/ray-hive-{os.getpid()}"
    paths = _write_inputs(tmp_path / "in", files=3, rows=300)
    files = "".join(f"    - path: {p}\n" for p in paths)

    def job(name, prefix):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f"source:\n  type: csv\n  files:\n{files}  engine:\n    options:\n"
            f"      column_types: {{id: integer, amount: float, country: string}}\n"
            f"target:\n  type: s3\n  partitioning: [ingest_date, country]\n  connection:\n    s3:\n"
            f"      endpoint: {s3_server.endpoint}\n      bucket: {s3_server.bucket}\n      prefix: {prefix}\n"
            f"      access_key_id: {s3_server.access_key}\n      secret_access_key: {s3_server.secret_key}\n"
            f"      region: us-east-1\n      path_style_access: true\n      secure: false\n"
            f"  engine:\n    options: {{max_rows_per_file: 70}}\n")
        return path

    def committed(prefix):
        with s3_fs.open_input_stream(f"{s3_server.bucket}/{prefix}/_manifest.json") as f:
            manifest = json.loads(f.read())
        base = f"{s3_server.bucket}/{prefix}"
        dataset = pads.dataset([f"{base}/{f['file']}" for f in manifest["files"]], filesystem=s3_fs,
                               partitioning="hive", partition_base_dir=base)
        listed = sorted(i.path[len(base) + 1:] for i in s3_fs.get_file_info(pafs.FileSelector(base, recursive=True))
                        if i.type == pafs.FileType.File)
        return manifest, dataset.to_table().to_pylist(), listed

    markers = tmp_path / "markers"
    markers.mkdir()
    # Unit 2's first attempt dies after its partition objects were uploaded: they must not count.
    report = dray.run_job(job("ray", f"ray-hive-{os.getpid()}/ray"),
                          unit_function=dying_unit(str(markers), kill_mid_unit=-1, kill_after_stage=2))
    assert os.listdir(markers) == ["after-stage-2"]
    assert report["rows_written"] == 900
    manifest, rows, listed = committed(f"ray-hive-{os.getpid()}/ray")
    today = datetime.date.today().isoformat()
    assert {str(r.pop("ingest_date")) for r in rows} == {today}, "one ingest_date: the driver's"
    assert sorted(rows, key=lambda r: r["id"]) == _pyarrow_rows(paths)
    assert listed == sorted([f["file"] for f in manifest["files"]] + ["_manifest.json"]), \
        "the dead attempt's objects are gone; only what the manifest names is left"
    folders = {f["file"].rsplit("/", 1)[0] for f in manifest["files"]}
    assert folders == {f"ingest_date={today}/country=DE", f"ingest_date={today}/country=FR"}

    # A local run of the same job: the same rows in the same folders.
    assert dativo.run_job(str(job("local", f"ray-hive-{os.getpid()}/local"))).rows_written == 900
    local_manifest, local_rows, _ = committed(f"ray-hive-{os.getpid()}/local")
    assert {f["file"].rsplit("/", 1)[0] for f in local_manifest["files"]} == folders
    assert {str(r.pop("ingest_date")) for r in local_rows} == {today}
    assert sorted(local_rows, key=lambda r: r["id"]) == sorted(rows, key=lambda r: r["id"])


def _tree(out: Path):
    """Every file under `out`, relative, and the hidden ones (temps, staged files) apart."""
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    return [n for n in names if not Path(n).name.startswith(".")], [n for n in names if Path(n).name.startswith(".")]


def _hive_rows(base, files, filesystem=None):
    """The rows of `files` (paths under `base`) with their Hive partition columns, by pyarrow."""
    import pyarrow.dataset as pads
    dataset = pads.dataset([f"{base}/{f}" for f in files], filesystem=filesystem, partitioning="hive",
                           partition_base_dir=str(base))
    return sorted(dataset.to_table().to_pylist(), key=lambda r: r["id"])


def test_a_hive_partitioned_job_on_ray_writes_a_folder_as_a_local_run_does(ray_cluster, tmp_path):
    import json

    import dativo.ray as dray
    from ray_kill_helpers import dying_unit
    paths = _write_inputs(tmp_path / "in", files=3, rows=300)
    files = "".join(f"    - path: {p}\n" for p in paths)

    def job(name):
        path = tmp_path / f"{name}.yaml"
        path.write_text(
            f"source:\n  type: csv\n  files:\n{files}  engine:\n    options:\n"
            f"      column_types: {{id: integer, amount: float, country: string}}\n"
            f"target:\n  output_base: {tmp_path / name}\n  partitioning: [country]\n"
            f"  engine:\n    options: {{max_rows_per_file: 70}}\n")
        return path

    markers = tmp_path / "markers"
    markers.mkdir()
    # Unit 1's first attempt dies after staging its files in the partition folders.
    report = dray.run_job(job("ray"), unit_function=dying_unit(str(markers), kill_mid_unit=-1, kill_after_stage=1))
    assert os.listdir(markers) == ["after-stage-1"]
    assert report["rows_written"] == 900
    assert dativo.run_job(str(job("local"))).rows_written == 900
    (ray_files, ray_hidden), (local_files, _) = _tree(tmp_path / "ray"), _tree(tmp_path / "local")
    assert ray_hidden == [], "the dead attempt's staged files are gone"
    folders = lambda names: sorted({n.rsplit("/", 1)[0] for n in names if "/" in n})  # noqa: E731
    assert folders(ray_files) == folders(local_files) == ["country=DE", "country=FR"]
    manifest = json.loads((tmp_path / "ray" / "_manifest.json").read_text())
    listed = [f["file"] for f in manifest["files"]]
    assert sorted(listed + ["_manifest.json"]) == ray_files
    assert all(n.rsplit("/", 1)[1].startswith("part-") for n in listed), "part-NNNNN per folder, as a local run"
    local_listed = [f["file"] for f in json.loads((tmp_path / "local" / "_manifest.json").read_text())["files"]]
    assert _hive_rows(tmp_path / "ray", listed) == _hive_rows(tmp_path / "local", local_listed) == _pyarrow_rows(paths)


def test_write_parquet_partitions_into_folders_and_a_bucket(ray_cluster, s3_server, s3_fs, tmp_path):
    import json

    import pyarrow.fs as pafs

    import dativo.ray as dray
    paths = _write_inputs(tmp_path / "in", files=3, rows=200)
    ds = dray.read_csv([str(p) for p in paths], column_types=COLUMN_TYPES)
    out = tmp_path / "out"
    files = dray.write_parquet(ds, str(out), partitioning=["country"], max_rows_per_file=90)
    names, hidden = _tree(out)
    assert hidden == []
    manifest = json.loads((out / "_manifest.json").read_text())
    listed = [f["file"] for f in manifest["files"]]
    assert sorted(listed + ["_manifest.json"]) == names
    assert {n.split("/")[0] for n in listed} == {"country=DE", "country=FR"}
    assert _hive_rows(out, listed) == _pyarrow_rows(paths)
    assert sum(f.rows for f in files) == 600
    # The virtual ingest_date is one date for every task: the sink's (given here), not each
    # task's own clock.
    dray.write_parquet(ds, str(tmp_path / "dated"), partitioning=["ingest_date"], ingest_date="2020-02-29")
    assert sorted(os.listdir(tmp_path / "dated")) == ["_manifest.json", "ingest_date=2020-02-29"]
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        dray.write_parquet(ds, str(tmp_path / "bad"), partitioning=["ingest_date"], ingest_date="2020-02-30")

    where = f"{s3_server.bucket}/ray-parts-{os.getpid()}"
    keys = {"endpoint": s3_server.endpoint, "access_key_id": s3_server.access_key,
            "secret_access_key": s3_server.secret_key, "region": "us-east-1", "path_style_access": True}
    dray.write_parquet(ds, f"s3://{where}", partitioning=["country"], max_rows_per_file=90, **keys)
    with s3_fs.open_input_stream(f"{where}/_manifest.json") as f:
        listed = [e["file"] for e in json.loads(f.read())["files"]]
    objects = sorted(i.path[len(where) + 1:] for i in s3_fs.get_file_info(pafs.FileSelector(where, recursive=True))
                     if i.type == pafs.FileType.File)
    assert objects == sorted(listed + ["_manifest.json"])
    assert _hive_rows(where, listed, filesystem=s3_fs) == _pyarrow_rows(paths)


def test_a_job_with_a_python_reader_plugin_runs_on_ray(ray_cluster, tmp_path):
    import shutil

    import dativo.ray as dray
    from pyiceberg.catalog.sql import SqlCatalog
    from ray_kill_helpers import dying_unit
    shutil.copy(TESTS / "plugins" / "readers.py", tmp_path / "readers.py")
    source = "source:\n  custom_reader: readers.py:ArrowReader\n  connection: {rows: 1000}\n"
    asset = ("asset:\n  name: people\n  schema:\n    - {name: id, type: integer, required: true}\n"
             "    - {name: name, type: string}\n")
    job = tmp_path / "plugin.yaml"
    job.write_text(f"{asset}{source}target:\n  output_base: {tmp_path / 'ray'}\n")
    markers = tmp_path / "markers"
    markers.mkdir()
    # The one unit's first attempt dies after staging: the retry's files alone are published.
    report = dray.run_job(job, unit_function=dying_unit(str(markers), kill_mid_unit=-1, kill_after_stage=0))
    assert os.listdir(markers) == ["after-stage-0"]
    assert report["rows_written"] == 1001
    local = tmp_path / "local.yaml"
    local.write_text(f"{asset}{source}target:\n  output_base: {tmp_path / 'local'}\n")
    assert dativo.run_job(str(local)).rows_written == 1001
    ray_rows = pq.read_table(tmp_path / "ray").to_pylist()
    assert sorted(ray_rows, key=lambda r: r["id"]) == sorted(pq.read_table(tmp_path / "local").to_pylist(),
                                                              key=lambda r: r["id"])
    assert _tree(tmp_path / "ray")[1] == [], "no staged file of the dead attempt is left"

    # Without an asset into Iceberg: the task creates the table, the driver commits once.
    iceberg = tmp_path / "iceberg.yaml"
    iceberg.write_text(f"{source}target:\n  type: iceberg\n"
                       f"  catalog: {{type: sql, uri: {tmp_path}/catalog.db, warehouse: {tmp_path}/warehouse, "
                       f"table: people}}\n")
    assert dray.run_job(iceberg)["rows_written"] == 1001
    table = SqlCatalog("default", uri=f"sqlite:///{tmp_path}/catalog.db",
                       warehouse=f"file://{tmp_path}/warehouse").load_table("default.people")
    assert len(table.snapshots()) == 1
    assert sorted(r["id"] for r in table.scan().to_arrow().to_pylist()) == list(range(1001))

    writer = tmp_path / "writer.yaml"
    writer.write_text(f"{asset}{source}target:\n  custom_writer: writers.py:JsonLinesWriter\n"
                      f"  output_base: {tmp_path / 'w'}\n")
    with pytest.raises(dativo.ConfigError, match="custom writer"):
        dray.run_job(writer)


def test_ray_data_reads_objects_and_writes_a_bucket_with_one_commit(ray_cluster, s3_server, s3_fs, tmp_path):
    import json

    import dativo.ray as dray
    where = f"{s3_server.bucket}/ray-data-{os.getpid()}"
    paths = _write_inputs(tmp_path / "in", files=3, rows=400)
    for p in paths:
        with s3_fs.open_output_stream(f"{where}/in/{p.name}") as out:
            out.write(p.read_bytes())
    keys = {"endpoint": s3_server.endpoint, "access_key_id": s3_server.access_key,
            "secret_access_key": s3_server.secret_key, "region": "us-east-1", "path_style_access": True}
    ds = dray.read_csv([f"s3://{where}/in/{p.name}" for p in paths], column_types=COLUMN_TYPES, **keys)
    assert sorted(ds.take_all(), key=lambda r: r["id"]) == _pyarrow_rows(paths)
    files = dray.write_parquet(ds, f"s3://{where}/out", max_rows_per_file=150, **keys)
    assert sum(f.rows for f in files) == 1200
    with s3_fs.open_input_stream(f"{where}/out/_manifest.json") as f:
        manifest = json.loads(f.read())
    rows = pa.concat_tables([pq.read_table(f"{where}/out/{f['file']}", filesystem=s3_fs) for f in manifest["files"]])
    assert sorted(rows.to_pylist(), key=lambda r: r["id"]) == _pyarrow_rows(paths)
    import pyarrow.fs as pafs
    listed = sorted(i.path.rsplit("/", 1)[1] for i in s3_fs.get_file_info(pafs.FileSelector(f"{where}/out")))
    assert listed == sorted([f["file"] for f in manifest["files"]] + ["_manifest.json"])


def test_a_job_on_ray_commits_one_iceberg_snapshot(ray_cluster, tmp_path, monkeypatch):
    import dativo.ray as dray
    from pyiceberg.catalog.sql import SqlCatalog
    from ray_kill_helpers import dying_unit
    paths = _write_inputs(tmp_path / "in", files=3, rows=300)
    files = "".join(f"    - path: {p}\n" for p in paths)
    job = tmp_path / "iceberg.yaml"
    job.write_text(
        f"asset:\n  name: orders\n  version: '1'\n  schema:\n    - {{name: id, type: integer, required: true}}\n"
        f"    - {{name: amount, type: double}}\n    - {{name: country, type: string}}\n"
        f"source:\n  type: csv\n  files:\n{files}"
        f"target:\n  type: iceberg\n  partitioning: [country]\n"
        f"  catalog: {{type: sql, uri: {tmp_path}/catalog.db, warehouse: {tmp_path}/warehouse}}\n")
    markers = tmp_path / "markers"
    markers.mkdir()
    # The driver once made a folder named after the table ("iceberg table default.orders
    # (sql:...)") in its working directory: it must leave that directory alone.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    # Unit 0's first attempt dies after writing its data files: no snapshot may name them.
    report = dray.run_job(job, unit_function=dying_unit(str(markers), kill_mid_unit=-1, kill_after_stage=0))
    assert os.listdir(cwd) == []
    assert os.listdir(markers) == ["after-stage-0"]
    assert report["rows_written"] == 900
    catalog = SqlCatalog("default", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    table = catalog.load_table("default.orders")  # the namespace and name a job defaults to
    assert len(table.snapshots()) == 1, "one snapshot for the whole run"
    assert [f.name for f in table.spec().fields] == ["country"]
    rows = sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"])
    assert rows == _pyarrow_rows(paths)


def test_ray_data_writes_an_iceberg_table_with_one_snapshot_despite_killed_tasks(ray_cluster, tmp_path,
                                                                                   monkeypatch):
    import ray

    import dativo.ray as dray
    from pyiceberg.catalog.sql import SqlCatalog
    from ray_kill_helpers import KillingDatasink
    paths = _write_inputs(tmp_path / "in", files=4, rows=30)
    markers = tmp_path / "markers"
    markers.mkdir()
    catalog = {"type": "sql", "uri": f"{tmp_path}/catalog.db", "warehouse": f"{tmp_path}/warehouse"}
    # Task 0's first attempt dies with a half-written data file, task 1's after its files are
    # complete in the table's location: no snapshot may name either attempt's files.
    sink = KillingDatasink("iceberg:sales.orders", str(markers), kill_mid_write=0, kill_after_stage=1,
                           write_mode="append", catalog=catalog, partitioning=["country"])
    dray.read_csv([str(p) for p in paths], column_types=COLUMN_TYPES).write_datasink(sink)
    assert sorted(os.listdir(markers)) == ["after-stage-1", "mid-write-0"], "both kills happened"
    assert sum(f.rows for f in sink.files) == 120

    reader = SqlCatalog("default", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")
    table = reader.load_table("sales.orders")
    assert len(table.snapshots()) == 1, "one snapshot for the whole write"
    assert [f.name for f in table.spec().fields] == ["country"]
    assert sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"]) == _pyarrow_rows(paths)
    named = {f.file.file_path for f in table.scan().plan_files()}
    assert named == {"file://" + f.path for f in sink.files}, "the snapshot names exactly the counted files"

    # write_iceberg: an overwrite replaces the rows in a second snapshot (the catalog's paths
    # relative to the driver's folder, which the workers do not share); a block that does not
    # fit the table fails before anything is committed.
    monkeypatch.chdir(tmp_path)
    dray.write_iceberg(dray.read_csv([str(paths[0])], column_types=COLUMN_TYPES), "sales.orders",
                       catalog={"type": "sql", "uri": "catalog.db", "warehouse": "warehouse"},
                       partitioning=["country"], write_mode="overwrite")
    table = reader.load_table("sales.orders")
    assert len(table.snapshots()) == 2
    assert sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"]) == _pyarrow_rows(paths[:1])
    other = ray.data.from_items([{"id": 1, "note": "x"}])
    with pytest.raises(Exception, match="note"):
        dray.write_iceberg(other, "sales.orders", catalog=catalog, partitioning=["country"])
    assert len(reader.load_table("sales.orders").snapshots()) == 2


def test_ray_data_writes_s3_files_through_an_iceberg_rest_catalog(ray_cluster, s3_server, tmp_path):
    import dativo.ray as dray
    from pyiceberg.catalog import load_catalog
    paths = _write_inputs(tmp_path / "in", files=3, rows=200)
    keys = {"endpoint": s3_server.endpoint, "access_key_id": s3_server.access_key,
            "secret_access_key": s3_server.secret_key, "region": "us-east-1", "path_style_access": True}
    catalog = {"type": "rest", "uri": s3_server.iceberg_uri, "warehouse": "warehouse",
               "credential": f"{s3_server.access_key}:{s3_server.secret_key}"}
    name = f"ray.orders_{os.getpid()}"
    files = dray.write_iceberg(dray.read_csv([str(p) for p in paths], column_types=COLUMN_TYPES), name,
                               catalog=catalog, partitioning=["country"], **keys)
    assert all(f.path.startswith("s3://warehouse/") for f in files), files
    reader = load_catalog("rest", type="rest", uri=s3_server.iceberg_uri, warehouse="warehouse",
                          credential=f"{s3_server.access_key}:{s3_server.secret_key}",
                          **{"s3.endpoint": s3_server.endpoint, "s3.access-key-id": s3_server.access_key,
                             "s3.secret-access-key": s3_server.secret_key, "s3.region": "us-east-1",
                             "s3.path-style-access": "true"})
    table = reader.load_table(name)
    assert len(table.snapshots()) == 1
    assert sorted(table.scan().to_arrow().to_pylist(), key=lambda r: r["id"]) == _pyarrow_rows(paths)

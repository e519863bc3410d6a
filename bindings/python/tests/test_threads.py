"""Several threads reading at once, and the GIL released during native calls."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa

import dativo
from conftest import write_numbers_csv


def test_several_threads_read_their_own_streams_at_once(tmp_path):
    paths = [write_numbers_csv(tmp_path / f"n{i}.csv", 5000 + i) for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        tables = list(pool.map(lambda p: dativo.read_csv(p, batch_size=500).read_all(), paths))
    assert [t.num_rows for t in tables] == [5000, 5001, 5002, 5003]
    assert all(t.column("id").to_pylist() == list(range(t.num_rows)) for t in tables)


def test_threads_sharing_one_stream_get_each_batch_once(numbers_csv):
    stream = dativo.read_csv(numbers_csv, batch_size=100)

    def drain():
        return [batch.column("id") for batch in stream]

    with ThreadPoolExecutor(4) as pool:
        parts = [c for chunk in pool.map(lambda _: drain(), range(4)) for c in chunk]
    ids = pa.chunked_array(parts).to_pylist()
    assert sorted(ids) == list(range(20_000))


def test_the_gil_is_released_while_the_library_works(tmp_path):
    """While one long native call runs (the writer draining a whole CSV stream into Parquet,
    all in Rust), a pure-Python thread keeps running: the longest pause it sees is far shorter
    than the call. With the GIL held it would see one pause as long as the call. (One batch
    is no longer a long call: a batch ends after about 4 MiB of text.)"""
    path = write_numbers_csv(tmp_path / "big.csv", 300_000)
    stream = dativo.read_csv(path)
    writer = dativo.ParquetWriter(tmp_path / "out", stream.schema)  # imports pyarrow before timing
    ticks = []
    done = threading.Event()

    def tick():
        while not done.is_set():
            ticks.append(time.perf_counter())

    ticker = threading.Thread(target=tick)
    ticker.start()
    time.sleep(0.05)
    start = time.perf_counter()
    writer.write(stream)  # one call: read, parse and encode 300,000 rows
    end = time.perf_counter()
    done.set()
    ticker.join()
    assert sum(f.rows for f in writer.close()) == 300_000
    during = [t for t in ticks if start <= t <= end]
    longest_pause = max(b - a for a, b in zip(during, during[1:]))
    assert end - start > 0.05, "the call is too short to tell"
    assert longest_pause < (end - start) / 2, (longest_pause, end - start)

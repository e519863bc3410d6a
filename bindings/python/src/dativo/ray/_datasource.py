"""A Ray Data datasource of CSV files read by dativo's reader: one read task per file."""

import glob
import hashlib
import os

import pyarrow as pa
import ray.data
from ray.data.block import BlockMetadata
from ray.data.datasource import Datasource, ReadTask

from .._errors import InvalidArgumentError


def _expand(paths_or_globs) -> list:
    """Local globs expanded (sorted, each must match); s3:// and plain paths kept as given."""
    if isinstance(paths_or_globs, (str, os.PathLike)):
        paths_or_globs = [paths_or_globs]
    paths = []
    for item in paths_or_globs:
        item = os.fspath(item)
        if item.startswith("s3://") or not glob.has_magic(item):
            paths.append(item if item.startswith("s3://") else os.path.abspath(item))
            continue
        matches = sorted(os.path.abspath(p) for p in glob.glob(item) if os.path.isfile(p))
        if not matches:
            raise InvalidArgumentError(f"dativo.ray.read_csv: no file matches {item!r}")
        paths.extend(matches)
    if not paths:
        raise InvalidArgumentError("dativo.ray.read_csv: no path given")
    return paths


def rejects_path_for(rejects_dir, path) -> str:
    """Where the read task of input `path` writes its rejected rows:
    `<rejects_dir>/<file name>-<12 hex digits of sha256(path)>.rejects.csv`. Deterministic,
    so a retried task rewrites its file instead of adding a second one, and unique per input
    (two `data.csv` in different folders get different names)."""
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:12]
    return os.path.join(os.path.abspath(rejects_dir), f"{os.path.basename(path)}-{digest}.rejects.csv")


def _read_file(path, options):
    """The read task's body (runs in a Ray worker): the file's batches as Arrow tables."""
    import dativo  # in the worker
    with dativo.read_csv(path, **options) as stream:
        for batch in stream:
            yield pa.Table.from_batches([batch])


class DativoCsvDatasource(Datasource):
    """CSV files read by dativo in Ray tasks, one task per file, with dativo's typing
    (`column_types`, inference), bad-row policy (`on_error`) and rejects (`rejects_dir`: one
    rejects file per input, see `rejects_path_for`). `options` are dativo.read_csv's (the keys
    of a job's `source.engine.options`). Opening checks the options and reads the first file's
    header on the driver, so a bad option or a missing file fails before any task runs."""

    def __init__(self, paths_or_globs, *, rejects_dir=None, **options):
        super().__init__()
        if "rejects_path" in options:
            raise InvalidArgumentError("dativo.ray.read_csv: use rejects_dir (one rejects file per input "
                                       "file, see dativo.ray.rejects_path_for), not rejects_path")
        if options.get("on_error") == "reject" and rejects_dir is None:
            raise InvalidArgumentError("dativo.ray.read_csv: on_error='reject' needs rejects_dir= "
                                       "(the folder of the per-file rejects files)")
        self._paths = _expand(paths_or_globs)
        self._options = dict(options)
        self._rejects_dir = rejects_dir
        if rejects_dir is not None:
            os.makedirs(rejects_dir, exist_ok=True)
        if not self._paths[0].startswith("s3://"):
            import dativo
            self._schema = dativo.infer_schema(self._paths[0], **self._task_options(self._paths[0]))
        else:
            self._schema = None

    def _task_options(self, path) -> dict:
        options = dict(self._options)
        if self._rejects_dir is not None and options.get("on_error") == "reject":
            options["rejects_path"] = rejects_path_for(self._rejects_dir, path)
        return options

    def get_name(self) -> str:
        return "DativoCSV"

    def estimate_inmemory_data_size(self):
        sizes = [os.path.getsize(p) for p in self._paths if not p.startswith("s3://")]
        return sum(sizes) if len(sizes) == len(self._paths) else None

    def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
        # One task per file, whatever `parallelism` asks: a file is the unit of typing, of
        # rejects and of retry.
        tasks = []
        for path in self._paths:
            size = None if path.startswith("s3://") else os.path.getsize(path)
            metadata = BlockMetadata(num_rows=None, size_bytes=size, input_files=[path], exec_stats=None)
            options = self._task_options(path)
            tasks.append(ReadTask(lambda p=path, o=options: _read_file(p, o), metadata,
                                  schema=self._schema, per_task_row_limit=per_task_row_limit))
        return tasks


def read_csv(paths_or_globs, *, rejects_dir=None, ray_remote_args=None, **options) -> "ray.data.Dataset":
    """A Ray Dataset of CSV files (paths, local globs; s3:// URLs as far as the engine reads
    them) read by dativo, one read task per file. See DativoCsvDatasource for the options;
    `ray_remote_args` go to ray.data.read_datasource."""
    source = DativoCsvDatasource(paths_or_globs, rejects_dir=rejects_dir, **options)
    return ray.data.read_datasource(source, **(ray_remote_args or {}))

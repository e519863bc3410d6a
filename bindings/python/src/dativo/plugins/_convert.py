"""What Python plugins hand over, turned into Arrow: lists of dicts are converted once,
Arrow data (pyarrow batches and tables, PyCapsule producers such as polars) is taken as is."""

from .._arrow import pyarrow


def batches_of(item, schema=None):
    """The record batches of one item a reader's extract() yielded (`schema`: the stream's,
    once known, so that later lists of dicts get the same types)."""
    pa = pyarrow()
    if isinstance(item, pa.RecordBatch):
        return [item]
    if isinstance(item, pa.Table):
        return item.to_batches()
    if isinstance(item, list):
        if not item:
            return []
        if all(isinstance(record, dict) for record in item):
            return [pa.RecordBatch.from_pylist(item, schema=schema)]
    elif hasattr(item, "__arrow_c_stream__"):
        return list(pa.RecordBatchReader.from_stream(item))
    elif hasattr(item, "__arrow_c_array__"):
        return [pa.record_batch(item)]
    raise TypeError(f"extract() yielded {type(item).__name__}: expected a list of dicts or "
                    "Arrow data (pyarrow RecordBatch or Table, or an object with "
                    "__arrow_c_stream__ / __arrow_c_array__)")


def record_batch_reader(items, schema=None):
    """A pyarrow RecordBatchReader over what extract() yields. Its schema is `schema` or the
    first batch's; the items are pulled lazily, as the reader is read."""
    pa = pyarrow()
    items = iter(items)
    first = []
    for item in items:
        first = batches_of(item, schema)
        if first:
            break
    if not first:
        return pa.RecordBatchReader.from_batches(schema or pa.schema([]), [])
    schema = schema or first[0].schema

    def rest():
        yield from first
        for item in items:
            yield from batches_of(item, schema)

    return pa.RecordBatchReader.from_batches(schema, rest())


def to_reader(data):
    """Any Arrow data (a batch, a table, a stream, a list of dicts) as a RecordBatchReader."""
    pa = pyarrow()
    if isinstance(data, pa.RecordBatchReader):
        return data
    if hasattr(data, "__arrow_c_stream__") and not isinstance(data, pa.RecordBatch):
        return pa.RecordBatchReader.from_stream(data)
    return record_batch_reader([data])

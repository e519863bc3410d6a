"""Python writer plugins used by the tests: they write JSON lines files."""

import json
import os

import pyarrow as pa

from dativo.plugins import BaseWriter


class JsonLinesWriter(BaseWriter):
    """Dativo style: gets lists of dicts, returns file metadata, commits at the end."""

    def write_batch(self, records, file_counter):
        os.makedirs(self.output_base, exist_ok=True)
        path = os.path.join(self.output_base, f".part-{file_counter}.jsonl.tmp")
        with open(path, "w") as f:
            for record in records:
                f.write(json.dumps(record, default=str) + "\n")
        return [{"path": path, "record_count": len(records)}]

    def commit_files(self, file_metadata):
        for meta in file_metadata:  # make the files visible only now
            final = meta["path"].replace(".part-", "part-").replace(".tmp", "")
            os.rename(meta["path"], final)
            meta["path"] = final
        return {"status": "success", "files_added": len(file_metadata)}


class ArrowCountingWriter(BaseWriter):
    """accepts_arrow: gets pyarrow RecordBatches; writes one summary file at commit."""

    accepts_arrow = True

    def __init__(self, asset_definition, target_config, output_base):
        super().__init__(asset_definition, target_config, output_base)
        self.batches = []

    def write_batch(self, records, file_counter):
        assert isinstance(records, pa.RecordBatch)
        self.batches.append(records)
        return []

    def commit_files(self, file_metadata):
        os.makedirs(self.output_base, exist_ok=True)
        path = os.path.join(self.output_base, "summary.json")
        table = pa.Table.from_batches(self.batches)
        with open(path, "w") as f:
            json.dump({"rows": table.num_rows, "columns": table.schema.names,
                       "asset": self.asset_definition.name}, f)
        file_metadata.append({"path": path, "rows": table.num_rows})
        return {"status": "success"}


class FailingWriter(BaseWriter):
    def write_batch(self, records, file_counter):
        raise ValueError("disk quota exceeded")


class NoPathWriter(BaseWriter):
    def write_batch(self, records, file_counter):
        return [{"size_bytes": 1}]

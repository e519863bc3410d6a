"""A datasink that kills its Ray worker process on the first attempt of chosen tasks, for
test_ray.py's retry test. A module of its own so that the workers import it by name (the
cluster's PYTHONPATH has this folder); a marker file per kill makes it happen once."""

import os

from dativo.ray import DativoParquetDatasink


def _first_time(markers, name) -> bool:
    try:
        fd = os.open(os.path.join(markers, name), os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return False
    os.close(fd)
    return True


class KillingDatasink(DativoParquetDatasink):
    def __init__(self, path, markers, kill_mid_write, kill_after_stage, **options):
        super().__init__(path, **{"max_rows_per_file": 10, **options})
        self.markers = markers
        self.kill_mid_write = kill_mid_write
        self.kill_after_stage = kill_after_stage

    def write(self, blocks, ctx):
        if ctx.task_idx == self.kill_mid_write:
            blocks = self._dying_after_first(blocks)
        staged = super().write(blocks, ctx)
        if ctx.task_idx == self.kill_after_stage and staged and _first_time(self.markers, f"after-stage-{ctx.task_idx}"):
            os._exit(1)
        return staged

    def _dying_after_first(self, blocks):
        for i, block in enumerate(blocks):
            if i == 1 and _first_time(self.markers, "mid-write-0"):
                os._exit(1)
            yield block
        if _first_time(self.markers, "mid-write-0"):
            # One block only: die after it was written, before staging.
            os._exit(1)


def dying_unit(markers, kill_mid_unit, kill_after_stage):
    """A unit function for dativo.ray.run_job whose first attempt of unit `kill_mid_unit` dies
    while the library is reading and writing it (a thread exits the process 50 ms in), and
    whose first attempt of unit `kill_after_stage` dies after its files were staged (the
    result never reaches the driver)."""
    import json
    import threading

    from dativo.ray import run_unit

    def unit(config, task_json):
        index = json.loads(task_json)["index"]
        if index == kill_mid_unit and _first_time(markers, f"mid-unit-{index}"):
            threading.Timer(0.05, lambda: os._exit(1)).start()
            run_unit(config, task_json)
            os._exit(1)  # finished before the timer: still die before reporting
        outcome = run_unit(config, task_json)
        if index == kill_after_stage and _first_time(markers, f"after-stage-{index}"):
            os._exit(1)
        return outcome

    return unit

"""`python -m dativo.ray run --config job.yaml`: run a job on Ray (what `dativo run --engine ray`
starts). Prints the report as JSON on stdout, or with `--result FILE` writes
`{"report": {...}}` or `{"error": {"status": N, "message": "..."}}` there for the CLI, which
prints it as a local run's.
"""

import argparse
import json
import sys

from .._errors import DativoError
from ._job import run_job


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dativo.ray", description="dativo jobs on a Ray cluster")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a job file with one Ray task per unit")
    run.add_argument("--config", required=True, help="the job file (YAML)")
    run.add_argument("--address", help="the Ray cluster (default: Ray's, e.g. RAY_ADDRESS)")
    run.add_argument("--full-refresh", action="store_true")
    run.add_argument("--reset-state", action="store_true")
    run.add_argument("--result", help="write the report or the error here as JSON")
    args = parser.parse_args(argv)

    try:
        result = {"report": run_job(args.config, address=args.address, full_refresh=args.full_refresh,
                                    reset_state=args.reset_state)}
        code = 0
    except DativoError as error:
        result = {"error": {"status": error.status, "message": error.message}}
        code = 1
    if args.result:
        with open(args.result, "w") as out:
            json.dump(result, out)
    elif code == 0:
        print(json.dumps(result["report"], indent=2))
    else:
        print(f"error: {result['error']['message']}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())

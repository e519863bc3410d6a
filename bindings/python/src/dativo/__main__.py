"""`python -m dativo run --config job.yaml`: run a job, Python plugins included.

Prints the run report as one JSON object on stdout; on failure prints the error (with its
status) on stderr and exits with 1 (2 for a usage error).
"""

import argparse
import dataclasses
import json
import sys

from . import DativoError, __version__, run_job


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dativo",
                                     description="dativo from Python: run jobs whose readers "
                                                 "or writers may be Python plugins.")
    parser.add_argument("--version", action="version", version=f"dativo {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a job file")
    run.add_argument("--config", required=True, help="the job file (YAML)")
    args = parser.parse_args(argv)

    try:
        report = run_job(args.config)
    except DativoError as error:
        print(f"dativo: {type(error).__name__} (status {error.status}): {error.message}",
              file=sys.stderr)
        return 1
    print(json.dumps(dataclasses.asdict(report), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""hpa-report RUN [RUN ...] --out DIR [--external MODEL.json RANDOM.json]
(also: python3 -m hpa_analysis report ...)"""
import argparse
import json
import sys

from .report import write_report
from .runs import RunError


def _add_report_arguments(parser):
    parser.add_argument("runs", nargs="+", help="run directories written by hpa-train")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--external", nargs=2, metavar=("MODEL_JSON", "RANDOM_JSON"),
                        help="hpa-stats --json files of an external model and of a random init of its architecture")


def _report(args):
    try:
        index = write_report(args.runs, args.out, args.external)
    except (RunError, OSError, json.JSONDecodeError, KeyError) as error:
        print(f"hpa-report: error: {error}", file=sys.stderr)
        return 1
    print(f"report: {index}")
    return 0


def report_main(argv=None):
    """The console command hpa-report."""
    parser = argparse.ArgumentParser(
        prog="hpa-report",
        description="Figures as the paper draws them, statistics and a page per run, from hpa run directories.")
    _add_report_arguments(parser)
    return _report(parser.parse_args(argv))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m hpa_analysis",
                                     description="Figures and statistics from hpa run directories.")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_report_arguments(commands.add_parser("report", help="all figures the runs support, statistics and pages"))
    return _report(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

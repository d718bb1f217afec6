"""python3 -m hpa_analysis report RUN [RUN ...] --out DIR [--external MODEL.json RANDOM.json]"""
import argparse
import json
import sys

from .report import write_report
from .runs import RunError


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m hpa_analysis",
                                     description="Figures and statistics from hpa run directories.")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="all figures the runs support, statistics and an index")
    report.add_argument("runs", nargs="+", help="run directories written by hpa-train")
    report.add_argument("--out", required=True, help="output folder (created)")
    report.add_argument("--external", nargs=2, metavar=("MODEL_JSON", "RANDOM_JSON"),
                        help="hpa-stats --json files of an external model and of a random init of its architecture")
    args = parser.parse_args(argv)
    try:
        index = write_report(args.runs, args.out, args.external)
    except (RunError, OSError, json.JSONDecodeError, KeyError) as error:
        print(f"hpa_analysis: error: {error}", file=sys.stderr)
        return 1
    print(f"report: {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""hpa-report [RUN ...] [--claim ROLE=RUN ...] --out DIR [--external MODEL.json RANDOM.json]
(also: python3 -m hpa_analysis report ...)"""
import argparse
import json
import sys

from .claims import ROLES
from .report import write_report
from .runs import RunError


def _claim(text):
    role, _, path = text.partition("=")
    if role not in ROLES or not path:
        raise argparse.ArgumentTypeError(f"'{text}' is not ROLE=RUN with ROLE one of {', '.join(ROLES)}")
    return role, path


def _add_report_arguments(parser):
    parser.add_argument("runs", nargs="*", help="run directories written by hpa-train")
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--external", nargs=2, metavar=("MODEL_JSON", "RANDOM_JSON"),
                        help="hpa-stats --json files of an external model and of a random init of its architecture")
    parser.add_argument("--claim", type=_claim, action="append", default=[], metavar="ROLE=RUN",
                        help="a run in the reproduction of docs/reproduction.md (ROLE: " + ", ".join(ROLES) +
                             "); writes reproduction.md with the claim table. Repeat for each role")
    parser.add_argument("--data-label", help="what the data is, printed in reproduction.md's tables "
                                             "(default: the runs' dataset format)")


def _report(parser, args):
    roles = [role for role, _ in args.claim]
    if len(set(roles)) != len(roles):
        parser.error(f"--claim: role {max(roles, key=roles.count)} given twice")
    if not args.runs and not args.claim:
        parser.error("give at least one run directory or --claim ROLE=RUN")
    try:
        index = write_report(args.runs, args.out, args.external, dict(args.claim), args.data_label)
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
    return _report(parser, parser.parse_args(argv))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m hpa_analysis",
                                     description="Figures and statistics from hpa run directories.")
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="all figures the runs support, statistics and pages")
    _add_report_arguments(report)
    return _report(report, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())

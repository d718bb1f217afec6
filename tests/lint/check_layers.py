#!/usr/bin/env python3
"""The layers the build enforces (docs/architecture.md), checked with each library's own flags.

First, the rooms' imports: every `#include "ROOM/..."` in src/ROOM2/ must be one ROOMS allows.
Then, for every library and program under src/ the compile command CMake exported
(compile_commands.json) is replayed on a one-line file that includes mpi.h, then hdf5.h. Only
comm/ (hpa_comm) and store/ (hpa_store) may compile `#include <mpi.h>`; only store/ may compile
`#include <hdf5.h>`. The two allowed rooms are also required to compile them, so a probe that
fails for another reason (a broken command line) cannot pass as a layer that holds.

usage: check_layers.py BUILD_DIR
"""
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

SEES = {"mpi.h": {"hpa_comm", "hpa_store"}, "hdf5.h": {"hpa_store"}}
# What each room of src/ may include from the others (docs/architecture.md); apps/ and bench/ may
# include any room.
ROOMS = {
    "common": set(),
    "cli": {"common"},
    "formats": {"common"},
    "image": {"common"},
    "comm": {"common"},
    "models": {"common"},
    "store": {"common", "comm"},
    "data": {"common", "image", "store"},
    "stats": {"common", "store"},
    "experiment": {"common", "cli", "data", "models", "store"},
    "train": {"common", "cli", "comm", "data", "experiment", "models", "stats", "store"},
    "reinit": {"common", "cli", "comm", "data", "experiment", "models", "stats", "store"},
    "pack": {"common", "cli", "data", "image", "store"},
}
# Programs and libraries outside the layer rule: the dependency probe links every library directly.
EXEMPT = {"hpa-deps-probe"}


def targets(build_dir):
    """One compile command per target under src/ (not the benchmarks): {target: argv}."""
    found = {}
    for entry in json.loads((build_dir / "compile_commands.json").read_text()):
        argv = shlex.split(entry["command"]) if "command" in entry else entry["arguments"]
        out = argv[argv.index("-o") + 1]
        m = re.match(r"src/CMakeFiles/([^/]+)\.dir/", out)
        if m and m.group(1) not in EXEMPT:
            found.setdefault(m.group(1), argv)
    return found


def probe_command(argv):
    """The compiler with the target's include paths, macros and language flags; no pch, no output."""
    keep, i = [argv[0]], 1
    while i < len(argv):
        a = argv[i]
        if a in ("-isystem", "-I", "-D", "-iquote"):
            keep += [a, argv[i + 1]]
            i += 2
            continue
        if a.startswith(("-I", "-D", "-std=", "-isystem")) or a == "-fopenmp":
            keep.append(a)
        i += 1
    return keep + ["-fsyntax-only", "-x", "c++", "-"]


def compiles(cmd, header):
    r = subprocess.run(cmd, input=f"#include <{header}>\n", text=True, capture_output=True)
    return r.returncode == 0


def import_violations(src):
    """`room/file: includes other/...` for every include a room may not make; unknown rooms too."""
    bad = []
    for room_dir in sorted(p for p in src.iterdir() if p.is_dir()):
        room = room_dir.name
        if room in ("apps", "bench"):
            continue
        if room not in ROOMS:
            bad.append(f"src/{room}/ is no room of check_layers.ROOMS (add it, with what it may include)")
            continue
        for source in sorted(room_dir.rglob("*.[ch]pp")):
            for line in source.read_text().splitlines():
                m = re.match(r'\s*#\s*include\s+"([a-z_]+)/', line)
                if m and m.group(1) != room and m.group(1) not in ROOMS[room]:
                    bad.append(f"{source.relative_to(src.parent)} includes {m.group(1)}/ "
                               f"({room}/ may include {', '.join(sorted(ROOMS[room])) or 'no other room'})")
    return bad


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build_dir = Path(sys.argv[1])
    imports = import_violations(Path(__file__).resolve().parents[2] / "src")
    for line in imports:
        print(f"check_layers: {line}", file=sys.stderr)
    found = targets(build_dir)
    for must in ("hpa_comm", "hpa_store", "hpa_models", "hpa_train", "hpa_reinit"):
        if must not in found:
            sys.exit(f"check_layers: no compile command for {must} in {build_dir}/compile_commands.json")
    bad = []
    for target, argv in sorted(found.items()):
        cmd = probe_command(argv)
        for header, allowed in SEES.items():
            ok = compiles(cmd, header)
            if ok != (target in allowed):
                verb = "compiles" if ok else "does not compile"
                bad.append(f"{target} {verb} #include <{header}> (allowed only in {', '.join(sorted(allowed))})")
        print(f"{target}: checked")
    for line in bad:
        print(f"check_layers: {line}", file=sys.stderr)
    if bad or imports:
        sys.exit(1)
    print(f"check_layers: {len(found)} targets keep the layers")


if __name__ == "__main__":
    main()

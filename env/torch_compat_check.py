"""Syntax-checks each entry of a compile_commands.json with other LibTorch headers (env/torch-compat.sh).

The precompiled header is dropped, so every file must include what it uses; -Werror is dropped,
since newer headers bring deprecation warnings of their own."""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys


def rewrite(command, file, args):
    words = shlex.split(command)
    out, skip = [words[0], "-isystem", args.torch_include], False
    for inc in args.include:
        out += ["-isystem", inc]
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if word in ("-o", "-include"):
            skip = True  # the object file, the precompiled header
        elif word in ("-c", "-Werror", "-Winvalid-pch", "-g", file) or word.startswith("-std="):
            pass
        elif word.endswith("/torch/csrc/api/include"):
            out.append(os.path.join(args.torch_include, "torch/csrc/api/include"))
        else:
            out.append(word)
    return out + ["-D" + d for d in args.define] + ["-std=" + args.std, "-fsyntax-only", file]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--compile-commands", required=True)
    parser.add_argument("--torch-include", required=True)
    parser.add_argument("--std", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--include", action="append", default=[])
    parser.add_argument("--define", action="append", default=[])
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--filter", default="", help="only files whose path matches this regex")
    args = parser.parse_args()
    entries = [e for e in json.load(open(args.compile_commands))
               if not e["file"].endswith(".cxx") and "/CMakeFiles/" not in e["file"]
               and re.search(args.filter, e["file"])]
    os.makedirs(args.log, exist_ok=True)
    root = os.path.commonpath([e["file"] for e in entries])

    def check(entry):
        command = rewrite(entry["command"], entry["file"], args)
        done = subprocess.run(command, cwd=entry["directory"], capture_output=True, text=True)
        return entry["file"], done.returncode, done.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for file, code, err in pool.map(check, entries):
            name = os.path.relpath(file, root)
            log = os.path.join(args.log, name.replace("/", "_") + ".err")
            if code:
                failed += 1
                with open(log, "w") as f:
                    f.write(err)
                first = next((l for l in err.splitlines() if "error" in l), err.strip()[:200])
                print(f"FAIL {name}: {first}", flush=True)
            else:
                print(f"ok   {name}", flush=True)
    print(f"{len(entries) - failed} of {len(entries)} files compile", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Runs COMMAND in a private mount namespace in which this machine's MPI (Open MPI and what it loads:
# PMIx, hwloc, libevent, libfabric, UCX, PSM), HDF5, Boost, GoogleTest, libjpeg/libjpeg-turbo and
# libpng are gone: libraries, headers, CMake and pkg-config files, programs (with the alternatives
# links that point at them) and /etc/openmpi. Only a bundle brought along can then satisfy them, as
# on a GPU machine that has none of them (env.offline_build runs the offline build and the device
# check's rehearsal in here).
#   tests/env/hide_host_deps.sh [--keep-for-libtorch LIBTORCH_SO:BUNDLE_DIR] COMMAND [ARG...]
# How: each hidden path gets an overlayfs whiteout in a read-only overlay over /usr and one over
# /etc/alternatives, and an empty read-only tmpfs covers /etc/openmpi, mounted in a new mount
# namespace only; the host's files are not touched, and the mounts end with the namespace. Needs root.
# Runtime libraries that the host's own LibTorch (the stand-in for a pip LibTorch here) loads and
# that no bundled file provides under the same name stay visible (e.g. the serial HDF5 runtime that
# Debian's LibTorch is linked with); they are listed as "kept". hpa cannot reach them: their headers,
# link names and CMake files are hidden.
set -euo pipefail
keep_torch=""
if [[ ${1:-} == --keep-for-libtorch ]]; then keep_torch=${2:?--keep-for-libtorch needs a libtorch_cpu.so and a bundle folder}; shift 2; fi
(($#)) || { echo "usage: hide_host_deps.sh [--keep-for-libtorch LIBTORCH_CPU_SO:BUNDLE_DIR] COMMAND..." >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "hide_host_deps.sh: needs root (mount namespaces)" >&2; exit 2; }
layer=$(mktemp -d /tmp/hpa-hide.XXXXXX)
trap 'rm -rf "$layer"' EXIT

python3 - "$layer" "$keep_torch" <<'PY'
import os, re, stat, subprocess, sys
layer, keep_torch = sys.argv[1], sys.argv[2]
hide = re.compile(r"^(openmpi-.*|libopenmpi.*|mpi-default-.*|libpmix.*|libhwloc.*|libevent-.*|libfabric.*|libucx.*|"
                  r"libpsm.*|libhdf5-.*|hdf5-.*|libboost.*|libgtest-dev|googletest|libgmock-dev|libjpeg.*|"
                  r"libturbojpeg.*|libpng.*)$")
status = subprocess.run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Package}\n"], capture_output=True,
                        text=True, check=True).stdout
packages = sorted(p for s, p in (line.split() for line in status.splitlines()) if s == "ii" and hide.match(p.split(":")[0]))

def real(path):  # /lib/x86_64-linux-gnu/x -> /usr/lib/x86_64-linux-gnu/x (merged /usr), the file itself kept
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))

files = set()
for package in packages:
    listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout.split("\n")
    for path in listing:
        if path.startswith("/") and (os.path.islink(path) or os.path.isfile(path)):
            files.add(real(path))

kept = set()
if keep_torch:  # what the host's LibTorch loads from the hidden set that the bundle cannot replace
    torch_so, bundle = keep_torch.split(":", 1)
    bundled = set()
    for deb in os.listdir(bundle):
        if deb.endswith(".deb"):
            listing = subprocess.run(["dpkg-deb", "-c", os.path.join(bundle, deb)], capture_output=True, text=True).stdout
            bundled.update(os.path.basename(line.split()[5]) for line in listing.splitlines() if len(line.split()) > 5)
    ldd = subprocess.run(["ldd", torch_so], capture_output=True, text=True).stdout
    for name, path in re.findall(r"^\s*(\S+) => (/\S+)", ldd, re.M):
        path = real(path)
        if path in files and name not in bundled:
            kept.update({path, os.path.realpath(path)})  # the soname link and its file, no link name
    files -= kept

# Alternatives and other links that lead into the hidden files (/usr/bin/mpirun, /etc/alternatives/mpi...).
targets = {os.path.realpath(f) for f in files if not os.path.islink(f)}
for folder in ["/usr/bin", "/etc/alternatives", "/usr/include", "/usr/lib/x86_64-linux-gnu",
               "/usr/lib/x86_64-linux-gnu/pkgconfig"]:
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if os.path.islink(path) and os.path.realpath(path) in targets:
            files.add(path)

# A folder all of whose files are hidden goes whole (/usr/include/boost, Open MPI's lib folder, ...).
def all_hidden(folder):  # stops at the first file that is not hidden
    for root, dirs, names in os.walk(folder):
        links = [d for d in dirs if os.path.islink(os.path.join(root, d))]
        dirs[:] = [d for d in dirs if d not in links]
        if any(os.path.join(root, n) not in files for n in names + links):
            return False
    return True

ancestors = {a for f in files for a in [f.rsplit("/", k)[0] for k in range(1, f.count("/"))]}
whole = set()
for folder in sorted(a for a in ancestors if a.count("/") >= 3):  # below /usr/<x>/
    if not any(folder.startswith(w + "/") for w in whole) and all_hidden(folder):
        whole.add(folder)
files = {f for f in files if not any(f.startswith(w + "/") for w in whole)} | whole
# A whiteout (character device 0/0) per hidden path under /usr and /etc/alternatives; /etc/openmpi
# is covered whole. Anything else would not be hidden: refuse rather than pretend.
os.makedirs(os.path.join(layer, "usr"))
os.makedirs(os.path.join(layer, "etc/alternatives"))
hidden = []
for path in sorted(files):
    if path.startswith("/etc/openmpi/"):
        continue
    if not (path.startswith("/usr/") or path.startswith("/etc/alternatives/")):
        sys.exit(f"hide_host_deps.sh: cannot hide {path} (only /usr, /etc/alternatives and /etc/openmpi)")
    target = os.path.join(layer, path.lstrip("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.mknod(target, stat.S_IFCHR | 0o600, os.makedev(0, 0))
    hidden.append(path)
with open(os.path.join(layer, "hidden.txt"), "w") as out:
    out.write("\n".join(hidden) + "\n")
print(f"hide_host_deps.sh: {len(packages)} packages, {len(hidden)} paths and /etc/openmpi hidden"
      + (f"; kept for the host's LibTorch: {', '.join(sorted(os.path.basename(k) for k in kept))}"
         if kept else ""), file=sys.stderr)
PY

# The new namespace: overlays with the whiteouts on top, checked, then COMMAND.
set +e
# shellcheck disable=SC2016  # the script's variables are the inner shell's
unshare --mount --propagation private bash -c '
  set -e
  layer=$1; shift
  mount -t overlay hpa-hide-usr -o "lowerdir=$layer/usr:/usr" /usr
  mount -t overlay hpa-hide-alternatives -o "lowerdir=$layer/etc/alternatives:/etc/alternatives" /etc/alternatives
  if [[ -d /etc/openmpi ]]; then mount -t tmpfs -o ro,size=4k hpa-hide-openmpi /etc/openmpi; fi
  while read -r path; do
    if [[ -e $path || -L $path ]]; then echo "hide_host_deps.sh: $path is still visible" >&2; exit 2; fi
  done <"$layer/hidden.txt"
  [[ -z $(ls -A /etc/openmpi 2>/dev/null) ]] || { echo "hide_host_deps.sh: /etc/openmpi is still visible" >&2; exit 2; }
  set +e
  "$@"
' hide "$layer" "$@"
exit $?

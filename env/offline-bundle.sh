#!/usr/bin/env bash
# Makes the dependency bundle for a machine without network (e.g. a GPU node that has CUDA, a pip
# PyTorch and a compiler, but no MPI, HDF5 or Boost): the Debian 12 packages hpa needs beyond
# LibTorch, fetched here with `apt-get download` (a private apt state; the host's apt is untouched).
#   env/offline-bundle.sh [DIR]          (default .deps/offline-bundle, ignored by git)
# DIR then holds the .deb files and MANIFEST (package, version, sha256). Copy DIR to the other
# machine and run env/build-offline.sh there; it unpacks into a private prefix, never into /.
# The runtime libraries are bundled down to a base every Debian/Ubuntu system has (glibc, libstdc++,
# zlib, OpenSSL, ...); env/build-offline.sh --check-closure verifies that no other library is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.deps/offline-bundle}
packages=(
  # build: headers, CMake configs, compiler wrappers
  libopenmpi-dev openmpi-bin openmpi-common libhdf5-openmpi-dev libhdf5-dev
  libboost1.74-dev libboost-program-options1.74-dev libgtest-dev libjpeg62-turbo-dev
  libturbojpeg0-dev libpng-dev zlib1g-dev
  # run: Open MPI and what its core libraries load
  libopenmpi3 libpmix2 libhwloc15 libevent-core-2.1-7 libevent-pthreads-2.1-7 libevent-2.1-7 libfabric1
  libucx0 libibverbs1 librdmacm1 libpsm2-2 libpsm-infinipath1 libnl-3-200 libnl-route-3-200 libnuma1
  libmunge2 libltdl7 ibverbs-providers
  # run: HDF5 and its compression and URL libraries
  libhdf5-openmpi-103-1 libaec0 libsz2 libcurl4 libnghttp2-14 libpsl5 librtmp1 libssh2-1
  libldap-2.5-0 libsasl2-2 libsasl2-modules-db libbrotli1 libgssapi-krb5-2 libkrb5-3 libk5crypto3
  libkrb5support0
  # run: options, images
  libboost-program-options1.74.0 libturbojpeg0 libjpeg62-turbo libpng16-16
)
limit_mb=40
source env/lib/apt_private.sh
apt_private_init "$PWD/.deps/apt-bookworm" "bookworm bookworm-updates http://deb.debian.org/debian-security:bookworm-security" "main"
apt_private_fetch "$out" "${packages[@]}"
(
  cd "$out"
  : >MANIFEST
  for deb in *.deb; do
    printf '%s %s %s\n' "$(dpkg-deb -f "$deb" Package)" "$(dpkg-deb -f "$deb" Version)" \
      "$(sha256sum "$deb" | cut -d' ' -f1)" >>MANIFEST
  done
)
count=$(find "$out" -maxdepth 1 -name "*.deb" | wc -l)
size_mb=$(du -cm "$out"/*.deb | tail -1 | cut -f1)
echo "offline-bundle: $count packages, $size_mb MB in $out"
if ((count != ${#packages[@]})); then
  echo "offline-bundle: expected ${#packages[@]} packages, found $count in $out (stale files?)" >&2
  exit 1
fi
if ((size_mb > limit_mb)); then
  echo "offline-bundle: $size_mb MB is over the $limit_mb MB budget" >&2
  exit 1
fi

# shellcheck shell=bash
# Sourced by env scripts: `apt-get download` from any Debian suite with a private apt state (lists,
# cache, sources) under one folder, so the host's /etc/apt and /var/lib/apt are never touched.
# Usage: apt_private_init DIR "bookworm trixie ..." "main contrib ..."; then apt_private get|cache ARGS.
# A suite written as URL:SUITE comes from that archive (e.g. the security archive).

apt_private_init() {
  local dir=$1 suites=$2 components=$3 suite
  APT_PRIVATE_DIR=$dir
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  : >"$dir/sources.list"
  : >"$dir/status"  # nothing counts as installed: candidates never depend on the host
  for suite in $suites; do
    if [[ $suite == http* ]]; then
      echo "deb ${suite%:*} ${suite##*:} $components" >>"$dir/sources.list"
    else
      echo "deb http://deb.debian.org/debian $suite $components" >>"$dir/sources.list"
    fi
  done
  # Lists are fetched once a day at most.
  if [[ -z $(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 -print -quit) ]]; then
    apt_private get update -qq
  fi
}

apt_private() {
  local tool=$1
  shift
  "apt-$tool" -o Dir::Etc::SourceList="$APT_PRIVATE_DIR/sources.list" -o Dir::Etc::SourceParts=/nonexistent \
    -o Dir::State::Lists="$APT_PRIVATE_DIR/lists" -o Dir::Cache="$APT_PRIVATE_DIR/cache" \
    -o Dir::State::status="$APT_PRIVATE_DIR/status" \
    -o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}

# apt_private_fetch OUTDIR PACKAGE[=VERSION]...: the .deb files, kept if already there.
apt_private_fetch() {
  local out=$1 spec name
  shift
  mkdir -p "$out"
  for spec in "$@"; do
    name=${spec%%=*}
    compgen -G "$out/${name}_*.deb" >/dev/null && continue
    (cd "$out" && apt_private get download -qq "$spec")
  done
}

#!/usr/bin/env bash
# The JMH microbenchmarks alone (bench/run.sh runs them too, before its servers start): builds
# bench/jmh/target/ocimirror-jmh.jar (Maven profile jmh), times sha256sum and openssl on a
# page-cached file, runs every benchmark pinned to CPU $SERVER_CPU (0), prints the Markdown and
# saves it as bench/results/<date>-<host>-jmh.md, JMH's JSON and the hashers' times beside it. About 3 minutes.
#
# Knobs (environment):
#   QUICK=1        very short iterations (about 1 minute; the file is then named ...-jmh-quick.md)
#   JMH_ARGS=...   extra JMH options or a benchmark regex, e.g. JMH_ARGS=RouteBench
#   HASH_MIB=256   size of the file sha256sum and openssl hash (64 with QUICK=1)
#   SKIP_BUILD=1   use the jar already built
#   SERVER_CPU=0   the CPU everything is pinned to
#   NOTE="..."     a line added to the results file
#   KEEP=1         keep the working directory (JMH's log, the raw numbers)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=lib/jmh.sh
source "$BENCH_DIR/lib/jmh.sh"

main() {
  command -v taskset >/dev/null 2>&1 || die "taskset is missing (apt-get install -y util-linux)"
  build_jmh
  WORK=$(mktemp -d /tmp/ocimirror-jmh.XXXXXX)
  trap '[[ ${KEEP:-0} == 1 ]] && log "kept $WORK" || rm -rf "$WORK"' EXIT
  {
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host=$(hostname)"
    echo "nproc=$(nproc)"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "kernel=$(uname -r)"
    echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "java=$(java -version 2>&1 | sed -n 2p)"
    echo "ocimirror=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "note=${NOTE:-}"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
  } >"$WORK/facts"
  jmh_all "$WORK"
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/facts"
  mkdir -p "$BENCH_DIR/results"
  local out suffix=""
  if [[ ${QUICK:-0} == 1 ]]; then suffix=-quick; fi # quick runs are not committed (.gitignore)
  out="$BENCH_DIR/results/$(date +%Y-%m-%d-%H%M)-$(hostname -s)-jmh$suffix.md"
  python3 "$BENCH_DIR/lib/jmh_report.py" "$WORK" --title >"$out"
  cp "$WORK/jmh.json" "${out%.md}.json"
  cp "$WORK/hashref.tsv" "${out%.md}.hashref.tsv"
  cat "$out"
  log "results: $out"
}

main "$@"

#!/usr/bin/env bash
# Benchmarks ocimirror side by side with nginx (static files, sendfile: the practical limit) and
# CNCF distribution (directly and as a pull-through proxy), all on 127.0.0.1 on this machine:
# the servers pinned to CPU 0, the load generators (wrk, curl, a Python idle-connection
# holder) and the upstream registry to CPU 1. Prints medians over the rounds and the ratios to
# nginx and to distribution as Markdown, saved to bench/results/<date>-<host>.md.
#
# Knobs (environment):
#   ROUNDS=3       rounds; targets are alternated (rotated) from one round to the next
#   DURATION=10    seconds per wrk run
#   W2_WARMUP=3    seconds of unrecorded manifest GETs before each measured W2 run
#   W2_FIRST_WARMUP=20  the same before a target's first W2 run, in 4 wrk runs (JIT compile time, once per process)
#   BLOB_MIB=256   size of the blob (and of each fresh blob of W3 and of the first W5 cold one)
#   W5_CONNECTIONS=20000  GETs on new connections before W5 hot's recorded samples (for at most W5_CONNECTIONS_MAX_S=6 s)
#   W5_COLD_SAMPLES=5  cold GETs per proxy and round for W5 cold (the first BLOB_MIB, the rest 1 MiB)
#   IDLE_CONNS=10000  idle keep-alive connections held in W6
#   BIG_MIB=1024   W4 big: each target's peak RSS before and after one blob of this size
#   BIG=0          skip W4 big
#   STARTUP_BLOBS=100000  start-up to the first served request with this many blobs stored
#   STARTUP=0      skip the start-up step
#   QUICK=1        a smoke run: 1 round, 3 s, a 32 MiB blob, 2000 idle connections, a 128 MiB big
#                  blob, 20 000 blobs for the start-up, 5 000 new connections before W5 hot
#   TLS=0          skip the TLS rows
#   JMH=0          skip the JMH microbenchmarks (run first, before any server starts; about 3
#                  minutes, 1 with QUICK=1; bench/jmh.sh runs them alone; JMH_ARGS, HASH_MIB there)
#   SKIP_BUILD=1   use the jar already built (server/target/ocimirror.jar, or OCIMIRROR_JAR)
#   KEEP=1         keep the working directory (configs, logs, raw numbers) after the run
#   NOTE="..."     a line added to the results file (e.g. what else ran on the machine)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
if [[ ${QUICK:-0} == 1 ]]; then
  : "${ROUNDS:=1}" "${DURATION:=3}" "${W2_FIRST_WARMUP:=5}" "${BLOB_MIB:=32}" "${IDLE_CONNS:=2000}" "${BIG_MIB:=128}" "${STARTUP_BLOBS:=20000}" "${W5_CONNECTIONS:=5000}"
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
BLOB_MIB=${BLOB_MIB:-256}
IDLE_CONNS=${IDLE_CONNS:-10000}
TLS=${TLS:-1}
JMH=${JMH:-1}
BIG=${BIG:-1}
BIG_MIB=${BIG_MIB:-1024}
STARTUP=${STARTUP:-1}
STARTUP_BLOBS=${STARTUP_BLOBS:-100000}

# shellcheck source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=lib/fixtures.sh
source "$BENCH_DIR/lib/fixtures.sh"
# shellcheck source=lib/targets.sh
source "$BENCH_DIR/lib/targets.sh"
# shellcheck source=lib/workloads.sh
source "$BENCH_DIR/lib/workloads.sh"
# shellcheck source=lib/jmh.sh
source "$BENCH_DIR/lib/jmh.sh"
# shellcheck source=lib/footprint.sh
source "$BENCH_DIR/lib/footprint.sh"

install_tools() {
  local -A package_of=([wrk]=wrk [h2load]=nghttp2-client [nginx]=nginx-light [docker-registry]=docker-registry
    [curl]=curl [openssl]=openssl [taskset]=util-linux [python3]=python3)
  local program missing=()
  for program in "${!package_of[@]}"; do
    command -v "$program" >/dev/null 2>&1 || missing+=("${package_of[$program]}")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    die "missing packages: ${missing[*]} (apt-get install -y ${missing[*]})"
  fi
}

build_jar() {
  if [[ -n ${OCIMIRROR_JAR:-} ]]; then
    [[ -f $OCIMIRROR_JAR ]] || die "OCIMIRROR_JAR=$OCIMIRROR_JAR does not exist"
  elif [[ ${SKIP_BUILD:-0} == 1 && -f $REPO_ROOT/server/target/ocimirror.jar ]]; then
    export OCIMIRROR_JAR=$REPO_ROOT/server/target/ocimirror.jar
  else
    # With JMH, one build makes both jars (the profile adds the bench/jmh module).
    local -a profile=()
    if [[ $JMH != 0 ]]; then profile=(-Pjmh); fi
    log "building ocimirror (mvn -q -B ${profile[*]} -DskipTests package)"
    (cd "$REPO_ROOT" && mvn -q -B "${profile[@]}" -DskipTests package) || die "the build failed"
    export OCIMIRROR_JAR=$REPO_ROOT/server/target/ocimirror.jar
    if [[ $JMH != 0 ]]; then JMH_BUILT=1; fi
  fi
  if [[ $JMH != 0 && ${JMH_BUILT:-0} != 1 ]]; then build_jmh; fi
}

# One round: every workload over every target, the target order rotated by the round number.
run_round() {
  local n=${#TARGETS[@]} i target
  local -a order=()
  for ((i = 0; i < n; i++)); do order+=("${TARGETS[$(((i + ROUND - 1) % n))]}"); done
  log "round $ROUND/$ROUNDS: ${order[*]}"
  for target in "${order[@]}"; do w1 "$target"; done
  for target in "${order[@]}"; do w2 "$target"; done
  for target in "${order[@]}"; do w5_hot "$target"; done
  for target in "${order[@]}"; do
    if [[ ${T_PROXY[$target]} == 1 ]]; then
      w5_cold "$target"
      w3 "$target"
    else
      w3_hot "$target"
    fi
  done
  for target in "${order[@]}"; do
    case $target in nginx | distribution | ocimirror) w6 "$target" ;; esac
  done
  w4
  # After W4: W4 big gives the targets one big blob (the W4 of later rounds includes it); the
  # start-up step runs servers of its own on the server CPU while the targets idle.
  if [[ $BIG == 1 ]]; then w4_big; fi
  if [[ $STARTUP == 1 ]]; then startup; fi
}

write_facts() {
  {
    echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host=$(hostname)"
    echo "nproc=$(nproc)"
    echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)"
    echo "kernel=$(uname -r)"
    echo "memory=$(free -g | awk '/^Mem:/ {print $2 " GiB"}')"
    echo "java=$(java -version 2>&1 | sed -n 2p)"
    echo "ocimirror=$("$REPO_ROOT/bin/ocimirror" --version 2>&1 | head -1) ($(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
    # the flags bin/ocimirror gave the JVM, as the running server shows them
    echo "jvm_flags=$(tr '\0' ' ' <"/proc/${T_PID[ocimirror]}/cmdline" | sed 's/^[^ ]* //; s/ -jar .*//')"
    echo "nginx=$(nginx -v 2>&1 | sed 's/^nginx version: //')"
    echo "distribution=$(docker-registry --version | awk '{print $NF}')"
    echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
    echo "curl=$(curl --version | head -1 | cut -d' ' -f1-2)"
    echo "openssl=$(openssl version)"
    echo "rounds=$ROUNDS"
    echo "duration=${DURATION}s"
    echo "w2_warmup=${W2_FIRST_WARMUP}s in 4 runs before a target's first W2 run, ${W2_WARMUP}s before the others"
    echo "blob=${BLOB_MIB} MiB"
    echo "w5_cold_samples=$W5_COLD_SAMPLES"
    echo "w5_connections=$W5_CONNECTIONS"
    echo "idle_conns=$IDLE_CONNS"
    if [[ $BIG == 1 ]]; then echo "big=${BIG_MIB} MiB"; fi
    if [[ $STARTUP == 1 ]]; then echo "startup_blobs=$STARTUP_BLOBS"; fi
    echo "note=${NOTE:-}"
    echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
    local target
    for target in "${TARGETS[@]}"; do
      [[ $target == *-tls ]] || continue
      echo "tls $target=$(target_curl "$target" -v -o /dev/null "${T_URL[$target]}/v2/" 2>&1 |
        sed -n 's/^\* SSL connection using //p')"
    done
  } >"$WORK/facts"
}

main() {
  install_tools
  build_jar
  ulimit -n "$(ulimit -Hn)" # W6: ten thousand sockets on each side
  WORK=$(mktemp -d /tmp/ocimirror-bench.XXXXXX)
  chmod 755 "$WORK"
  RAW=$WORK/raw.tsv
  : >"$RAW"
  trap 'stop_started; [[ ${KEEP:-0} == 1 ]] && log "kept $WORK" || rm -rf "$WORK"' EXIT
  trap 'exit 130' INT TERM
  log "working in $WORK (ROUNDS=$ROUNDS DURATION=${DURATION}s BLOB_MIB=$BLOB_MIB TLS=$TLS BIG=$BIG BIG_MIB=$BIG_MIB" \
    "STARTUP=$STARTUP STARTUP_BLOBS=$STARTUP_BLOBS)"
  # The microbenchmarks first, while no server runs; hashing is compared with sha256sum there.
  if [[ $JMH != 0 ]]; then jmh_all "$WORK/jmh"; fi
  ocimirror_detect_tls
  client_tls_prefs "$WORK/openssl-client.cnf"
  mkdir -p "$WORK/fixtures"
  make_fixtures "$WORK/fixtures"
  ROUND=0
  start_all
  write_facts
  for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do run_round; done
  echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/facts"
  mkdir -p "$BENCH_DIR/results"
  local out suffix=""
  if [[ ${QUICK:-0} == 1 ]]; then suffix=-quick; fi # smoke runs are not committed (.gitignore)
  out="$BENCH_DIR/results/$(date +%Y-%m-%d-%H%M)-$(hostname -s)$suffix.md"
  python3 "$BENCH_DIR/lib/report.py" "$WORK/facts" "$RAW" "${TARGETS[@]}" >"$out"
  cp "$RAW" "${out%.md}.tsv"
  if [[ $JMH != 0 ]]; then
    { echo; python3 "$BENCH_DIR/lib/jmh_report.py" "$WORK/jmh"; } >>"$out"
    cp "$WORK/jmh/jmh.json" "${out%.md}.jmh.json"
    cp "$WORK/jmh/hashref.tsv" "${out%.md}.hashref.tsv"
  fi
  cat "$out"
  log "results: $out"
}

main "$@"

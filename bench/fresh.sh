#!/usr/bin/env bash
# W7, a fresh replica: how a mirror that has just started serves, against the same process once
# warm. Each round starts a new ocimirror pull-through proxy over TLS (the upstream: a plain
# CNCF distribution on the load CPU; the proxy alone on the server CPU), waits until /readyz
# answers 200 (what a load balancer or kubelet waits for) and at once:
#   1. DURATION seconds of manifest GETs by tag, 64 keep-alive connections (the first is a miss)
#   2. its first cold BLOB_MIB blob (a fresh one in the upstream): time to first byte and total
# then serves what a replica in service serves (W2_FIRST_WARMUP seconds of the same GETs, as
# bench/run.sh's W2 does, then by digest, the cached blob, 5 000 new connections, three 1 MiB cold
# blobs) and repeats both as the warm reference; last, its resident set (VmRSS) and peak (VmHWM).
#
# Variants: each round runs every variant in VARIANTS (a space-separated list), alternating the
# order from one round to the next. A variant is a name for a `warmup` setting of the mirror's
# configuration: "off" (warmup: {enabled: false}) and "on" (the default). A build without the
# setting runs as "plain" (nothing added to the configuration).
#
# Knobs: ROUNDS=3 DURATION=10 BLOB_MIB=256 W2_FIRST_WARMUP=20 VARIANTS="off on" SKIP_BUILD=1
# KEEP=1 TLS=1 (0: plain HTTP); JAVA_OPTS=-XX:NativeMemoryTracking=summary saves each process's
# NMT summary at its end to /tmp/<variant>.nmt.<round>. Results: bench/results/<date>-<host>-fresh.md (and .tsv).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
BLOB_MIB=${BLOB_MIB:-256}
W2_FIRST_WARMUP=${W2_FIRST_WARMUP:-20}
VARIANTS=${VARIANTS:-off on}
TLS=${TLS:-1}
WARM_COLD=${WARM_COLD:-3}

# shellcheck source=lib/common.sh
source "$BENCH_DIR/lib/common.sh"
# shellcheck source=lib/fixtures.sh
source "$BENCH_DIR/lib/fixtures.sh"
# shellcheck source=lib/targets.sh
source "$BENCH_DIR/lib/targets.sh"
# shellcheck source=lib/workloads.sh
source "$BENCH_DIR/lib/workloads.sh"
# shellcheck source=lib/footprint.sh
source "$BENCH_DIR/lib/footprint.sh"

variant_config() {
  case $1 in
    off) echo "warmup: { enabled: false }" ;;
    on) echo "warmup: { enabled: true }" ;;
    plain) ;;
    *) die "unknown variant $1" ;;
  esac
}

# wait_ready NAME: until /readyz answers 200 (at most 120 s).
wait_ready() {
  local name=$1 code deadline=$((SECONDS + 120))
  while ((SECONDS < deadline)); do
    kill -0 "${T_PID[$name]}" 2>/dev/null || die "$name exited: $(tail -5 "$WORK/$name/stderr.log")"
    code=$(target_curl "$name" -o /dev/null -w '%{http_code}' --max-time 2 "${T_URL[$name]}/readyz" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.05
  done
  die "$name: not ready within 120 s"
}

manifest_run() {
  run_wrk "$1" 64 "/v2/$REPO/manifests/$TAG" -H "Accept: $ACCEPT"
  record "$1" "$2_rps" "$(calc 'r / (d / 1e6)' -v r="${WRK[requests]}" -v d="${WRK[duration_us]}")"
  record "$1" "$2_p99_ms" "$(calc 'p / 1000' -v p="${WRK[p99_us]}")"
  record "$1" "$2_errors" $((WRK[errors] + WRK[status_errors]))
}

cold_blob() {
  local first total pre
  fresh_upstream_blob
  read -r first total pre < <(ttfb "$1" "${T_URL[$1]}/v2/$REPO/blobs/$FRESH_DIGEST")
  record "$1" "$2_cold_ttfb_ms" "$(calc 'f * 1000' -v f="$first")"
  record "$1" "$2_cold_total_s" "$total"
}

one() {
  local variant=$1 name=fresh-$1 dir port t0 t1 opts="" part
  dir=$WORK/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  port=$(free_port)
  ocimirror_config "$dir" "$port" "$TLS" 1
  variant_config "$variant" >>"$dir/config.yaml"
  t0=$(now_ns)
  start_process "$name" "$SERVER_CPU" "$dir/stderr.log" "$REPO_ROOT/bin/ocimirror" serve --config "$dir/config.yaml"
  [[ $TLS == 1 ]] && opts=$(ocimirror_ca "$dir")
  local pid=$LAST_PID
  # the CA file exists once the server has started
  wait_http "$(scheme_of "$TLS")://127.0.0.1:$port/v2/" "$pid" ${opts:+--cacert "$dir/data/pki/ca.crt"}
  add_target "$name" "$pid" "$(scheme_of "$TLS")://127.0.0.1:$port" "$opts" 1
  wait_ready "$name"
  t1=$(now_ns)
  record "$name" ready_s "$(calc '(b - a) / 1e9' -v a="$t0" -v b="$t1")"
  manifest_run "$name" first
  cold_blob "$name" first
  # What a replica in service has been serving for a while, so that "warm" (and its memory) is a
  # steady state: manifests by tag and digest, the cached blob, new connections, cold blobs.
  for ((part = 0; part < 4; part++)); do
    DURATION=$(((W2_FIRST_WARMUP + 3) / 4)) run_wrk "$name" 64 "/v2/$REPO/manifests/$TAG" -H "Accept: $ACCEPT"
  done
  DURATION=3 run_wrk "$name" 64 "/v2/$REPO/manifests/$MANIFEST_DIGEST" -H "Accept: $ACCEPT"
  DURATION=3 run_wrk "$name" 8 "/v2/$REPO/blobs/$BLOB_DIGEST"
  on_load_cpu env WRK_CONNECTIONS=5000 wrk -t1 -c4 -d5s --timeout 10s -s "$BENCH_DIR/lib/wrk-connections.lua" \
    "${T_URL[$name]}/v2/$REPO/blobs/$CONFIG_DIGEST" >/dev/null 2>&1 || log "$name: the new-connection load failed"
  for ((part = 0; part < WARM_COLD; part++)); do BLOB_MIB=1 cold_blob "$name" warmup; done
  manifest_run "$name" warm
  cold_blob "$name" warm
  record "$name" rss_mib "$(awk '/^VmRSS:/ {print $2 / 1024}' "/proc/$pid/status")"
  record "$name" peak_rss_mib "$(calc 'k / 1024' -v k="$(peak_rss_kib "$pid")")"
  if [[ ${JAVA_OPTS:-} == *NativeMemoryTracking* ]]; then
    jcmd "$pid" VM.native_memory summary >"$WORK/$name.nmt.$ROUND" 2>&1 || true
    cp "$WORK/$name.nmt.$ROUND" "/tmp/$name.nmt.$ROUND"
  fi
  stop_pid "$pid"
}

main() {
  if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    (cd "$REPO_ROOT" && mvn -q -B -DskipTests package) || die "the build failed"
  fi
  export OCIMIRROR_JAR=${OCIMIRROR_JAR:-$REPO_ROOT/server/target/ocimirror.jar}
  WORK=$(mktemp -d /tmp/ocimirror-fresh.XXXXXX)
  chmod 755 "$WORK"
  RAW=$WORK/raw.tsv
  : >"$RAW"
  trap 'stop_started; [[ ${KEEP:-0} == 1 ]] && log "kept $WORK" || rm -rf "$WORK"' EXIT
  trap 'exit 130' INT TERM
  OCIMIRROR_TLS=1
  client_tls_prefs "$WORK/openssl-client.cnf"
  mkdir -p "$WORK/fixtures"
  make_fixtures "$WORK/fixtures"
  make_pki
  start_upstream
  # one start before the rounds: bin/ocimirror builds its class-data archive before its first serve
  "$REPO_ROOT/bin/ocimirror" serve --help >/dev/null
  local -a variants
  read -r -a variants <<<"$VARIANTS"
  local n=${#variants[@]} i
  for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    for ((i = 0; i < n; i++)); do
      one "${variants[$(((i + ROUND - 1) % n))]}"
    done
  done
  mkdir -p "$BENCH_DIR/results"
  local out
  out="$BENCH_DIR/results/$(date +%Y-%m-%d-%H%M)-$(hostname -s)-fresh"
  cp "$RAW" "$out.tsv"
  python3 "$BENCH_DIR/lib/fresh_report.py" "$RAW" "${NOTE:-}" >"$out.md"
  cat "$out.md"
  log "results: $out.md"
}

main "$@"

# shellcheck shell=bash
# Helpers shared by the benchmark: logging, processes we started (stopped by PID), ports,
# readiness, and the kernel's per-process accounting (/proc/<pid>/stat, /proc/<pid>/status).

SERVER_CPU=${SERVER_CPU:-0}   # the server under test runs alone on this CPU
LOAD_CPU=${LOAD_CPU:-1}       # load generators (and the upstream registry) run on this one

STARTED_PIDS=()

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Runs a command on the load generator's CPU, with the clients' TLS preferences.
on_load_cpu() { OPENSSL_CONF=${CLIENT_OPENSSL_CONF:-${OPENSSL_CONF:-}} taskset -c "$LOAD_CPU" "$@"; }

# The load generators (wrk, curl: OpenSSL) offer TLS 1.3 AES-128-GCM first, as Go clients
# (containerd, Docker, skopeo) do on CPUs with AES instructions; OpenSSL's own default offers
# AES-256-GCM first, and a server that follows the client's order would then encrypt ~30% more
# expensively than one that imposes AES-128.
client_tls_prefs() {
  CLIENT_OPENSSL_CONF=$1
  cat >"$CLIENT_OPENSSL_CONF" <<'EOF2'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
CipherString = DEFAULT:@SECLEVEL=2
EOF2
}

# A free TCP port on 127.0.0.1 (the kernel picks it; the tiny window before our server binds it
# is acceptable on a machine where nothing else binds random ports in a loop).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start_process NAME CPU LOGFILE CMD...: starts CMD in the background pinned to CPU, remembers
# its PID for the cleanup trap and stores it in the global LAST_PID. CMD must exec its server
# (no wrapper process), so that the PID is the server's.
start_process() {
  local name=$1 cpu=$2 logfile=$3
  shift 3
  taskset -c "$cpu" "$@" >"$logfile" 2>&1 &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
  log "started $name (pid $LAST_PID, cpu $cpu)"
}

# Stops every process this run started, by PID: TERM, then KILL after 10 s.
stop_started() {
  local pid deadline
  for pid in "${STARTED_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  deadline=$((SECONDS + 10))
  for pid in "${STARTED_PIDS[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "pid $pid still running after 10 s: KILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  STARTED_PIDS=()
}

# wait_http URL PID [curl options...]: waits (at most 60 s) until URL answers 200 or 401 and
# fails early if PID exits.
wait_http() {
  local url=$1 pid=$2 code deadline=$((SECONDS + 60))
  shift 2
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || die "pid $pid exited before $url answered"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true)
    [[ $code == 200 || $code == 401 ]] && return 0
    sleep 0.2
  done
  die "$url did not answer within 60 s"
}

# The PID and its direct children (nginx's master and workers).
process_tree() {
  echo "$1"
  pgrep -P "$1" || true
}

# CPU time (user + system, in clock ticks) used so far by PID and its children.
cpu_ticks() {
  local total=0 pid stat
  local -a f
  for pid in $(process_tree "$1"); do
    stat=$(<"/proc/$pid/stat") || continue
    stat=${stat##*) }   # the fields after "(comm) "; utime and stime are the 12th and 13th
    read -r -a f <<<"$stat"
    total=$((total + f[11] + f[12]))
  done
  echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# Peak resident set size (VmHWM, KiB) of PID plus its children's (pages shared between
# nginx's master and worker count twice: an overestimate for nginx).
peak_rss_kib() {
  local total=0 pid kib
  for pid in $(process_tree "$1"); do
    kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    total=$((total + ${kib:-0}))
  done
  echo "$total"
}

now_ns() { date +%s%N; }

# A result line: round, target, metric, value (tab-separated, appended to $RAW).
record() {
  printf '%s\t%s\t%s\t%s\n' "$ROUND" "$1" "$2" "$3" >>"$RAW"
}

# Floating-point arithmetic through awk: calc 'a / b' with variables passed as -v pairs.
calc() {
  local expr=$1
  shift
  awk "$@" "BEGIN { printf \"%.6g\", $expr }"
}

# shellcheck shell=bash
# The workloads. Each one records its numbers with `record TARGET METRIC VALUE` for the round
# in $ROUND; the server's CPU time comes from /proc/<pid>/stat read before and after.

WRK_LUA=$BENCH_DIR/lib/wrk-report.lua

# run_wrk TARGET CONNECTIONS PATH [wrk options...]: one bounded wrk run on the load CPU; sets
# WRK[requests bytes duration_us p50_us p99_us errors status_errors cpu_ticks].
declare -gA WRK=()
run_wrk() {
  local target=$1 conns=$2 path=$3 before after out line kv
  shift 3
  before=$(cpu_ticks "${T_PID[$target]}")
  out=$(on_load_cpu wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 10s -s "$WRK_LUA" "$@" \
    "${T_URL[$target]}$path" 2>&1) || die "wrk against $target failed: $out"
  after=$(cpu_ticks "${T_PID[$target]}")
  line=$(grep '^WRK ' <<<"$out") || die "no wrk summary for $target: $out"
  WRK=()
  for kv in ${line#WRK }; do WRK[${kv%%=*}]=${kv#*=}; done
  WRK[cpu_ticks]=$((after - before))
  if ((WRK[errors] + WRK[status_errors] > 0)); then
    log "$target $path: ${WRK[errors]} socket errors, ${WRK[status_errors]} error statuses"
  fi
}

# W1: hot blob GET throughput with 1 and 8 connections; server CPU per GiB sent.
w1() {
  local target=$1 conns mib gib cpu_s
  for conns in 1 8; do
    run_wrk "$target" "$conns" "/v2/$REPO/blobs/$BLOB_DIGEST"
    mib=$(calc 'b / 1048576 / (d / 1e6)' -v b="${WRK[bytes]}" -v d="${WRK[duration_us]}")
    gib=$(calc 'b / 1073741824' -v b="${WRK[bytes]}")
    cpu_s=$(calc 't / h' -v t="${WRK[cpu_ticks]}" -v h="$CLK_TCK")
    record "$target" "w1_c${conns}_mibs" "$mib"
    record "$target" "w1_c${conns}_cpu_ms_gib" "$(calc 'c * 1000 / g' -v c="$cpu_s" -v g="$gib")"
    record "$target" "w1_c${conns}_errors" $((WRK[errors] + WRK[status_errors]))
  done
}

# W2: manifest GET by tag and by digest, 64 keep-alive connections, containerd's Accept; each
# measured run follows a short unrecorded one (W2_WARMUP seconds) on the same path, the very
# first of a target's process a long one (W2_FIRST_WARMUP seconds, in 4 wrk runs): a mirror in
# service has been compiled long since, a JVM's first 20 s of this load are still compile time,
# and the first time its connections end, code compiled while none had ended is thrown away and
# compiled again (a run right after one long warm-up had a p99 of 6-7 ms and 20% fewer
# requests; after 4 shorter ones, 3-4 ms). Every target gets the same.
W2_WARMUP=${W2_WARMUP:-3}
W2_FIRST_WARMUP=${W2_FIRST_WARMUP:-20}
declare -A W2_WARMED=()
w2() {
  local target=$1 kind ref warmup parts part
  for kind in tag digest; do
    [[ $kind == tag ]] && ref=$TAG || ref=$MANIFEST_DIGEST
    warmup=$W2_WARMUP parts=1
    if [[ -z ${W2_WARMED[$target]:-} ]]; then
      warmup=$(((W2_FIRST_WARMUP + 3) / 4)) parts=4
      W2_WARMED[$target]=1
    fi
    # Unrecorded warm-up: a JIT-compiled server pays its compile time once, not per run.
    for ((part = 0; part < parts; part++)); do
      DURATION=$warmup run_wrk "$target" 64 "/v2/$REPO/manifests/$ref" -H "Accept: $ACCEPT"
    done
    run_wrk "$target" 64 "/v2/$REPO/manifests/$ref" -H "Accept: $ACCEPT"
    record "$target" "w2_${kind}_rps" "$(calc 'r / (d / 1e6)' -v r="${WRK[requests]}" -v d="${WRK[duration_us]}")"
    record "$target" "w2_${kind}_p50_ms" "$(calc 'p / 1000' -v p="${WRK[p50_us]}")"
    record "$target" "w2_${kind}_p99_ms" "$(calc 'p / 1000' -v p="${WRK[p99_us]}")"
    record "$target" "w2_${kind}_cpu_us" \
      "$(calc 't * 1e6 / h / r' -v t="${WRK[cpu_ticks]}" -v h="$CLK_TCK" -v r="$((WRK[requests] > 0 ? WRK[requests] : 1))")"
    record "$target" "w2_${kind}_errors" $((WRK[errors] + WRK[status_errors]))
  done
}

# fresh_upstream_blob: a new random blob pushed to the upstream only (no proxy has seen its
# digest); sets FRESH_DIGEST.
fresh_upstream_blob() {
  local file=$WORK/fresh.bin
  FRESH_DIGEST=$(random_blob "$file" "$BLOB_MIB")
  push_blob put "$UPSTREAM_URL" "$file" "$FRESH_DIGEST"
  rm -f "$file"
}

# upstream_gets MARK DIGEST: "GETs bytes" the upstream logged for DIGEST's blob after line MARK
# of its access log (combined format: ... "GET /v2/<repo>/blobs/<digest> HTTP/1.1" status size).
# The byte count is printed with %.0f: mawk's %d stops at 2^31 - 1.
upstream_gets() {
  tail -n +"$(($1 + 1))" "$UPSTREAM_LOG" |
    awk -v d="$2" '$6 == "\"GET" && index($7, "/blobs/" d) { n++; b += $10 } END { printf "%d %.0f\n", n, b }'
}

# sixteen_gets TARGET URL: 16 concurrent clients GET URL; sets GETS_WALL_S and GETS_OK (the
# clients that got the whole blob).
sixteen_gets() {
  local target=$1 url=$2 t0 t1 i
  local -a pids=()
  t0=$(now_ns)
  for i in $(seq 1 16); do
    target_curl "$target" --max-time 300 -o /dev/null -w '%{http_code} %{size_download}\n' "$url" \
      >"$WORK/w3.$i" &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
  t1=$(now_ns)
  GETS_OK=$(cat "$WORK"/w3.* | grep -c "^200 $BLOB_SIZE\$" || true)
  rm -f "$WORK"/w3.*
  GETS_WALL_S=$(calc '(b - a) / 1e9' -v a="$t0" -v b="$t1")
}

# W3: 16 concurrent clients request the same uncached blob through a proxy: what the upstream
# sent, and the wall time until the last client has the whole blob.
w3() {
  local target=$1 mark gets bytes
  fresh_upstream_blob
  mark=$(wc -l <"$UPSTREAM_LOG")
  sixteen_gets "$target" "${T_URL[$target]}/v2/$REPO/blobs/$FRESH_DIGEST"
  sleep 0.5 # the upstream logs a request when its response has been written
  read -r gets bytes < <(upstream_gets "$mark" "$FRESH_DIGEST")
  record "$target" w3_clients_ok "$GETS_OK"
  record "$target" w3_upstream_gets "$gets"
  record "$target" w3_upstream_mib "$(calc 'b / 1048576' -v b="$bytes")"
  record "$target" w3_wall_s "$GETS_WALL_S"
  ((GETS_OK == 16)) || log "$target W3: only $GETS_OK of 16 clients got the whole blob"
}

# W3 reference: the same 16 concurrent GETs of the hot blob from a server's own store: the time
# this machine needs to hand 16 copies to 16 clients, which bounds W3 from below.
w3_hot() {
  local target=$1
  sixteen_gets "$target" "${T_URL[$target]}/v2/$REPO/blobs/$BLOB_DIGEST"
  record "$target" w3_hot_wall_s "$GETS_WALL_S"
  ((GETS_OK == 16)) || log "$target W3 hot: only $GETS_OK of 16 clients got the whole blob"
}

# ttfb TARGET URL: seconds to the first byte of a GET on a new connection, the total, and the
# seconds before the request went out (TCP connect and any TLS handshake: curl's pretransfer).
ttfb() {
  target_curl "$1" -f -o /dev/null -w '%{time_starttransfer} %{time_total} %{time_pretransfer}\n' "$2"
}

# W5 hot: median of 5 GETs of the cached blob, each on a new connection (handshake included).
# First after an unrecorded W2_WARMUP seconds of keep-alive GETs of the small config blob (W1
# makes only a few hundred requests, too few for a JIT to have compiled the blob path): recorded
# as w5_hot_first_ttfb_ms. Keep-alive load never opens a connection, though, and a JVM's
# connection set-up is still interpreted or half-compiled then, while a mirror in service has
# taken many thousands; W6 gives some targets 10 000 connections before the next round and the
# proxies none, so the first figure also differs by the round. So then W5_CONNECTIONS (20 000)
# GETs of the config blob, each on a new connection (at most W5_CONNECTIONS_MAX_S, 6 s), for every
# target alike, and the 5 GETs again: w5_hot_ttfb_ms.
W5_CONNECTIONS=${W5_CONNECTIONS:-20000}
W5_CONNECTIONS_MAX_S=${W5_CONNECTIONS_MAX_S:-6}
w5_hot() {
  local target=$1
  DURATION=$W2_WARMUP run_wrk "$target" 4 "/v2/$REPO/blobs/$CONFIG_DIGEST"
  record "$target" w5_hot_first_ttfb_ms "$(hot_ttfb "$target")"
  on_load_cpu env WRK_CONNECTIONS="$W5_CONNECTIONS" wrk -t1 -c4 -d"${W5_CONNECTIONS_MAX_S}s" --timeout 10s \
    -s "$BENCH_DIR/lib/wrk-connections.lua" "${T_URL[$target]}/v2/$REPO/blobs/$CONFIG_DIGEST" >/dev/null 2>&1 ||
    log "$target: the new-connection warm-up of W5 hot failed"
  record "$target" w5_hot_ttfb_ms "$(hot_ttfb "$target")"
}

# hot_ttfb TARGET: the median of 5 times to first byte of the cached blob, new connections (ms).
hot_ttfb() {
  local i
  for i in 1 2 3 4 5; do
    ttfb "$1" "${T_URL[$1]}/v2/$REPO/blobs/$BLOB_DIGEST" | cut -d' ' -f1
  done | sort -g | sed -n 3p | awk '{print $1 * 1000}'
}

# W5 cold: GETs of uncached blobs through a proxy. The first is a BLOB_MIB blob (its total time
# is "one cold fetch" for W3); then W5_COLD_SAMPLES - 1 fresh 1 MiB blobs (time to first byte
# does not depend on the size). Each is paired with the upstream's own first GET of another fresh
# blob of the same size, taken right after: one pair per round varied 4x from round to round, so
# the time to first byte and the mirror's added latency (its TTFB minus the upstream's, pair by
# pair) are medians over the pairs.
W5_COLD_SAMPLES=${W5_COLD_SAMPLES:-5}
w5_cold() {
  local target=$1 i mib first total pre up up_pre
  local -a mine=() theirs=() added=() added_from_request=()
  for ((i = 0; i < W5_COLD_SAMPLES; i++)); do
    ((i == 0)) && mib=$BLOB_MIB || mib=1
    BLOB_MIB=$mib fresh_upstream_blob
    read -r first total pre < <(ttfb "$target" "${T_URL[$target]}/v2/$REPO/blobs/$FRESH_DIGEST")
    ((i == 0)) && record "$target" w5_cold_total_s "$total"
    BLOB_MIB=$mib fresh_upstream_blob
    read -r up up_pre < <(on_load_cpu curl -s -f -o /dev/null -w '%{time_starttransfer} %{time_pretransfer}\n' \
      "$UPSTREAM_URL/v2/$REPO/blobs/$FRESH_DIGEST")
    mine+=("$(calc 'f * 1000' -v f="$first")")
    theirs+=("$(calc 'f * 1000' -v f="$up")")
    added+=("$(calc '(f - u) * 1000' -v f="$first" -v u="$up")")
    # The same from each request's departure: the upstream here is plain HTTP, so a TLS row's
    # first figure also carries the client's handshake with the proxy, which a client that keeps
    # its connection (containerd, Docker) pays once, not per blob.
    added_from_request+=("$(calc '((f - p) - (u - q)) * 1000' -v f="$first" -v p="$pre" -v u="$up" -v q="$up_pre")")
  done
  record "$target" w5_cold_ttfb_ms "$(median "${mine[@]}")"
  record "$target" w5_cold_upstream_ttfb_ms "$(median "${theirs[@]}")"
  record "$target" w5_cold_added_ms "$(median "${added[@]}")"
  record "$target" w5_cold_added_from_request_ms "$(median "${added_from_request[@]}")"
}

# median VALUES...: the middle value (the lower middle of an even count).
median() {
  printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"
}

# W6: 10 000 idle keep-alive connections held open while W1 (8 connections) runs: the blob
# throughput meanwhile, and whether the idle connections are still open and still served.
w6() {
  local target=$1 port ready result kv pid fifo=$WORK/w6.ctl out=$WORK/w6.out deadline
  local -A r=()
  port=${T_URL[$target]##*:}
  rm -f "$fifo" "$out"
  mkfifo "$fifo"
  on_load_cpu python3 "$BENCH_DIR/lib/idle_conns.py" 127.0.0.1 "$port" --count "$IDLE_CONNS" \
    --deadline 300 <"$fifo" >"$out" 2>&1 &
  pid=$!
  exec {ctl}>"$fifo"
  deadline=$((SECONDS + 120))
  until ready=$(grep '^READY' "$out" 2>/dev/null); do
    ((SECONDS < deadline)) && kill -0 "$pid" 2>/dev/null || { exec {ctl}>&-; wait "$pid" || true
      die "W6 $target: idle connections not ready: $(cat "$out")"; }
    sleep 0.5
  done
  run_wrk "$target" 8 "/v2/$REPO/blobs/$BLOB_DIGEST"
  echo check >&"$ctl"
  exec {ctl}>&-
  wait "$pid" || true
  result=$(grep '^RESULT' "$out") || die "W6 $target: no result: $(cat "$out")"
  for kv in ${ready#READY } ${result#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
  record "$target" w6_mibs "$(calc 'b / 1048576 / (d / 1e6)' -v b="${WRK[bytes]}" -v d="${WRK[duration_us]}")"
  record "$target" w6_errors $((WRK[errors] + WRK[status_errors]))
  record "$target" w6_idle_answered "${r[answered]}"
  record "$target" w6_idle_open "${r[open]}"
  record "$target" w6_sample_ok_pct "$(calc '100 * o / (s > 0 ? s : 1)' -v o="${r[sample_ok]}" -v s="${r[sample]}")"
  rm -f "$fifo" "$out"
}

# W4: peak resident set size of every target so far (VmHWM: the kernel's high-water mark).
w4() {
  local target
  for target in "${TARGETS[@]}"; do
    record "$target" w4_peak_rss_mib "$(calc 'k / 1024' -v k="$(peak_rss_kib "${T_PID[$target]}")")"
  done
}

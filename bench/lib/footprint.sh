# shellcheck shell=bash
# W4 big: memory flat in blob size. After W4 has recorded every target's peak, each registry
# target (not nginx) takes one big blob (BIG_MIB, made once per run): pushed to the hosted ones,
# pulled through the upstream by the proxies (from the second round on, served from their cache);
# then served once. Its peak RSS before and after: the same peak, after everything the bench blob
# (BLOB_MIB) put it through, is a footprint flat in blob size. The servers have run every workload
# by then, so a JVM's compilations of its transfer loops (several MiB of compiler arenas, once)
# are behind it rather than counted against the big blob.
#
# Start-up: a data directory holding STARTUP_BLOBS small blobs, written once per run through
# ocimirror's own storage code (lib/SeedStore.java, run against the jar under test), then
# ocimirror started on it (bin/ocimirror, pinned to the server CPU): the time from starting the
# process to the first 200 of a GET of one of those blobs, median of three starts per round. These
# servers are started and stopped here, by PID, after W4.

# stop_pid PID: stops one process this run started (TERM, KILL after 10 s) and forgets its PID.
stop_pid() {
  local pid=$1 deadline=$((SECONDS + 10)) kept=() p
  kill -TERM "$pid" 2>/dev/null || true
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${STARTED_PIDS[@]}"; do [[ $p == "$pid" ]] || kept+=("$p"); done
  STARTED_PIDS=("${kept[@]}")
}

# W4 big: every registry target's peak RSS before and after one big blob.
w4_big() {
  local target url size
  if [[ -z ${BIG_DIGEST:-} ]]; then
    BIG_FILE=$WORK/fixtures/big
    BIG_DIGEST=$(random_blob "$BIG_FILE" "$BIG_MIB")
    push_blob put "$UPSTREAM_URL" "$BIG_FILE" "$BIG_DIGEST"
    log "W4 big: a $BIG_MIB MiB blob $BIG_DIGEST"
  fi
  for target in "${TARGETS[@]}"; do
    [[ $target == nginx* ]] && continue
    record "$target" w4_big_before_mib "$(calc 'k / 1024' -v k="$(peak_rss_kib "${T_PID[$target]}")")"
    url="${T_URL[$target]}/v2/$REPO/blobs/$BIG_DIGEST"
    if [[ ${T_PROXY[$target]} == 1 ]]; then
      target_curl "$target" -f --max-time 600 -o /dev/null "$url" || die "W4 big: $target did not pull it through"
    else
      # shellcheck disable=SC2086
      push_blob put "${T_URL[$target]}" "$BIG_FILE" "$BIG_DIGEST" ${T_CURL[$target]}
    fi
    size=$(target_curl "$target" -f --max-time 600 -o /dev/null -w '%{size_download}' "$url") ||
      die "W4 big: $target did not serve it"
    [[ $size == $(stat -c %s "$BIG_FILE") ]] || die "W4 big: $target served $size bytes of $BIG_MIB MiB"
    record "$target" w4_big_peak_rss_mib "$(calc 'k / 1024' -v k="$(peak_rss_kib "${T_PID[$target]}")")"
  done
}

# startup_store: the data directory of the start-up step, written once per run; sets
# STARTUP_DATA and STARTUP_PATH (a blob of it to GET).
startup_store() {
  local t0 out repo digest
  STARTUP_DATA=$WORK/startup-data
  t0=$SECONDS
  log "start-up: writing $STARTUP_BLOBS blobs through ocimirror's storage (lib/SeedStore.java)"
  out=$(java -cp "$OCIMIRROR_JAR" "$BENCH_DIR/lib/SeedStore.java" "$STARTUP_DATA" "$STARTUP_BLOBS" 1024 2>"$WORK/seed.log") ||
    die "SeedStore failed: $(tail -5 "$WORK/seed.log")"
  read -r repo digest <<<"$out"
  [[ -n $digest ]] || die "SeedStore printed no blob: $out"
  STARTUP_PATH=/v2/$repo/blobs/$digest
  log "start-up: $STARTUP_BLOBS blobs in $((SECONDS - t0)) s ($(du -sh "$STARTUP_DATA" | cut -f1))"
}

# startup_once: starts ocimirror on STARTUP_DATA; sets STARTED_S (seconds to its first served blob)
# and PEAK (its peak RSS then, MiB).
startup_once() {
  local dir=$WORK/startup port t0 t1 code pid deadline
  port=$(free_port)
  mkdir -p "$dir"
  printf 'listen: 127.0.0.1:%s\ndata: %s\nhosted: [bench]\ntls: { mode: off }\n' "$port" "$STARTUP_DATA" \
    >"$dir/config.yaml"
  t0=$(now_ns)
  start_process startup "$SERVER_CPU" "$dir/stderr.log" "$REPO_ROOT/bin/ocimirror" serve --config "$dir/config.yaml"
  pid=$LAST_PID
  deadline=$((SECONDS + 60))
  while :; do
    code=$(on_load_cpu curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port$STARTUP_PATH" || true)
    [[ $code == 200 ]] && break
    kill -0 "$pid" 2>/dev/null || die "start-up: ocimirror exited: $(tail -5 "$dir/stderr.log")"
    ((SECONDS < deadline)) || die "start-up: no blob served within 60 s"
    sleep 0.01
  done
  t1=$(now_ns)
  PEAK=$(calc 'k / 1024' -v k="$(peak_rss_kib "$pid")")
  stop_pid "$pid"
  STARTED_S=$(calc '(b - a) / 1e9' -v a="$t0" -v b="$t1")
}

# Start-up: the first start after the blobs were written (RocksDB replays their log) once, then
# the median of three starts every round.
startup() {
  local i
  local -a samples=()
  if [[ -z ${STARTUP_DATA:-} ]]; then
    startup_store
    startup_once
    record ocimirror startup_first_s "$STARTED_S"
  fi
  for i in 1 2 3; do
    startup_once
    samples+=("$STARTED_S")
  done
  record ocimirror startup_s "$(printf '%s\n' "${samples[@]}" | sort -g | sed -n 2p)"
  record ocimirror startup_rss_mib "$PEAK"
}

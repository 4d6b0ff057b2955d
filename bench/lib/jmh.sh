# shellcheck shell=bash
# The JMH microbenchmarks (bench/jmh: routing, ingest hashing, metadata keys and values, manifest
# parsing) and the command-line hashers their hashing is compared with, all pinned to
# $SERVER_CPU. Needs common.sh (log, die, now_ns, SERVER_CPU) and $REPO_ROOT.
#
# Knobs: QUICK=1 (very short iterations), JMH_ARGS (extra JMH options or a benchmark regex,
# e.g. JMH_ARGS=RouteBench), HASH_MIB (size of the file sha256sum hashes; 256, 64 with QUICK=1).

JMH_JAR=${JMH_JAR:-$REPO_ROOT/bench/jmh/target/ocimirror-jmh.jar}

# Builds bench/jmh/target/ocimirror-jmh.jar (the jmh profile and the modules it depends on;
# never installs anything into ~/.m2). SKIP_BUILD=1 keeps a jar already built.
build_jmh() {
  if [[ ${SKIP_BUILD:-0} == 1 && -f $JMH_JAR ]]; then
    return 0
  fi
  log "building the JMH benchmarks (mvn -q -B -Pjmh -pl bench/jmh -am package -DskipTests)"
  (cd "$REPO_ROOT" && mvn -q -B -Pjmh -pl bench/jmh -am package -DskipTests) || die "the JMH build failed"
}

# jmh_settings: one fork, short fixed iterations, so that the whole suite stays around 2.5 minutes
# (about 1 with QUICK=1). Each benchmark forks its own JVM with bin/ocimirror's heap and collector.
jmh_settings() {
  if [[ ${QUICK:-0} == 1 ]]; then
    echo "-f 1 -wi 1 -w 300ms -i 3 -r 300ms"
  else
    echo "-f 1 -wi 2 -w 1s -i 3 -r 1s"
  fi
}

# run_jmh DIR: runs every benchmark into DIR/jmh.json (JMH's own JSON), its output in DIR/jmh.log.
run_jmh() {
  local dir=$1 settings
  settings=$(jmh_settings)
  [[ -f $JMH_JAR ]] || die "$JMH_JAR is missing (build_jmh)"
  log "JMH microbenchmarks on cpu $SERVER_CPU ($settings${JMH_ARGS:+ $JMH_ARGS})"
  echo "$SERVER_CPU" >"$dir/cpu"
  # shellcheck disable=SC2086 # settings and JMH_ARGS are lists of options
  if ! taskset -c "$SERVER_CPU" java -jar "$JMH_JAR" $settings ${JMH_ARGS:-} \
    -rf json -rff "$dir/jmh.json" >"$dir/jmh.log" 2>&1; then
    tail -20 "$dir/jmh.log" >&2
    die "JMH failed: see $dir/jmh.log"
  fi
}

# hash_reference DIR: hashes a random file of HASH_MIB MiB, already in the page cache, with
# sha256sum (coreutils) and openssl dgst -sha256, five times each on $SERVER_CPU. Writes
# DIR/hashref.tsv: tool, version, MiB, seconds of each run (comma-separated).
hash_reference() {
  local dir=$1 mib file tool version i start end times
  mib=${HASH_MIB:-$([[ ${QUICK:-0} == 1 ]] && echo 64 || echo 256)}
  file=$dir/hashref.bin
  head -c $((mib << 20)) /dev/urandom >"$file"
  cat "$file" >/dev/null # read once: the page cache serves the runs, hashing is what is timed
  : >"$dir/hashref.tsv"
  for tool in sha256sum openssl; do
    command -v "$tool" >/dev/null 2>&1 || continue
    case $tool in
      sha256sum) version=$(sha256sum --version | head -1 | sed 's/^sha256sum (\(.*\))/\1/') ;;
      openssl) version=$(openssl version | cut -d' ' -f1-2) ;;
    esac
    times=""
    for i in 1 2 3 4 5; do
      start=$(now_ns)
      case $tool in
        sha256sum) taskset -c "$SERVER_CPU" sha256sum "$file" >/dev/null ;;
        openssl) taskset -c "$SERVER_CPU" openssl dgst -sha256 "$file" >/dev/null ;;
      esac
      end=$(now_ns)
      times+="${times:+,}$(calc 'ns / 1e9' -v ns=$((end - start)))"
    done
    printf '%s\t%s\t%s\t%s\n' "$tool" "$version" "$mib" "$times" >>"$dir/hashref.tsv"
  done
  rm -f "$file"
  log "hash reference ($mib MiB, cpu $SERVER_CPU): $(cut -f1,4 "$dir/hashref.tsv" | tr '\t\n' ' ;')"
}

# jmh_all DIR: the microbenchmarks and the hashing reference into DIR.
jmh_all() {
  mkdir -p "$1"
  hash_reference "$1"
  run_jmh "$1"
}

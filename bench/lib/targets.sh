# shellcheck shell=bash
# The servers under test, each in its own directory under $WORK on 127.0.0.1 and a free port,
# pinned to $SERVER_CPU; and the upstream registry the proxies sit in front of, on $LOAD_CPU.
#
# Each target NAME gets: T_PID[NAME] (the server's PID), T_URL[NAME] (its base URL),
# T_CURL[NAME] (curl options: the CA to trust under TLS) and T_PROXY[NAME] (1 for proxies).

declare -gA T_PID=() T_URL=() T_CURL=() T_PROXY=()
TARGETS=()

add_target() {
  TARGETS+=("$1")
  T_PID[$1]=$2
  T_URL[$1]=$3
  T_CURL[$1]=$4
  T_PROXY[$1]=$5
}

# A test CA and a server certificate for 127.0.0.1 (EC P-256) for nginx and distribution.
make_pki() {
  PKI=$WORK/pki
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -keyout ca.key -out ca.crt -subj /CN=bench-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj /CN=127.0.0.1
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -extfile ext -out server.crt
  ) >"$WORK/pki.log" 2>&1 || die "openssl failed: see $WORK/pki.log"
}

scheme_of() { [[ $1 == 1 ]] && echo https || echo http; }

# start_nginx NAME TLS(0|1): the fixtures as static files, sendfile, keep-alive.
start_nginx() {
  local name=$1 tls=$2 dir=$WORK/$1 port listen ssl=""
  port=$(free_port)
  mkdir -p "$dir/tmp"
  static_layout "$dir/www"
  listen="listen 127.0.0.1:$port;"
  if [[ $tls == 1 ]]; then
    listen="listen 127.0.0.1:$port ssl;"
    # AES-128-GCM first, as BoringSSL (ocimirror) and Go (distribution) choose it.
    ssl="ssl_certificate $PKI/server.crt;
    ssl_certificate_key $PKI/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384;
    ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384;
    ssl_prefer_server_ciphers on;
    ssl_session_cache shared:SSL:10m;"
  fi
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 300s;
  keepalive_requests 10000000;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  types { }
  default_type application/octet-stream;
  server {
    $listen
    $ssl
    root $dir/www;
    location = /v2/ { default_type application/json; return 200 '{}'; }
    location ~ ^/v2/.+/manifests/ { default_type $OCI_MANIFEST; }
  }
}
EOF
  start_process "$name" "$SERVER_CPU" "$dir/stderr.log" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
  local url="$(scheme_of "$tls")://127.0.0.1:$port" opts=""
  [[ $tls == 1 ]] && opts="--cacert $PKI/ca.crt"
  # shellcheck disable=SC2086
  wait_http "$url/v2/" "$LAST_PID" $opts
  add_target "$name" "$LAST_PID" "$url" "$opts" 0
}

# distribution_config DIR PORT TLS [REMOTE]: CNCF distribution's config as Debian ships it
# (in-memory blob descriptor cache, access log on), plus a pull-through proxy to REMOTE.
distribution_config() {
  local dir=$1 port=$2 tls=$3 remote=${4:-}
  {
    echo "version: 0.1"
    echo "log: { fields: { service: registry } }"
    echo "storage:"
    echo "  filesystem: { rootdirectory: $dir/data }"
    echo "  cache: { blobdescriptor: inmemory }"
    echo "  delete: { enabled: true }"
    echo "  maintenance: { uploadpurging: { enabled: false } }"
    echo "http:"
    echo "  addr: 127.0.0.1:$port"
    echo "  headers: { X-Content-Type-Options: [nosniff] }"
    if [[ $tls == 1 ]]; then echo "  tls: { certificate: $PKI/server.crt, key: $PKI/server.key }"; fi
    if [[ -n $remote ]]; then echo "proxy: { remoteurl: $remote }"; fi
  } >"$dir/config.yml"
}

# start_distribution NAME TLS CPU [REMOTE]: sets LAST_URL and LAST_PID.
start_distribution() {
  local name=$1 tls=$2 cpu=$3 remote=${4:-} dir=$WORK/$1 port opts=""
  port=$(free_port)
  mkdir -p "$dir/data"
  distribution_config "$dir" "$port" "$tls" "$remote"
  start_process "$name" "$cpu" "$dir/stderr.log" docker-registry serve "$dir/config.yml"
  LAST_URL="$(scheme_of "$tls")://127.0.0.1:$port"
  [[ $tls == 1 ]] && opts="--cacert $PKI/ca.crt"
  LAST_OPTS=$opts
  # shellcheck disable=SC2086
  wait_http "$LAST_URL/v2/" "$LAST_PID" $opts
}

# The upstream registry for both proxies: plain HTTP, on the load generator's CPU so that the
# proxy under test has its CPU to itself; its access log counts what the proxies fetch.
start_upstream() {
  start_distribution upstream 0 "$LOAD_CPU"
  UPSTREAM_URL=$LAST_URL
  UPSTREAM_PID=$LAST_PID
  UPSTREAM_LOG=$WORK/upstream/stderr.log
  push_image put "$UPSTREAM_URL"
}

add_distribution() {
  local name=$1 tls=$2
  start_distribution "$name" "$tls" "$SERVER_CPU"
  # shellcheck disable=SC2086
  push_image put "$LAST_URL" $LAST_OPTS
  add_target "$name" "$LAST_PID" "$LAST_URL" "$LAST_OPTS" 0
}

add_distribution_proxy() {
  local name=$1 tls=$2
  start_distribution "$name" "$tls" "$SERVER_CPU" "$UPSTREAM_URL"
  add_target "$name" "$LAST_PID" "$LAST_URL" "$LAST_OPTS" 1
  warm_proxy "$name"
}

# ocimirror_config DIR PORT TLS PROXY: the upstream as the default upstream (tag TTL 1 h, so a
# tag inside its TTL is served without asking it); the hosted target keeps bench/ as a hosted
# namespace, the proxy forwards bench/img to the upstream.
ocimirror_config() {
  local dir=$1 port=$2 tls=$3 proxy=$4
  {
    echo "listen: 127.0.0.1:$port"
    echo "data: $dir/data"
    echo "upstreams:"
    echo "  - name: upstream"
    echo "    url: $UPSTREAM_URL"
    echo "    plainHttp: true"
    echo "    default: true"
    echo "    tagTtl: 1h"
    if [[ $proxy == 0 ]]; then echo "hosted: [bench]"; fi
    ocimirror_tls_config "$dir" "$tls"
  } >"$dir/config.yaml"
}

# ocimirror serves HTTPS by default with a CA it generates under <data>/pki (clients trust its
# ca.crt, as `ocimirror ca export --format pem` prints it); `tls: {mode: off}` is plain HTTP.
# A build from before the TLS wiring has no tls section and serves plain HTTP only.
OCIMIRROR_TLS=0
ocimirror_detect_tls() {
  if "$REPO_ROOT/bin/ocimirror" serve --help 2>&1 | grep -q -- --plain-http; then OCIMIRROR_TLS=1; fi
}
ocimirror_tls_config() {
  if [[ $OCIMIRROR_TLS == 1 && $2 == 0 ]]; then echo "tls: { mode: off }"; fi
}
ocimirror_ca() { echo "--cacert $1/data/pki/ca.crt"; }

start_ocimirror() {
  local name=$1 tls=$2 proxy=$3 dir=$WORK/$1 port opts=""
  port=$(free_port)
  mkdir -p "$dir"
  ocimirror_config "$dir" "$port" "$tls" "$proxy"
  start_process "$name" "$SERVER_CPU" "$dir/stderr.log" "$REPO_ROOT/bin/ocimirror" serve --config "$dir/config.yaml"
  LAST_URL="$(scheme_of "$tls")://127.0.0.1:$port"
  [[ $tls == 1 ]] && opts=$(ocimirror_ca "$dir")
  LAST_OPTS=$opts
  # shellcheck disable=SC2086
  wait_http "$LAST_URL/v2/" "$LAST_PID" $opts
  # serve warms up before /readyz turns 200 (warmup.enabled): measured from then, as a load
  # balancer would send it traffic, not while the warm-up has the server's CPU
  local deadline=$((SECONDS + 120))
  # shellcheck disable=SC2086
  until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 $opts "$LAST_URL/readyz" || true) == 200 ]]; do
    ((SECONDS < deadline)) || die "$name: /readyz not 200 within 120 s"
    sleep 0.1
  done
}

add_ocimirror() {
  local name=$1 tls=$2
  start_ocimirror "$name" "$tls" 0
  # shellcheck disable=SC2086
  push_image post "$LAST_URL" $LAST_OPTS
  add_target "$name" "$LAST_PID" "$LAST_URL" "$LAST_OPTS" 0
}

add_ocimirror_proxy() {
  local name=$1 tls=$2
  start_ocimirror "$name" "$tls" 1
  add_target "$name" "$LAST_PID" "$LAST_URL" "$LAST_OPTS" 1
  warm_proxy "$name"
}

# target_curl NAME ARGS...: curl with the target's TLS options, on the load generator's CPU.
target_curl() {
  local name=$1
  shift
  # shellcheck disable=SC2086
  on_load_cpu curl -s ${T_CURL[$name]} "$@"
}

# Fetches the image once through a proxy, so that W1, W2 and W5 hot measure its cache.
warm_proxy() {
  local name=$1 base=${T_URL[$1]}
  target_curl "$name" -o /dev/null -H "Accept: $ACCEPT" "$base/v2/$REPO/manifests/$TAG"
  target_curl "$name" -o /dev/null -H "Accept: $ACCEPT" "$base/v2/$REPO/manifests/$MANIFEST_DIGEST"
  target_curl "$name" -o /dev/null "$base/v2/$REPO/blobs/$CONFIG_DIGEST"
  target_curl "$name" -o /dev/null "$base/v2/$REPO/blobs/$BLOB_DIGEST"
}

# Checks that a target answers the manifest by tag and by digest with the exact bytes, and the
# blob with its full length, before any number is taken from it.
verify_target() {
  local name=$1 base=${T_URL[$1]} got ref
  for ref in "$TAG" "$MANIFEST_DIGEST"; do
    got=$(target_curl "$name" -f -H "Accept: $ACCEPT" "$base/v2/$REPO/manifests/$ref" | sha256sum | cut -d' ' -f1)
    [[ "sha256:$got" == "$MANIFEST_DIGEST" ]] || die "$name: manifest $ref is not the pushed one"
  done
  got=$(target_curl "$name" -f -o /dev/null -w '%{size_download}' "$base/v2/$REPO/blobs/$BLOB_DIGEST")
  [[ $got == "$BLOB_SIZE" ]] || die "$name: blob GET gave $got bytes, not $BLOB_SIZE"
}

# start_all: every target, in the order the tables list them.
start_all() {
  make_pki
  start_upstream
  start_nginx nginx 0
  add_distribution distribution 0
  add_distribution_proxy distribution-proxy 0
  add_ocimirror ocimirror 0
  add_ocimirror_proxy ocimirror-proxy 0
  if [[ $TLS == 1 ]]; then
    start_nginx nginx-tls 1
    add_distribution distribution-tls 1
    add_distribution_proxy distribution-proxy-tls 1
    if [[ $OCIMIRROR_TLS == 1 ]]; then
      add_ocimirror ocimirror-tls 1
      add_ocimirror_proxy ocimirror-proxy-tls 1
    else
      log "this ocimirror has no TLS: no ocimirror TLS rows"
    fi
  fi
  local name
  for name in "${TARGETS[@]}"; do verify_target "$name"; done
  log "targets ready: ${TARGETS[*]}"
}

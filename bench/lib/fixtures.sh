# shellcheck shell=bash
# Fixtures: one random blob, a small config and a ~2 KiB OCI image manifest referencing both,
# and the ways of putting them into each target: the registry API (curl) or static files laid
# out at the registry API's URL paths (nginx).

REPO=bench/img
TAG=v1
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
# What containerd sends when it resolves a tag: every manifest and index type.
ACCEPT="$OCI_MANIFEST, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# random_blob FILE MIB: writes MIB MiB of random bytes to FILE and prints its digest.
random_blob() {
  head -c $(($2 * 1048576)) /dev/urandom >"$1"
  echo "sha256:$(sha256_of "$1")"
}

# make_fixtures DIR: the blob, config and manifest under DIR; sets BLOB, BLOB_DIGEST, BLOB_SIZE,
# CONFIG, CONFIG_DIGEST, MANIFEST, MANIFEST_DIGEST.
make_fixtures() {
  local dir=$1
  BLOB=$dir/blob
  BLOB_DIGEST=$(random_blob "$BLOB" "$BLOB_MIB")
  BLOB_SIZE=$(stat -c %s "$BLOB")
  CONFIG=$dir/config.json
  printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
    "$BLOB_DIGEST" >"$CONFIG"
  CONFIG_DIGEST="sha256:$(sha256_of "$CONFIG")"
  MANIFEST=$dir/manifest.json
  python3 - "$MANIFEST" "$CONFIG_DIGEST" "$(stat -c %s "$CONFIG")" "$BLOB_DIGEST" "$BLOB_SIZE" <<'PY'
import json, sys
out, cdig, csize, bdig, bsize = sys.argv[1:]
m = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdig, "size": int(csize)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": bdig, "size": int(bsize)}],
    "annotations": {"org.opencontainers.image.description": ""},
}
# Pad to 2048 bytes, the size of a typical single-platform image manifest with a few layers.
pad = 2048 - len(json.dumps(m, indent=2).encode())
m["annotations"]["org.opencontainers.image.description"] = "x" * max(pad, 0)
open(out, "w").write(json.dumps(m, indent=2))
PY
  MANIFEST_DIGEST="sha256:$(sha256_of "$MANIFEST")"
  log "fixtures: blob $BLOB_DIGEST ($BLOB_SIZE bytes), manifest $MANIFEST_DIGEST ($(stat -c %s "$MANIFEST") bytes)"
}

# push_blob MODE BASE FILE DIGEST [curl options...]: uploads FILE into $REPO at BASE (e.g.
# http://127.0.0.1:5000). MODE "post": one monolithic POST ?digest= carrying the body (the OCI
# spec's single-request upload). MODE "put": POST for a session, then PUT ?digest= with the body
# (distribution 2.8 answers a POST with a body 202 and ignores the body). MODE "put" streams the
# file (-T); "post" has curl read it into memory first, which it refuses from 1 GiB on (and -T
# would append the file's name to the POST's URL, which ends with a slash).
push_blob() {
  local mode=$1 base=$2 file=$3 digest=$4 code location
  shift 4
  if [[ $mode == post ]]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' "$@" -X POST -H 'Content-Type: application/octet-stream' \
      --data-binary "@$file" "$base/v2/$REPO/blobs/uploads/?digest=$digest")
    [[ $code == 201 ]] || die "monolithic POST of $digest to $base: HTTP $code"
    return
  fi
  location=$(curl -s -o /dev/null -w '%header{location}' "$@" -X POST "$base/v2/$REPO/blobs/uploads/")
  [[ -n $location ]] || die "POST upload to $base: no Location"
  [[ $location == /* ]] && location=$base$location
  [[ $location == *\?* ]] && location="$location&digest=$digest" || location="$location?digest=$digest"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$@" -X PUT -H 'Content-Type: application/octet-stream' \
    -T "$file" "$location")
  [[ $code == 201 ]] || die "PUT of $digest to $base: HTTP $code"
}

# push_image MODE BASE [curl options...]: the blob, the config, then the manifest by tag.
push_image() {
  local mode=$1 base=$2 code
  shift 2
  push_blob "$mode" "$base" "$BLOB" "$BLOB_DIGEST" "$@"
  push_blob "$mode" "$base" "$CONFIG" "$CONFIG_DIGEST" "$@"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$@" -X PUT -H "Content-Type: $OCI_MANIFEST" \
    --data-binary "@$MANIFEST" "$base/v2/$REPO/manifests/$TAG")
  [[ $code == 201 ]] || die "PUT manifest to $base: HTTP $code"
}

# static_layout ROOT: the same bytes as files at the registry API's paths under ROOT/v2/, as
# hard links to the fixtures (nginx serves them; the type comes from its config).
static_layout() {
  local root=$1/v2/$REPO
  mkdir -p "$root/blobs" "$root/manifests"
  ln -f "$BLOB" "$root/blobs/$BLOB_DIGEST" 2>/dev/null || cp "$BLOB" "$root/blobs/$BLOB_DIGEST"
  cp "$CONFIG" "$root/blobs/$CONFIG_DIGEST"
  cp "$MANIFEST" "$root/manifests/$TAG"
  cp "$MANIFEST" "$root/manifests/$MANIFEST_DIGEST"
  chmod -R a+rX "$1"
}

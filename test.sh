#!/usr/bin/env bash
# Builds ocimirror and runs every test: unit tests, and end-to-end tests that drive the real
# skopeo, containerd (ctr), CNCF distribution (docker-registry) and nginx on 127.0.0.1.
# Installs what is missing when run as root on Debian/Ubuntu; otherwise says what to install.
set -euo pipefail
cd "$(dirname "$0")"

# program -> Debian package that provides it
declare -A PACKAGE_OF=(
  [skopeo]=skopeo
  [containerd]=containerd
  [ctr]=containerd
  [docker-registry]=docker-registry
  [htpasswd]=apache2-utils
  [openssl]=openssl
  [curl]=curl
  [nginx]=nginx-light
  [mvn]=maven
  [java]=openjdk-17-jdk-headless
  [javac]=openjdk-17-jdk-headless
)
E2E_PACKAGES=(skopeo containerd docker-registry apache2-utils openssl nginx-light curl)

missing_programs=()
for program in skopeo containerd ctr docker-registry htpasswd openssl nginx curl mvn java javac; do
  command -v "$program" >/dev/null 2>&1 || missing_programs+=("$program")
done

if ((${#missing_programs[@]} > 0)); then
  packages=("${E2E_PACKAGES[@]}")
  for program in "${missing_programs[@]}"; do
    case "${PACKAGE_OF[$program]}" in
      maven|openjdk-17-jdk-headless) packages+=("${PACKAGE_OF[$program]}") ;;
    esac
  done
  # de-duplicate, keeping order
  mapfile -t packages < <(printf '%s\n' "${packages[@]}" | awk '!seen[$0]++')
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: missing ${missing_programs[*]}; installing: ${packages[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}"
    for program in "${missing_programs[@]}"; do
      command -v "$program" >/dev/null 2>&1 || { echo "test.sh: $program still missing after install" >&2; exit 1; }
    done
  else
    echo "test.sh: missing programs: ${missing_programs[*]}" >&2
    echo "Install them (Debian/Ubuntu) and run ./test.sh again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${packages[*]}" >&2
    exit 1
  fi
fi

if [[ $(id -u) -ne 0 && "${CI:-}" != "true" ]]; then
  echo "test.sh: not root: the containerd end-to-end tests will be skipped (they need root)." >&2
fi

mvn -B verify

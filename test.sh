#!/usr/bin/env bash
# Builds ocimirror and runs every test: unit tests, and end-to-end tests that drive the real
# skopeo, containerd (ctr), CNCF distribution (docker-registry), nginx and PostgreSQL on 127.0.0.1.
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

apt_updated=false
apt_install() {
  [[ $apt_updated == true ]] || { apt-get update; apt_updated=true; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

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
    apt_install "${packages[@]}"
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

# PostgreSQL for the shared-metadata tests, which start their own throw-away cluster with the
# binaries in /usr/lib/postgresql/<major>/bin. The package must not create and start a cluster
# of its own on port 5432: install postgresql-common first and switch that off, then postgresql.
if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  createcluster=/etc/postgresql-common/createcluster.conf
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: PostgreSQL missing; installing postgresql-common, then postgresql (without a main cluster)"
    apt_install postgresql-common
    if grep -qE '^[#[:space:]]*create_main_cluster' "$createcluster"; then
      sed -i -E 's/^[#[:space:]]*create_main_cluster.*/create_main_cluster = false/' "$createcluster"
    else
      echo 'create_main_cluster = false' >>"$createcluster"
    fi
    apt_install postgresql
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || { echo "test.sh: PostgreSQL still missing after install" >&2; exit 1; }
  else
    echo "test.sh: PostgreSQL is missing. Install it (Debian/Ubuntu) without a cluster on port 5432:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends postgresql-common" >&2
    echo "  sudo sed -i -E 's/^[#[:space:]]*create_main_cluster.*/create_main_cluster = false/' $createcluster" >&2
    echo "  sudo apt-get install -y --no-install-recommends postgresql" >&2
    exit 1
  fi
fi

if [[ $(id -u) -ne 0 && "${CI:-}" != "true" ]]; then
  echo "test.sh: not root: the containerd end-to-end tests will be skipped (they need root)." >&2
fi

mvn -B verify

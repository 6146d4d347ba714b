#!/bin/sh
# Installs the Debian packages flinc builds and tests with, only when one is
# missing (apt-get update runs at most once). Run as root, as on a fresh
# Debian 12 machine; without root it names what to install.
set -eu
PACKAGES="build-essential cmake pkg-config libcmocka-dev libyaml-dev libjansson-dev \
libxxhash-dev python3"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "flinc: missing Debian packages:$missing; install them with: sudo apt-get install$missing" >&2
    exit 1
fi
echo "flinc: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing

#!/bin/sh
# setup.sh — install everything kiln needs to build and test, with apt, idempotently.
#
# Every package comes from Debian 12 (bookworm) main. LLVM 19 is installed beside the
# distribution's default LLVM 14; the build always asks for the -19 names (TOOLCHAIN.md).
# graphviz checks (and draws) the graphs of `kiln compile --dot`.
# Running it again when everything is present costs one dpkg query and no apt call.
set -eu

pkgs="build-essential pkg-config meson ninja-build
      llvm-19-dev clang-19 lld-19 libclang-rt-19-dev libzstd-dev
      libxml2-dev libxml2-utils libjson-c-dev
      gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
      graphviz"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "setup: installing$missing" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends $missing

#!/usr/bin/env bash
# Installs what Yagura's tests and benchmark scripts need beyond Rust on Debian.
# The build and `cargo test --workspace` need nothing else; bench/*.sh use /usr/bin/time -v.
set -euo pipefail
if ! [ -x /usr/bin/time ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq time
fi
echo "setup: ok"

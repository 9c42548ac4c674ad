#!/usr/bin/env bash
# Installs what Yagura's tests and benchmark scripts need beyond Rust, on Debian:
#   - time (/usr/bin/time -v) for bench/*.sh;
#   - real log shippers for the end-to-end tests of `yagura serve`: rsyslog (+ its GnuTLS
#     driver), util-linux's `logger` (bsdutils), curl, openssl (test certificates), and
#     syslog-ng. syslog-ng-core conflicts with rsyslog as a package (both are the "system log
#     daemon"), so it is unpacked from Debian's .deb files into target/debian/syslog-ng and run
#     from there, next to the installed rsyslog;
#   - the official Python clients: elasticsearch (helpers.bulk) and the OpenTelemetry SDK
#     with its OTLP/HTTP log exporter;
#   - chdb (ClickHouse's engine) for bench/store.sh, which runs the same data and queries on it;
#   - blake3 and cryptography for scripts/verify-proof.py, the independent proof checker.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

need=()
[ -x /usr/bin/time ] || need+=(time)
command -v rsyslogd >/dev/null || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1 || need+=(rsyslog-gnutls)
command -v logger >/dev/null || need+=(bsdutils)
command -v curl >/dev/null || need+=(curl)
command -v openssl >/dev/null || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

SNG=target/debian/syslog-ng
if ! [ -x "$SNG/usr/sbin/syslog-ng" ]; then
    mkdir -p "$SNG" target/debian/debs
    (cd target/debian/debs && apt-get download -qq syslog-ng-core libivykis0 libnet1 libpcre3 libwrap0 >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq && apt-get download -qq syslog-ng-core libivykis0 libnet1 libpcre3 libwrap0; })
    for deb in target/debian/debs/*.deb; do dpkg -x "$deb" "$SNG"; done
fi
# target/debian/syslog-ng/run: syslog-ng with its unpacked libraries and modules.
cat > "$SNG/run" <<'SH'
#!/bin/sh
R="$(cd "$(dirname "$0")" && pwd)"
export LD_LIBRARY_PATH="$R/usr/lib/syslog-ng:$R/usr/lib/x86_64-linux-gnu:$R/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$R/usr/sbin/syslog-ng" --module-path="$R/usr/lib/syslog-ng/3.38" "$@"
SH
chmod +x "$SNG/run"

python3 -c 'import elasticsearch, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, chdb, blake3, cryptography, aiosmtpd' 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        elasticsearch opentelemetry-sdk opentelemetry-exporter-otlp-proto-http chdb blake3 cryptography aiosmtpd
echo "setup: ok"

#!/usr/bin/env bash
# redis-server for the job-queue tests (Debian's package; the tests start their own on loopback).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "redis-server is missing: install Debian's redis-server package (apt-get install redis-server)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends redis-server >/dev/null 2>&1 \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends redis-server >/dev/null; }
# Debian starts a system redis on 6379; the tests use their own, on a free port.
redis-server --version

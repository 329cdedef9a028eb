#!/usr/bin/env bash
# Installs, from Debian packages, what a purpose needs and is not on the machine yet:
#   test   what the test suite runs as real peers (python3 for a foreign instance program,
#          Prometheus to scrape and query, Chromium for the dashboard, tmux for `shoal top`)
#   bench  the load generator and peer proxies of bench/ (wrk, nginx, HAProxy)
set -euo pipefail
purpose="${1:-test}"

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
case "$purpose" in
  test)  want python3 python3; want curl curl; want prometheus prometheus; want chromium chromium; want tmux tmux ;;
  bench) want wrk wrk; want nginx nginx-light; want haproxy haproxy; want python3 python3 ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

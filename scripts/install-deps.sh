#!/usr/bin/env bash
# Installs, from Debian packages, what a purpose needs and is not on the machine yet:
#   test   what the test suite runs as real peers (python3 for a foreign instance program,
#          Prometheus to scrape and query, Chromium for the dashboard, tmux for `shoal top`,
#          Node.js and npm, Redis, its Prometheus exporter and PostgreSQL for the examples), then
#          the npm packages of examples/redis-node/api, and the Consul client library (py-consul,
#          from PyPI) that reads shoal's Consul-shaped catalog; Docker Engine and a static busybox
#          (the container tests start their own dockerd and build their image from it)
#   bench  the load generator and peer proxies of bench/ (wrk, nginx, HAProxy, redis-benchmark)
set -euo pipefail
purpose="${1:-test}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

need=()
want() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
case "$purpose" in
  test)  want python3 python3; python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
         want curl curl; want prometheus prometheus; want chromium chromium; want tmux tmux
         want node nodejs; want npm npm; want redis-server redis-server; want redis-cli redis-tools
         want prometheus-redis-exporter prometheus-redis-exporter
         ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need+=(postgresql)
         want dockerd docker.io; want busybox busybox-static ;;
  bench) want wrk wrk; want nginx nginx-light; want haproxy haproxy; want python3 python3
         want redis-benchmark redis-tools; want redis-server redis-server ;;
  *) echo "usage: $0 test|bench" >&2; exit 2 ;;
esac

if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "$purpose" = test ]; then
  # The example's API runs from its own node_modules: install them when missing or older than the lockfile.
  api="$root/examples/redis-node/api"
  if [ ! -f "$api/node_modules/.package-lock.json" ] || [ "$api/package-lock.json" -nt "$api/node_modules/.package-lock.json" ]; then
    echo "==> npm ci in examples/redis-node/api"
    npm ci --no-audit --no-fund --prefix "$api"
  fi
  # The catalog test reads shoal through a real Consul client library. A Debian python3 refuses
  # pip installs outside a venv (PEP 668) unless told to.
  if ! python3 -c 'import consul' 2>/dev/null; then
    echo "==> pip install py-consul"
    export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
    python3 -m pip install -q 'py-consul==1.8.0' 2>/dev/null \
      || python3 -m pip install -q --break-system-packages 'py-consul==1.8.0'
  fi
fi

#!/usr/bin/env bash
# Helpers shared by the benchmark scripts (sourced, not run).

log() { printf '==> %s\n' "$*" >&2; }

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

stop_pid() { # pid: TERM, wait up to 5 s, then KILL
    local pid=$1 i
    alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do alive "$pid" || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}

fill() { # template output key=value...
    local in=$1 out=$2 args=() kv
    shift 2
    for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
    sed "${args[@]}" "$in" >"$out"
}

machine_ticks() { # "busy total" clock ticks of all CPUs since boot
    awk '/^cpu / {busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6; exit}' /proc/stat
}

busy_pct() { # share of all CPU time that was busy over the next second
    local b0 t0 b1 t1
    read -r b0 t0 < <(machine_ticks)
    sleep 1
    read -r b1 t1 < <(machine_ticks)
    awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) 'BEGIN { printf "%d", t ? 100 * b / t : 0 }'
}
free_ports() { # n: n distinct free loopback ports, all held open until every one is chosen
    python3 -c '
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*(s.getsockname()[1] for s in socks))
' "$1"
}

finish_run() { # rc: keep the run directory on failure or with KEEP_TMP=1, else remove it; exit rc
    local rc=$1
    if [[ ${KEEP_TMP:-0} == 1 || $rc != 0 ]]; then
        log "run directory kept: $run"
    else
        rm -rf "$run"
    fi
    exit "$rc"
}

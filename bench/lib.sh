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

softirq_ticks() { # clock ticks all CPUs spent in softirqs since boot (loopback traffic is mostly that)
    awk '/^cpu / {print $8; exit}' /proc/stat
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

# --- CPU accounting of a measured run (gateway.sh, tcp.sh) -------------------------------------
CLK_TCK=${CLK_TCK:-$(getconf CLK_TCK)}

cpu_ticks() { # pids... and their children: utime+stime in clock ticks
    local total=0 p c t
    for p in "$@"; do
        [[ -n $p && -r /proc/$p/stat ]] || continue
        t=$(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')
        total=$((total + t))
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
            [[ -r /proc/$c/stat ]] || continue
            t=$(sed 's/.*) //' "/proc/$c/stat" | awk '{print $12 + $13}')
            total=$((total + t))
        done
    done
    echo "$total"
}

child_ticks() { # CPU of this shell's finished children (wrk...) in clock ticks, into $run/ticks;
    # the builtin `times` must run in this shell, not in a $(...) subshell
    times >"$run/times"
    awk -v hz="$CLK_TCK" 'NR == 2 {
        t = 0
        for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
        printf "%d", t * hz }' "$run/times" >"$run/ticks"
}

other_pct() { # busy total ours (tick deltas of one run): % of all CPU time busy outside "ours"
    awk -v busy="$1" -v total="$2" -v ours="$3" \
        'BEGIN { o = busy - ours; if (o < 0) o = 0; printf "%.1f", total ? 100 * o / total : 0 }'
}

wait_quiet() { # before a row: wait up to QUIET_WAIT s for other work to use under 10% of the CPUs;
    # leaves the seconds waited in QUIET_WAITED and, if it gave up, the last busy share in QUIET_BUSY
    local waited=0 pct
    QUIET_WAITED=0 QUIET_BUSY=""
    while pct=$(busy_pct) && ((pct >= 10)); do
        ((waited == 0)) && log "machine busy ($pct% CPU): waiting up to ${QUIET_WAIT}s for it to calm down"
        waited=$((waited + 1))
        QUIET_WAITED=$waited
        if ((waited >= QUIET_WAIT)); then
            log "still busy ($pct% CPU) after ${QUIET_WAIT}s: measuring anyway"
            QUIET_BUSY=$pct
            return 0
        fi
    done
}

ratio() { # a b: a / b to two decimals, n/a when either is not a number or b is 0
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

start_shoal() { # spec log: validates the spec, starts `shoal up` in the background; sets shoal_pid
    local spec=$1 out=$2
    if [[ -n ${GATEWAY_THREADS:-} ]]; then
        sed -i "s/^\[gateway\]$/[gateway]\nthreads = $GATEWAY_THREADS/" "$spec"
    fi
    "$SHOAL" validate -f "$spec" >/dev/null
    "$SHOAL" up -f "$spec" >"$out" 2>&1 &
    shoal_pid=$!
}

wait_healthy_instance() { # spec service: prints "port pid" of the service's first healthy instance (30 s)
    local spec=$1 service=$2 found
    for _ in $(seq 60); do
        alive "$shoal_pid" || die "shoal exited during startup"
        found=$("$SHOAL" status -f "$spec" -o json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    for i in s["instances"]:
        if s["name"] == sys.argv[1] and i["state"] == "healthy" and i["port"] and i["pid"]:
            print(i["port"], i["pid"])
            sys.exit(0)
' "$service" 2>/dev/null) && [[ -n $found ]] && { echo "$found"; return 0; }
        sleep 0.5
    done
    die "the $service instance did not become healthy within 30 s"
}

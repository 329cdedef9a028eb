#!/usr/bin/env bash
# TCP listener benchmark: what does relaying a Redis workload through shoal's per-service TCP
# listener cost, compared with no proxy at all and with HAProxy in `mode tcp`?
#
# One redis-server is started BY shoal as the single instance of service `cache` (with a TCP
# listener), so the very same redis-server process serves all three rows, measured in one run:
#
#   direct   redis-benchmark -> redis-server
#   shoal    redis-benchmark -> shoal's TCP listener -> redis-server
#   HAProxy  redis-benchmark -> haproxy (nbthread 1, mode tcp) -> redis-server
#
# Each row: a warm-up (SET and GET, discarded), then SET and GET measured one at a time with
# `redis-benchmark -c $CLIENTS -n $REQUESTS -P 1 -t TEST --csv` (keep-alive connections, no
# pipelining). With PIPELINE=16 (the default) the three rows are then run again with `-P 16`
# (16 commands in flight per connection). Loopback only, rows one after the other.
#
# How to read it: redis-benchmark, the proxy and redis-server share the machine's cores, so on a
# small machine every row is CPU-bound and absolute req/s mostly measure the machine. Compare the
# ratios: shoal/X req/s above 1 means shoal served more requests per second than X; shoal/X p99
# below 1 means shoal's tail latency was lower. "proxy CPU" is CPU time the proxy process used per
# request during the measured run (lower is cheaper). Nothing is asserted: it is a measurement.
#
# Usage: bench/tcp.sh            (from any directory)
#   env: REQUESTS=500000         requests per measured -P 1 test
#        PIPELINE=16             pipeline depth of the extra row set (0 or 1: no extra rows)
#        PIPELINED_REQUESTS=2000000  requests per measured pipelined test
#        CLIENTS=50              redis-benchmark connections (-c)
#        WARMUP_REQUESTS=20000   requests per warm-up test (x PIPELINE for the pipelined rows)
#        SKIP_BUILD=1            use the existing target/release/shoal
#        GATEWAY_THREADS=N       shoal's gateway runtime threads ([gateway] threads; default: half
#                                the CPUs, at least one)
#        QUIET_WAIT=300          before each row, wait up to this many seconds for the machine's
#                                CPUs to be under 10% busy (other work skews every figure)
#        ROW_ATTEMPTS=3          measure a test again (up to this many times in all) when other
#                                processes used over 10% of the CPUs during its run
#        PROFILE=1               after the rows, count the proxies' syscalls and context switches
#                                per GET (perf stat on tracepoints, else strace -c) in a separate,
#                                unmeasured run of PROFILE_REQUESTS (default 100000); PROFILE=0: skip
#        OUT=path                results file (default bench/results/tcp.md)
#        KEEP_TMP=1              keep the run directory (configs, logs, raw output) after the run
# Installs redis-benchmark, HAProxy and python3 with `scripts/install-deps.sh bench` (as root) when
# missing, and redis-server with apt-get.
set -euo pipefail

REQUESTS=${REQUESTS:-500000}
PIPELINE=${PIPELINE:-16}
PIPELINED_REQUESTS=${PIPELINED_REQUESTS:-2000000}
CLIENTS=${CLIENTS:-50}
WARMUP_REQUESTS=${WARMUP_REQUESTS:-20000}
QUIET_WAIT=${QUIET_WAIT:-300}
ROW_ATTEMPTS=${ROW_ATTEMPTS:-3}
PROFILE=${PROFILE:-1}
PROFILE_REQUESTS=${PROFILE_REQUESTS:-100000}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
cd "$root"
tpl="$root/bench/tcp"
OUT=${OUT:-$root/bench/results/tcp.md}
started=$(date +%s)

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

# shellcheck source=bench/lib.sh
source "$here/lib.sh"

# --- peers -------------------------------------------------------------------------------------
PATH=$PATH:/usr/sbin
if ! command -v redis-benchmark >/dev/null || ! command -v redis-cli >/dev/null ||
    ! command -v haproxy >/dev/null || ! command -v python3 >/dev/null; then
    log "scripts/install-deps.sh bench"
    "$root/scripts/install-deps.sh" bench
fi
if ! command -v redis-server >/dev/null; then
    # install-deps.sh bench does not list the server; only the package, its system service is
    # not used (own config, own port).
    log "installing redis-server"
    if [[ $(id -u) != 0 ]]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
REDIS_SERVER=$(command -v redis-server)
RB=$(command -v redis-benchmark)
REDIS_CLI=$(command -v redis-cli)
HAPROXY=$(command -v haproxy)

# --- shoal -------------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "cargo build --release -p shoal"
    cargo build --release -p shoal
fi
SHOAL="$root/target/release/shoal"
[[ -x $SHOAL ]] || die "$SHOAL not found (build it or unset SKIP_BUILD)"
# The revision the binary was built from, read now: the tree may move on during the run.
shoal_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null) ]] ||
    shoal_rev="$shoal_rev (plus uncommitted changes in the working tree)"
[[ ${SKIP_BUILD:-0} == 1 ]] && shoal_rev="$shoal_rev (SKIP_BUILD=1: binary from $(date -u -r "$SHOAL"))"

# --- run directory, ports, cleanup ------------------------------------------------------------
run=$(mktemp -d /tmp/shoal-bench-tcp.XXXXXX)
spec="$run/shoal.toml"
shoal_pid="" haproxy_pid="" redis_pid="" probe_pid=""

cleanup() {
    local rc=$?
    set +e
    stop_pid "$probe_pid"
    stop_pid "$haproxy_pid"
    if alive "$shoal_pid"; then
        timeout 30 "$SHOAL" down -f "$spec" >/dev/null 2>&1
        for _ in $(seq 50); do alive "$shoal_pid" || break; sleep 0.1; done
        stop_pid "$shoal_pid"
    fi
    stop_pid "$redis_pid" # normally already stopped by shoal
    wait 2>/dev/null
    if ((rc != 0)) && [[ -f $run/shoal.log ]]; then
        printf '\n--- shoal log (tail) ---\n' >&2
        tail -n 40 "$run/shoal.log" >&2
        for f in "$run"/shoal-data/logs/*.log "$run"/haproxy/haproxy.log; do
            [[ -f $f ]] || continue
            printf -- '--- %s (tail) ---\n' "${f#"$run"/}" >&2
            tail -n 20 "$f" >&2
        done
    fi
    finish_run "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r GW_PORT ADMIN_PORT TCP_PORT HAPROXY_PORT < <(free_ports 4)

# --- start shoal (which starts redis-server) ---------------------------------------------------
mkdir -p "$run/redis" "$run/haproxy"
fill "$tpl/shoal.toml.in" "$spec" RUN="$run" GW_PORT="$GW_PORT" ADMIN_PORT="$ADMIN_PORT" \
    TCP_PORT="$TCP_PORT" REDIS_SERVER="$REDIS_SERVER"
log "starting shoal (TCP listener 127.0.0.1:$TCP_PORT)"
start_shoal "$spec" "$run/shoal.log"
instance=$(wait_healthy_instance "$spec" cache)
read -r REDIS_PORT redis_pid <<<"$instance"
log "redis-server healthy: 127.0.0.1:$REDIS_PORT (pid $redis_pid)"

# --- start HAProxy in front of the same redis-server -------------------------------------------
fill "$tpl/haproxy.cfg.in" "$run/haproxy/haproxy.cfg" PORT="$HAPROXY_PORT" BACKEND_PORT="$REDIS_PORT"
"$HAPROXY" -db -f "$run/haproxy/haproxy.cfg" >"$run/haproxy/haproxy.log" 2>&1 &
haproxy_pid=$!

declare -A PORT=([direct]="$REDIS_PORT" [shoal]="$TCP_PORT" [HAProxy]="$HAPROXY_PORT")
declare -A PIDOF=([direct]="" [shoal]="$shoal_pid" [HAProxy]="$haproxy_pid")
declare -A PATHOF=(
    [direct]="redis-benchmark → redis-server"
    [shoal]="redis-benchmark → shoal → redis-server"
    [HAProxy]="redis-benchmark → HAProxy → redis-server"
)
ROWS=(direct shoal HAProxy)
TESTS=(SET GET)
DEPTHS=(1)
((PIPELINE > 1)) && DEPTHS+=("$PIPELINE")

# Every row must answer PING with PONG before anything is measured.
for row in "${ROWS[@]}"; do
    reply=""
    for _ in $(seq 50); do
        reply=$("$REDIS_CLI" -h 127.0.0.1 -p "${PORT[$row]}" PING 2>/dev/null) && [[ $reply == PONG ]] && break
        reply=""
        sleep 0.2
    done
    [[ $reply == PONG ]] || die "$row (127.0.0.1:${PORT[$row]}) does not answer PING with PONG"
done

# --- measure -----------------------------------------------------------------------------------
bench_cmd() { # port depth test requests: the redis-benchmark command line
    printf '%s' "$RB -h 127.0.0.1 -p $1 -c $CLIENTS -n $4 -P $2 -t $3 --csv"
}

requests_for() { # depth: requests of a measured test
    if (($1 > 1)); then echo "$PIPELINED_REQUESTS"; else echo "$REQUESTS"; fi
}

parse_csv() { # file test: "rps p50 p99" from redis-benchmark --csv output ("nan" where missing)
    # redis-benchmark >= 6.2 prints a header ("test","rps","avg_latency_ms",...,"p99_latency_ms",
    # ...); older ones print only "TEST","rps" rows. Columns are found by name.
    python3 - "$1" "$2" <<'EOF'
import csv, sys
want = {"rps": "nan", "p50_latency_ms": "nan", "p99_latency_ms": "nan"}
header = None
with open(sys.argv[1], errors="replace") as f:
    for r in csv.reader(f):
        if not r:
            continue
        if r[0].strip().lower() == "test":
            header = [h.strip().lower() for h in r]
            continue
        if r[0].strip().upper() != sys.argv[2].upper():
            continue
        rec = dict(zip(header, r)) if header else {"rps": r[1] if len(r) > 1 else ""}
        for k in want:
            try:
                float(rec.get(k, ""))
                want[k] = rec[k]
            except ValueError:
                pass
print(want["rps"], want["p50_latency_ms"], want["p99_latency_ms"])
EOF
}

declare -A RPS P50 P99 ERR CPU OTHER TRIES WAITED
# key: row/depth/test

measure() { # key row depth test: one measured redis-benchmark run; sets OTHER[key], cpu/rc
    local key=$1 row=$2 depth=$3 test=$4 n busy0 total0 busy1 total1 ours0 ours1 rb0 rb1 irq0 irq1
    n=$(requests_for "$depth")
    log "$row: $(bench_cmd "${PORT[$row]}" "$depth" "$test" "$n")"
    read -r busy0 total0 < <(machine_ticks)
    irq0=$(softirq_ticks)
    ours0=$(cpu_ticks "$redis_pid")
    child_ticks
    rb0=$(<"$run/ticks")
    # shellcheck disable=SC2086 # PIDOF is empty for the direct row: no proxy
    cpu0=$(cpu_ticks ${PIDOF[$row]})
    rc=0
    "$RB" -h 127.0.0.1 -p "${PORT[$row]}" -c "$CLIENTS" -n "$n" -P "$depth" -t "$test" --csv \
        >"$run/rb-${key//\//-}.csv" 2>"$run/rb-${key//\//-}.err" || rc=$?
    # shellcheck disable=SC2086
    cpu1=$(cpu_ticks ${PIDOF[$row]})
    child_ticks
    rb1=$(<"$run/ticks")
    ours1=$(cpu_ticks "$redis_pid")
    irq1=$(softirq_ticks)
    read -r busy1 total1 < <(machine_ticks)
    ((rc == 0)) || log "$row: redis-benchmark exited with status $rc"
    # Share of the machine's CPU time used by anything other than redis-benchmark, this row's
    # proxy and redis-server: other work running during the measurement. Softirq time counts as
    # ours: it is mostly the kernel moving this benchmark's loopback packets (up to a fifth of the
    # machine in the pipelined rows), charged to no process.
    OTHER[$key]=$(other_pct $((busy1 - busy0)) $((total1 - total0)) \
        $((ours1 - ours0 + rb1 - rb0 + cpu1 - cpu0 + irq1 - irq0)))
}

for depth in "${DEPTHS[@]}"; do
    for row in "${ROWS[@]}"; do
        wait_quiet
        warm=$((WARMUP_REQUESTS * depth))
        log "$row -P $depth: warm-up (SET, GET, $warm requests each)"
        "$RB" -h 127.0.0.1 -p "${PORT[$row]}" -c "$CLIENTS" -n "$warm" -P "$depth" -t set,get --csv \
            >"$run/warmup-$row-$depth.csv" 2>&1 || log "$row: warm-up redis-benchmark exited with status $?"
        for test in "${TESTS[@]}"; do
            key="$row/$depth/$test"
            # The row's wait comes before its first test; the others follow at once.
            if [[ $test == "${TESTS[0]}" ]]; then
                WAITED[$key]=$QUIET_WAITED${QUIET_BUSY:+ (gave up at $QUIET_BUSY% busy)}
            else
                WAITED[$key]=0
            fi
            TRIES[$key]=1
            measure "$key" "$row" "$depth" "$test"
            # Other work that took a real share of the CPUs skews the test: measure it again.
            while awk -v o="${OTHER[$key]}" 'BEGIN { exit !(o > 10) }' && ((TRIES[$key] < ROW_ATTEMPTS)); do
                log "$row -P $depth $test: other processes used ${OTHER[$key]}% of the CPUs: measuring again"
                TRIES[$key]=$((TRIES[$key] + 1))
                wait_quiet
                WAITED[$key]="${WAITED[$key]} + $QUIET_WAITED${QUIET_BUSY:+ (gave up at $QUIET_BUSY% busy)}"
                measure "$key" "$row" "$depth" "$test"
            done
            f="$run/rb-${key//\//-}.csv"
            read -r rps p50 p99 < <(parse_csv "$f" "$test")
            RPS[$key]=$rps P50[$key]=$p50 P99[$key]=$p99
            log "$row -P $depth $test: $rps req/s, p50 $p50 ms, p99 $p99 ms (other processes ${OTHER[$key]}%)"
            errs=()
            ((rc == 0)) || errs+=("exit status $rc")
            nerr=$(grep -ci 'error' "$run/rb-${key//\//-}.err" || true)
            ((nerr == 0)) || errs+=("$nerr error lines")
            [[ $rps != nan ]] || errs+=("no result")
            if ((${#errs[@]})); then ERR[$key]=$(IFS=';'; echo "${errs[*]}" | sed 's/;/; /g'); else ERR[$key]=none; fi
            if [[ -n ${PIDOF[$row]} ]]; then
                CPU[$key]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$(requests_for "$depth")" \
                    'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
            else
                CPU[$key]="–"
            fi
        done
    done
done

# --- profile: syscalls and context switches per request of each proxy (unmeasured runs) --------
declare -A PROF
prof_tool=""
prof_events="raw_syscalls:sys_enter,context-switches"
if [[ $PROFILE == 1 ]]; then
    if command -v perf >/dev/null && perf stat -e "$prof_events" -- true >/dev/null 2>&1; then
        prof_tool=perf
        # One counter per syscall, when the kernel has the syscall tracepoints.
        if perf stat -e 'syscalls:sys_enter_*' -- true >/dev/null 2>&1; then
            prof_events+=',syscalls:sys_enter_*'
        fi
    elif command -v strace >/dev/null; then
        prof_tool=strace
    else
        log "profile skipped: neither perf (with tracepoints) nor strace is available"
    fi
fi

profile_row() { # row: GET -P 1 through the row's proxy with perf stat (or strace -c) attached
    local row=$1 pid=${PIDOF[$1]} out="$run/profile-$1.txt"
    wait_quiet
    log "$row: profile ($prof_tool) of $PROFILE_REQUESTS GETs"
    if [[ $prof_tool == perf ]]; then
        perf stat -x, -e "$prof_events" -p "$pid" -o "$out" &
    else
        strace -c -f -p "$pid" -o "$out" &
    fi
    probe_pid=$!
    sleep 1 # attached before the load starts
    "$RB" -h 127.0.0.1 -p "${PORT[$row]}" -c "$CLIENTS" -n "$PROFILE_REQUESTS" -P 1 -t get --csv \
        >"$run/profile-$row.csv" 2>&1 || log "$row: profile redis-benchmark exited with status $?"
    kill -INT "$probe_pid" 2>/dev/null || true
    wait "$probe_pid" 2>/dev/null || true
    probe_pid=""
    # "syscalls ctxsw top" per request; top: the busiest syscalls as name=calls/request
    PROF[$row]=$(python3 - "$prof_tool" "$out" "$PROFILE_REQUESTS" <<'EOF'
import re, sys
tool, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
calls, total, ctx = {}, None, None
for line in open(path, errors="replace"):
    if tool == "perf":
        f = line.strip().split(",")
        if len(f) < 3 or not f[0].replace(".", "").isdigit():
            continue
        v, ev = float(f[0]), f[2]
        if ev == "raw_syscalls:sys_enter":
            total = v
        elif ev == "context-switches":
            ctx = v
        elif ev.startswith("syscalls:sys_enter_"):
            calls[ev[len("syscalls:sys_enter_"):]] = v
    else:
        f = line.split()
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[3].isdigit():
            if f[-1] == "total":
                total = float(f[3])
            else:
                calls[f[-1]] = float(f[3])
fmt = lambda v: "n/a" if v is None else f"{v / n:.2f}"
top = sorted(((v, k) for k, v in calls.items() if v / n >= 0.01), reverse=True)[:6]
print(fmt(total), fmt(ctx), " ".join(f"{k}={v / n:.2f}" for v, k in top) or "n/a")
EOF
)
}

if [[ -n $prof_tool ]]; then
    for row in shoal HAProxy; do profile_row "$row"; done
fi

# --- report ------------------------------------------------------------------------------------
shoal_threads=${GATEWAY_THREADS:-$(( ($(nproc) + 1) / 2 )) (the default: half the CPUs, at least one)}
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(free -m | awk '/^Mem:/ {printf "%s MiB total, %s MiB free, %s MiB available", $2, $4, $7}')
elapsed=$(($(date +%s) - started))
others=$(for depth in "${DEPTHS[@]}"; do for row in "${ROWS[@]}"; do for test in "${TESTS[@]}"; do
    key="$row/$depth/$test"
    printf '%s -P %s %s %s%%' "$row" "$depth" "$test" "${OTHER[$key]}"
    ((TRIES[$key] > 1)) && printf ' (attempt %s of at most %s)' "${TRIES[$key]}" "$ROW_ATTEMPTS"
    printf ', '
done; done; done | sed 's/, $//')
waits=$(for depth in "${DEPTHS[@]}"; do for row in "${ROWS[@]}"; do
    printf '%s -P %s %s s' "$row" "$depth" "${WAITED[$row/$depth/${TESTS[0]}]}"
    for test in "${TESTS[@]:1}"; do
        [[ ${WAITED[$row/$depth/$test]} == 0 ]] || printf ' (%s: %s s)' "$test" "${WAITED[$row/$depth/$test]}"
    done
    printf ', '
done; done | sed 's/, $//')
gave_up=$(for k in "${!WAITED[@]}"; do
    if [[ ${WAITED[$k]} == *"gave up"* ]]; then echo "$k"; fi
done | sort | tr '\n' ' ' | sed 's/ $//')
disturbed=$(for k in "${!OTHER[@]}"; do
    if awk -v o="${OTHER[$k]}" 'BEGIN { exit !(o > 10) }'; then echo "$k"; fi
done | sort | tr '\n' ' ' | sed 's/ $//')

report=$(
    cat <<EOF
# TCP listener benchmark

$(date -u) — \`bench/tcp.sh\` ($elapsed s)

| Row | Path | Pipeline | Test | Req/s | p50 (ms) | p99 (ms) | Proxy CPU (µs/req) | Errors |
|---|---|---:|---|---:|---:|---:|---:|---|
EOF
    for depth in "${DEPTHS[@]}"; do for row in "${ROWS[@]}"; do for test in "${TESTS[@]}"; do
        key="$row/$depth/$test"
        printf '| %s | %s | %s | %s | %.0f | %s | %s | %s | %s |\n' "$row" "${PATHOF[$row]}" "$depth" \
            "$test" "${RPS[$key]}" "${P50[$key]}" "${P99[$key]}" "${CPU[$key]}" "${ERR[$key]}"
    done; done; done
    cat <<EOF

| Ratio | Pipeline | Test | Req/s | p99 |
|---|---:|---|---:|---:|
EOF
    for depth in "${DEPTHS[@]}"; do for other in HAProxy direct; do for test in "${TESTS[@]}"; do
        printf '| shoal / %s | %s | %s | %s | %s |\n' "$other" "$depth" "$test" \
            "$(ratio "${RPS[shoal/$depth/$test]}" "${RPS[$other/$depth/$test]}")" \
            "$(ratio "${P99[shoal/$depth/$test]}" "${P99[$other/$depth/$test]}")"
    done; done; done
    cat <<EOF

Req/s ratio above 1: shoal served more requests per second. p99 ratio below 1: shoal's tail
latency was lower. Proxy CPU: user+system CPU time of the proxy's process (shoal: the whole
\`shoal up\` process with its control plane, and the instance's shim, not redis-server itself;
HAProxy: its process) during the measured run, divided by the requests of the run. Latencies
are redis-benchmark's, per command (with \`-P 16\`, from sending a batch of 16 to its reply).
EOF
    if [[ -n $prof_tool ]]; then
        cat <<EOF

### Syscalls per request (profile)

A separate, unmeasured run per proxy after the table: \`$(bench_cmd PORT 1 get "$PROFILE_REQUESTS")\`
with $(if [[ $prof_tool == perf ]]; then
            echo "\`perf stat -e $prof_events -p PID\`"
        else
            echo "\`strace -c -f -p PID\` (strace slows the proxy, so batching differs from the table's runs)"
        fi) attached to the proxy. Per GET (each carries one request and one reply through the proxy):

| Proxy | Syscalls | Context switches | Busiest syscalls (calls per GET) |
|---|---:|---:|---|
EOF
        for row in shoal HAProxy; do
            read -r sc cs top <<<"${PROF[$row]}"
            printf '| %s | %s | %s | %s |\n' "$row" "$sc" "$cs" "$top"
        done
    fi
    cat <<EOF

## Read with care

- This machine has $(nproc) cores. redis-benchmark (one thread), the proxy and redis-server all
  share them, so every row is CPU-bound: absolute req/s and latencies say more about the machine
  than about the proxies. The proxied rows suffer alike; the ratios are the meaningful figures.
- The direct row has one process fewer competing for the cores and one hop fewer, so it is an
  upper bound, not a like-for-like baseline.
- HAProxy runs 1 thread; shoal's gateway runs on its own async runtime with $shoal_threads
  worker threads (the control plane has its own). shoal runs redis-server in a cgroup with its
  default CPU limit (1 CPU); the same process serves every row, so all rows share that limit.
- Other work on the machine skews the tests it overlaps. Before each row the script waits (up to
  ${QUIET_WAIT} s) for the CPUs to be under 10% busy. Load average when the script started:
  $load_at_start. Seconds waited before each row: $waits.$(
        [[ -n $gave_up ]] && printf '\n  **The machine stayed busy: the wait gave up (measured anyway) before %s.**' "$gave_up")
  Share of all CPU time used by processes other than redis-benchmark, the row's proxy and
  redis-server (softirq time, the kernel's loopback traffic, counts as theirs) during each test's
  reported run: $others. A test is measured again when that share
  is above 10%.$(
        [[ -n $disturbed ]] && printf '\n  **Still above 10%% after %s attempts (disturbed): %s.**' "$ROW_ATTEMPTS" "$disturbed")

## Parameters

- Each row: a warm-up \`$(bench_cmd PORT 'DEPTH' set,get "$WARMUP_REQUESTS×DEPTH")\` (discarded),
  then \`$(bench_cmd PORT 1 'set|get' "$REQUESTS")\` for SET, then for GET$(
        ((PIPELINE > 1)) && printf '; the pipelined rows\n  the same with `-P %s -n %s`' "$PIPELINE" "$PIPELINED_REQUESTS").
  Rows run one after the other in the order of the table, against one and the same redis-server
  process. Loopback only; keep-alive connections (redis-benchmark's default), ${CLIENTS} of them.
  Default payload (\`-d 3\`), one key (no \`-r\`).
- redis-server: started by shoal as the single instance of service \`cache\`,
  \`--save "" --appendonly no --protected-mode no\` (no persistence).
- shoal: \`bench/tcp/shoal.toml.in\` (\`tcp = { listen = "127.0.0.1:PORT", max_connections = 4096 }\`,
  health \`send = "PING\\r\\n", expect = "+PONG"\` every 1 s, gateway defaults otherwise).
- HAProxy: \`bench/tcp/haproxy.cfg.in\` (\`nbthread 1\`, \`mode tcp\`, \`timeout connect 1s\`,
  \`timeout client/server 60s\`, \`maxconn 4096\`).

## Machine

- CPUs: $(nproc) × $cpu_model
- Kernel: $(uname -r)
- Memory: $mem

## Versions

- shoal: $shoal_rev — \`$("$SHOAL" --version)\`
- $("$REDIS_SERVER" --version)
- $("$RB" --version 2>&1 | head -n 1)
- $("$HAPROXY" -v | head -n 1)

## Command

\`\`\`sh
$(env | grep -E '^(REQUESTS|PIPELINE|PIPELINED_REQUESTS|CLIENTS|WARMUP_REQUESTS|SKIP_BUILD|GATEWAY_THREADS|QUIET_WAIT|ROW_ATTEMPTS|PROFILE|PROFILE_REQUESTS)=' | sort | tr '\n' ' ')bench/tcp.sh
\`\`\`

## Raw redis-benchmark output (--csv)

EOF
    for depth in "${DEPTHS[@]}"; do for row in "${ROWS[@]}"; do for test in "${TESTS[@]}"; do
        key="$row/$depth/$test"
        printf '<details><summary>%s -P %s %s — 127.0.0.1:%s</summary>\n\n```\n%s\n```\n\n</details>\n\n' \
            "$row" "$depth" "$test" "${PORT[$row]}" "$(cat "$run/rb-${key//\//-}.csv")"
    done; done; done
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$report" >"$OUT"
printf '\n%s\n' "$(sed -n '/^| Row/,/^Req\/s ratio/p' "$OUT" | sed '$d')"
log "written to ${OUT#"$root"/}"

#!/usr/bin/env bash
# Gateway benchmark: what does putting shoal's gateway in front of a backend cost, compared with
# no proxy at all and with nginx and HAProxy doing the same job?
#
# One backend (nginx, 1 worker, `return 200 "ok\n"`, keep-alive) is started BY shoal as the single
# instance of a service, so the very same backend process serves all four rows, measured in one run:
#
#   direct   wrk -> backend
#   shoal    wrk -> shoal gateway -> backend
#   nginx    wrk -> nginx (1 worker, upstream keep-alive 64) -> backend
#   HAProxy  wrk -> haproxy (nbthread 1, http-reuse always) -> backend
#
# Each row: a warm-up run (discarded), then `wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency`.
# Keep-alive on both sides, loopback only, rows one after the other.
#
# How to read it: wrk, the proxy and the backend share the machine's cores, so on a small machine
# every row is CPU-bound and absolute req/s mostly measure the machine. Compare the ratios:
# shoal/X req/s above 1 means shoal served more requests per second than X; shoal/X p99 below 1
# means shoal's tail latency was lower. "proxy CPU" is CPU time the proxy process(es) used per
# request during the measured run (lower is cheaper). Nothing is asserted: it is a measurement.
#
# Usage: bench/gateway.sh            (from any directory)
#   env: DURATION=15s CONNECTIONS=64 THREADS=2 WARMUP=3s
#        SKIP_BUILD=1            use the existing target/release/shoal
#        GATEWAY_THREADS=N       shoal's gateway runtime threads ([gateway] threads; default: half
#                                the CPUs, at least one)
#        QUIET_WAIT=300          before each row, wait up to this many seconds for the machine's
#                                CPUs to be under 10% busy (other work skews every figure)
#        ROW_ATTEMPTS=3          measure a row again (up to this many times in all) when other
#                                processes used over 10% of the CPUs during its run
#        OUT=path                results file (default bench/results/gateway.md)
#        KEEP_TMP=1              keep the run directory (configs, logs) after the run
# Needs root only to install wrk, nginx-light, haproxy, curl with apt-get when they are missing.
set -euo pipefail

DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-3s}
QUIET_WAIT=${QUIET_WAIT:-300}
ROW_ATTEMPTS=${ROW_ATTEMPTS:-3}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
cd "$root"
tpl="$root/bench/gateway"
OUT=${OUT:-$root/bench/results/gateway.md}

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- peers -------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    # Only the packages; the system services they ship are not used (own configs, own ports).
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
PATH=$PATH:/usr/sbin
NGINX=$(command -v nginx)
HAPROXY=$(command -v haproxy)
WRK=$(command -v wrk)

# --- shoal -------------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "cargo build --release -p shoal -p taskboard"
    cargo build --release -p shoal -p taskboard
fi
SHOAL="$root/target/release/shoal"
[[ -x $SHOAL ]] || die "$SHOAL not found (build it or unset SKIP_BUILD)"
# The revision the binary was built from, read now: the tree may move on during the run.
shoal_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null) ]] ||
    shoal_rev="$shoal_rev (plus uncommitted changes in the working tree)"
[[ ${SKIP_BUILD:-0} == 1 ]] && shoal_rev="$shoal_rev (SKIP_BUILD=1: binary from $(date -u -r "$SHOAL"))"

# --- run directory, ports, cleanup ------------------------------------------------------------
run=$(mktemp -d /tmp/shoal-bench-gateway.XXXXXX)
chmod 755 "$run" # nginx workers run as an unprivileged user
spec="$run/shoal.toml"
shoal_pid="" front_pid="" haproxy_pid="" backend_pid=""



cleanup() {
    local rc=$?
    set +e
    stop_pid "$front_pid"
    stop_pid "$haproxy_pid"
    if alive "$shoal_pid"; then
        timeout 30 "$SHOAL" down -f "$spec" >/dev/null 2>&1
        for _ in $(seq 50); do alive "$shoal_pid" || break; sleep 0.1; done
        stop_pid "$shoal_pid"
    fi
    stop_pid "$backend_pid" # normally already stopped by shoal
    wait 2>/dev/null
    if ((rc != 0)) && [[ -f $run/shoal.log ]]; then
        printf '\n--- shoal log (tail) ---\n' >&2
        tail -n 40 "$run/shoal.log" >&2
        for f in "$run"/shoal-data/logs/*.log; do
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

read -r GW_PORT ADMIN_PORT FRONT_PORT HAPROXY_PORT < <(free_ports 4)


# --- start shoal (which starts the backend) ----------------------------------------------------
fill "$tpl/shoal.toml.in" "$spec" RUN="$run" GW_PORT="$GW_PORT" ADMIN_PORT="$ADMIN_PORT" \
    BACKEND_SH="$tpl/backend.sh" NGINX="$NGINX"
log "starting shoal (gateway 127.0.0.1:$GW_PORT)"
start_shoal "$spec" "$run/shoal.log"
backend=$(wait_healthy_instance "$spec" backend)
read -r BACKEND_PORT backend_pid <<<"$backend"
log "backend healthy: 127.0.0.1:$BACKEND_PORT (pid $backend_pid)"

# --- start nginx and HAProxy in front of the same backend --------------------------------------
mkdir -p "$run/nginx-front/tmp" "$run/haproxy"
fill "$tpl/front-nginx.conf.in" "$run/nginx-front/nginx.conf" DIR="$run/nginx-front" \
    PORT="$FRONT_PORT" BACKEND_PORT="$BACKEND_PORT"
"$NGINX" -e "$run/nginx-front/error.log" -p "$run/nginx-front" -c "$run/nginx-front/nginx.conf" \
    -g 'daemon off;' 2>>"$run/nginx-front/error.log" &
front_pid=$!
fill "$tpl/haproxy.cfg.in" "$run/haproxy/haproxy.cfg" PORT="$HAPROXY_PORT" BACKEND_PORT="$BACKEND_PORT"
"$HAPROXY" -db -f "$run/haproxy/haproxy.cfg" >"$run/haproxy/haproxy.log" 2>&1 &
haproxy_pid=$!

declare -A URL=(
    [direct]="http://127.0.0.1:$BACKEND_PORT/"
    [shoal]="http://127.0.0.1:$GW_PORT/"
    [nginx]="http://127.0.0.1:$FRONT_PORT/"
    [HAProxy]="http://127.0.0.1:$HAPROXY_PORT/"
)
declare -A PIDOF=([direct]="" [shoal]="$shoal_pid" [nginx]="$front_pid" [HAProxy]="$haproxy_pid")
declare -A PATHOF=(
    [direct]="wrk → backend"
    [shoal]="wrk → shoal → backend"
    [nginx]="wrk → nginx → backend"
    [HAProxy]="wrk → HAProxy → backend"
)
ROWS=(direct shoal nginx HAProxy)

# Every row must answer 200 "ok" before anything is measured.
for row in "${ROWS[@]}"; do
    body=""
    for _ in $(seq 50); do
        body=$(curl -fsS --max-time 2 "${URL[$row]}" 2>/dev/null) && [[ $body == ok ]] && break
        body=""
        sleep 0.2
    done
    [[ $body == ok ]] || die "$row (${URL[$row]}) does not answer 200 \"ok\""
done

# --- measure -----------------------------------------------------------------------------------
# cpu_ticks, child_ticks, other_pct and wait_quiet are in lib.sh.
to_ms() { # wrk duration (470.12us, 1.23ms, 2.00s, 1.00m) -> milliseconds
    awk -v v="$1" 'BEGIN {
        n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u)
        f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
        if (n == "" || f < 0) print "nan"; else printf "%.3f", n * f }'
}

declare -A RPS P50 P99 ERR CPU OTHER TRIES
wrk_cmd="wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency"

measure() { # row: warm-up, then the measured run; sets cpu0/cpu1 and OTHER[row]
    local row=$1 url=${URL[$1]} busy0 total0 busy1 total1 ours0 ours1 wrk0 wrk1
    wait_quiet
    log "$row: warm-up $WARMUP"
    "$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" "$url" >"$run/warmup-$row.txt" 2>&1 ||
        log "$row: warm-up wrk exited with status $?"
    log "$row: $wrk_cmd $url"
    read -r busy0 total0 < <(machine_ticks)
    ours0=$(cpu_ticks "$backend_pid")
    child_ticks
    wrk0=$(<"$run/ticks")
    cpu0=$(cpu_ticks ${PIDOF[$row]})
    "$WRK" -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$url" >"$run/wrk-$row.txt" 2>&1 ||
        log "$row: wrk exited with status $?"
    cpu1=$(cpu_ticks ${PIDOF[$row]})
    child_ticks
    wrk1=$(<"$run/ticks")
    ours1=$(cpu_ticks "$backend_pid")
    read -r busy1 total1 < <(machine_ticks)
    # Share of the machine's CPU time used by anything other than wrk, this row's proxy and the
    # backend: other work running during the measurement.
    OTHER[$row]=$(other_pct $((busy1 - busy0)) $((total1 - total0)) \
        $((ours1 - ours0 + wrk1 - wrk0 + cpu1 - cpu0)))
}

for row in "${ROWS[@]}"; do
    TRIES[$row]=1
    measure "$row"
    # Other work that took a real share of the CPUs skews the row: measure it again.
    while awk -v o="${OTHER[$row]}" 'BEGIN { exit !(o > 10) }' && ((TRIES[$row] < ROW_ATTEMPTS)); do
        log "$row: other processes used ${OTHER[$row]}% of the CPUs during the run: measuring again"
        TRIES[$row]=$((TRIES[$row] + 1))
        measure "$row"
    done
    f="$run/wrk-$row.txt"
    sed 's/^/    /' "$f" >&2

    rps=$(awk '/^Requests\/sec:/ {print $2}' "$f")
    reqs=$(awk '/ requests in / {print $1}' "$f")
    p50=$(awk '$1 == "50%" {print $2}' "$f")
    p99=$(awk '$1 == "99%" {print $2}' "$f")
    RPS[$row]=${rps:-0}
    P50[$row]=$(to_ms "${p50:-}")
    P99[$row]=$(to_ms "${p99:-}")
    errs=()
    sock=$(sed -n 's/^ *Socket errors: *//p' "$f")
    [[ -n $sock ]] && errs+=("socket errors: $sock")
    non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *//p' "$f")
    [[ -n $non2xx ]] && errs+=("non-2xx/3xx: $non2xx")
    if ((${#errs[@]})); then ERR[$row]=$(IFS=';'; echo "${errs[*]}" | sed 's/;/; /g'); else ERR[$row]=none; fi
    if [[ -n ${PIDOF[$row]} && ${reqs:-0} -gt 0 ]]; then
        CPU[$row]=$(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')
    else
        CPU[$row]="–"
    fi
done

# --- report ------------------------------------------------------------------------------------
shoal_threads=${GATEWAY_THREADS:-$(( ($(nproc) + 1) / 2 )) (the default: half the CPUs, at least one)}
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(free -m | awk '/^Mem:/ {printf "%s MiB total, %s MiB free, %s MiB available", $2, $4, $7}')

report=$(
    cat <<EOF
# Gateway benchmark

$(date -u) — \`bench/gateway.sh\`

| Row | Path | Req/s | p50 (ms) | p99 (ms) | Proxy CPU (µs/req) | Errors |
|---|---|---:|---:|---:|---:|---|
EOF
    for row in "${ROWS[@]}"; do
        printf '| %s | %s | %.0f | %s | %s | %s | %s |\n' "$row" "${PATHOF[$row]}" "${RPS[$row]}" \
            "${P50[$row]}" "${P99[$row]}" "${CPU[$row]}" "${ERR[$row]}"
    done
    cat <<EOF

| Ratio | Req/s | p99 |
|---|---:|---:|
EOF
    for other in direct nginx HAProxy; do
        printf '| shoal / %s | %s | %s |\n' "$other" "$(ratio "${RPS[shoal]}" "${RPS[$other]}")" \
            "$(ratio "${P99[shoal]}" "${P99[$other]}")"
    done
    cat <<EOF

Req/s ratio above 1: shoal served more requests per second. p99 ratio below 1: shoal's tail
latency was lower. Proxy CPU: user+system CPU time of the proxy's processes (shoal: the whole
\`shoal up\` process; nginx: master and worker; HAProxy: its process) during the measured run,
divided by the requests completed.

## Read with care

- This machine has $(nproc) cores. wrk ($THREADS threads), the proxy and the backend all share them,
  so every row is CPU-bound: absolute req/s and latencies say more about the machine than about the
  proxies. All four rows suffer alike; the ratios are the meaningful figures.
- The direct row has one process fewer competing for the cores, so it is an upper bound, not a
  like-for-like baseline.
- nginx runs 1 worker and HAProxy 1 thread; shoal's gateway runs on its own async runtime with
  $shoal_threads worker threads (the control plane has its own).
- Other work on the machine skews the rows it overlaps. Before each row the script waits (up to
  ${QUIET_WAIT} s) for the CPUs to be under 10% busy. Load average when the script started:
  $load_at_start. Share of all CPU time used by processes other than wrk, the row's proxy and
  the backend during each row's reported run: $(for row in "${ROWS[@]}"; do
      printf '%s %s%%' "$row" "${OTHER[$row]}"
      ((TRIES[$row] > 1)) && printf ' (attempt %s of at most %s)' "${TRIES[$row]}" "$ROW_ATTEMPTS"
      printf ', '
  done | sed 's/, $//'). A row is measured again when that share is above 10%.

## Parameters

- Each row: \`wrk -t$THREADS -c$CONNECTIONS -d$WARMUP URL\` warm-up (discarded), then
  \`$wrk_cmd URL\`. Rows run one after the other in the order of the table, against one and the
  same backend process. Loopback only; keep-alive on both sides.
- Backend: nginx, \`worker_processes 1\`, \`access_log off\`, \`keepalive_requests 1000000\`,
  \`location / { return 200 "ok\\n"; }\`, started by shoal as the single instance of service
  \`backend\` (\`bench/gateway/backend.sh\`, \`bench/gateway/backend-nginx.conf.in\`).
- shoal: \`bench/gateway/shoal.toml.in\` (one route \`/\`, one instance, HTTP health check every 1 s,
  gateway defaults otherwise).
- nginx: \`bench/gateway/front-nginx.conf.in\` (\`worker_processes 1\`, \`proxy_http_version 1.1\`,
  \`proxy_set_header Connection ""\`, upstream \`keepalive 64\` and \`keepalive_requests 1000000\`).
- HAProxy: \`bench/gateway/haproxy.cfg.in\` (\`nbthread 1\`, \`mode http\`, \`http-reuse always\`,
  \`option http-keep-alive\`).

## Machine

- CPUs: $(nproc) × $cpu_model
- Kernel: $(uname -r)
- Memory: $mem

## Versions

- shoal: $shoal_rev — \`$("$SHOAL" --version)\`
- $("$NGINX" -v 2>&1)
- $("$HAPROXY" -v | head -n 1)
- $("$WRK" -v 2>&1 | head -n 1 | sed 's/ *$//')

## Raw wrk output

EOF
    for row in "${ROWS[@]}"; do
        printf '<details><summary>%s — %s</summary>\n\n```\n%s\n```\n\n</details>\n\n' \
            "$row" "${URL[$row]}" "$(cat "$run/wrk-$row.txt")"
    done
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$report" >"$OUT"
printf '\n%s\n' "$(sed -n '/^| Row/,/^Req\/s ratio/p' "$OUT" | sed '$d')"
log "written to ${OUT#"$root"/}"

#!/usr/bin/env bash
# Reaction benchmark: how fast and how calmly does shoal's autoscaler follow load?
#
# One service (taskboard, `/sleep?ms=100`: each request waits 100 ms without using CPU) is scaled
# on concurrency (target 5 in flight per instance, every other autoscale key at its default)
# behind shoal's gateway. The load comes from `shoal load` (closed model) on loopback:
#
#   pre-step   $PRE_CLIENTS clients for $PRE
#   step       $STEP_CLIENTS clients for $STEP, as back-to-back runs so that latency is
#              reported separately for the first $DURING after the step ("during") and for the
#              time after the new capacity serves ("after"); 1 s runs bridge the gap when the
#              capacity is not serving yet when "during" ends
#   settle     noisy load around $LEVEL clients until the count has come down from the step and
#              held still for $SETTLE_QUIET (at most $SETTLE_MAX)
#   steady     noisy load around $LEVEL clients for $STEADY: `--stages` of $NOISE_STAGE each,
#              levels drawn from $LEVEL ± $NOISE_PCT % with bash's $RANDOM seeded by $SEED
#
# While it runs, `shoal status -o json` is polled every 100 ms (bench/reaction/poll.py); at the
# end `shoal events -o json` gives the scale decisions. Reported (bench/reaction/summarise.py):
# step -> first scale-up decision, step -> capacity serving (every instance of the largest count
# desired after the step healthy), p99 during and after, failures, largest count desired vs the
# count the load needs (ceil(clients / (target × 0.7))), and scale events per 10 minutes under
# the steady noisy load. Nothing is asserted: it is a measurement.
#
# Usage: bench/reaction.sh          (from any directory; ~7 min plus the build)
#   env: PRE_CLIENTS=2 PRE=10s STEP_CLIENTS=40 STEP=30s DURING=10s
#        LEVEL=10 NOISE_PCT=10 NOISE_STAGE=10s STEADY=180s SEED=1
#        SETTLE_MIN=30s SETTLE_QUIET=30s SETTLE_MAX=300s
#        TARGET=5 MAX=12 SLEEP_MS=100
#        SKIP_BUILD=1            use the existing target/release/{shoal,taskboard}
#        QUIET_WAIT=300          once shoal is up and before the load begins, wait up to this
#                                many seconds for the CPUs to be under 10% busy (other work
#                                skews every figure)
#        OUT=path                results file (default bench/results/reaction.md)
#        KEEP_TMP=1              keep the run directory (spec, logs, polls, load reports)
set -euo pipefail

PRE_CLIENTS=${PRE_CLIENTS:-2}
PRE=${PRE:-10s}
STEP_CLIENTS=${STEP_CLIENTS:-40}
STEP=${STEP:-30s}
DURING=${DURING:-10s}
LEVEL=${LEVEL:-10}
NOISE_PCT=${NOISE_PCT:-10}
NOISE_STAGE=${NOISE_STAGE:-10s}
STEADY=${STEADY:-180s}
SEED=${SEED:-1}
SETTLE_MIN=${SETTLE_MIN:-30s}
SETTLE_QUIET=${SETTLE_QUIET:-30s}
SETTLE_MAX=${SETTLE_MAX:-300s}
TARGET=${TARGET:-5}
MAX=${MAX:-12}
SLEEP_MS=${SLEEP_MS:-100}
QUIET_WAIT=${QUIET_WAIT:-300}
UTILIZATION=0.7 # the spec's default target_utilization, left at its default in the template
TIMELINE=15     # seconds after the step shown second by second in the results

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
cd "$root"
tpl="$root/bench/reaction"
OUT=${OUT:-$root/bench/results/reaction.md}

load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v python3 >/dev/null || die "python3 is needed (JSON and time arithmetic)"

secs() { # a duration as shoal load writes it (500ms, 10s, 3m, 1m30s) -> seconds (float)
    python3 - "$1" <<'EOF' || die "invalid duration '$1' (write e.g. 10s, 3m, 1m30s)"
import re, sys
t = sys.argv[1].strip()
parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", t)
if not parts or "".join(n + u for n, u in parts) != t:
    sys.exit(1)
print(sum(float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u] for n, u in parts))
EOF
}
PRE_S=$(secs "$PRE")
STEP_S=$(secs "$STEP")
DURING_S=$(secs "$DURING")
NOISE_STAGE_S=$(secs "$NOISE_STAGE")
STEADY_S=$(secs "$STEADY")
SETTLE_MIN_S=$(secs "$SETTLE_MIN")
SETTLE_QUIET_S=$(secs "$SETTLE_QUIET")
SETTLE_MAX_S=$(secs "$SETTLE_MAX")
python3 -c "import sys; sys.exit(not (0 < $DURING_S < $STEP_S))" ||
    die "DURING ($DURING) must be shorter than STEP ($STEP)"

# --- shoal -------------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
    log "cargo build --release -p shoal -p taskboard"
    cargo build --release -p shoal -p taskboard
fi
SHOAL="$root/target/release/shoal"
TASKBOARD="$root/target/release/taskboard"
[[ -x $SHOAL && -x $TASKBOARD ]] || die "$SHOAL or $TASKBOARD not found (build or unset SKIP_BUILD)"
# The revision the binary was built from, read now: the tree may move on during the run.
shoal_rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -z $(git -C "$root" status --porcelain -- . ':!bench' 2>/dev/null) ]] ||
    shoal_rev="$shoal_rev (plus uncommitted changes in the working tree)"
[[ ${SKIP_BUILD:-0} == 1 ]] && shoal_rev="$shoal_rev (SKIP_BUILD=1: binary from $(date -u -r "$SHOAL"))"

# --- run directory, ports, cleanup ------------------------------------------------------------
run=$(mktemp -d /tmp/shoal-bench-reaction.XXXXXX)
spec="$run/shoal.toml"
shoal_pid="" poll_pid="" load_pid=""



stop_shoal() {
    alive "$shoal_pid" || return 0
    timeout 60 "$SHOAL" down -f "$spec" >/dev/null 2>&1 || true
    for _ in $(seq 100); do alive "$shoal_pid" || break; sleep 0.1; done
    stop_pid "$shoal_pid"
}

cleanup() {
    local rc=$?
    set +e
    stop_pid "$load_pid"
    [[ -d $run ]] && touch "$run/stop-polling"
    stop_pid "$poll_pid"
    stop_shoal
    wait 2>/dev/null
    if ((rc != 0)) && [[ -f $run/shoal.log ]]; then
        printf '\n--- shoal log (tail) ---\n' >&2
        tail -n 40 "$run/shoal.log" >&2
    fi
    finish_run "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r GW_PORT ADMIN_PORT < <(free_ports 2)


mark() { printf '%s %s\n' "$1" "$2" >>"$run/marks"; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$(now)"; }
ge() { python3 -c "import sys; sys.exit(not float(sys.argv[1]) >= float(sys.argv[2]))" "$1" "$2"; }

# --- CPU accounting (the same measures as gateway.sh) ------------------------------------------


wait_quiet() { # wait up to QUIET_WAIT s for other work to use under 10% of the CPUs
    local waited=0 pct
    while pct=$(busy_pct) && ((pct >= 10)); do
        ((waited == 0)) && log "machine busy ($pct% CPU): waiting up to ${QUIET_WAIT}s for it to calm down"
        waited=$((waited + 1))
        if ((waited >= QUIET_WAIT)); then
            log "still busy ($pct% CPU) after ${QUIET_WAIT}s: measuring anyway"
            return 0
        fi
    done
    ((waited == 0)) || log "machine quiet after ${waited}s"
}

tree_ticks() { # CPU ticks (own + reaped children) of this script and every live descendant:
    # shoal, its shims and instances, the load generator, the poller
    python3 - "$$" <<'EOF'
import os, sys
root = int(sys.argv[1])
procs = {}
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        with open(f"/proc/{d}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        continue
    # rest[0] is the state; ppid, then utime stime cutime cstime at 11..14
    procs[int(d)] = (int(rest[1]), sum(int(x) for x in rest[11:15]))
total = 0
for pid, (ppid, ticks) in procs.items():
    p, seen = pid, 0
    while p and p in procs and seen < 64:
        if p == root:
            total += ticks
            break
        p, seen = procs[p][0], seen + 1
print(total)
EOF
}

cpu_mark() { # name: record the machine's and our CPU ticks now
    local busy total
    read -r busy total < <(machine_ticks)
    mark "cpu_$1" "$busy,$total,$(tree_ticks)"
}

other_share() { # from to: % of all CPU time used by processes outside this run between two marks
    python3 - "$run/marks" "$1" "$2" <<'EOF'
import sys
m = dict(l.strip().split(" ", 1) for l in open(sys.argv[1]) if " " in l)
b0, t0, o0 = map(int, m["cpu_" + sys.argv[2]].split(","))
b1, t1, o1 = map(int, m["cpu_" + sys.argv[3]].split(","))
other = max(0, (b1 - b0) - (o1 - o0))
print(f"{100 * other / (t1 - t0):.1f}" if t1 > t0 else "n/a")
EOF
}

# --- noise -------------------------------------------------------------------------------------
RANDOM=$SEED
NOISE_LO=$(((LEVEL * (100 - NOISE_PCT) + 50) / 100))
NOISE_HI=$(((LEVEL * (100 + NOISE_PCT) + 50) / 100))
((NOISE_LO >= 1)) || NOISE_LO=1
noise() { # sets $level to a level drawn from NOISE_LO..NOISE_HI (no subshell: keeps $RANDOM's sequence)
    level=$((NOISE_LO + RANDOM % (NOISE_HI - NOISE_LO + 1)))
}

# --- start shoal -------------------------------------------------------------------------------
fill "$tpl/shoal.toml.in" "$spec" RUN="$run" GW_PORT="$GW_PORT" ADMIN_PORT="$ADMIN_PORT" \
    TASKBOARD="$TASKBOARD" MAX="$MAX" TARGET="$TARGET"
"$SHOAL" validate -f "$spec" >/dev/null
log "starting shoal (gateway 127.0.0.1:$GW_PORT)"
"$SHOAL" up -f "$spec" >"$run/shoal.log" 2>&1 &
shoal_pid=$!

ready=""
for _ in $(seq 120); do
    alive "$shoal_pid" || die "shoal exited during startup"
    ready=$("$SHOAL" status -f "$spec" -o json 2>/dev/null | python3 -c '
import json, sys
s = next(s for s in json.load(sys.stdin)["services"] if s["name"] == "api")
print(s["desired"] if any(i["state"] == "healthy" for i in s["instances"]) else "")
' 2>/dev/null) && [[ -n $ready ]] && break
    ready=""
    sleep 0.25
done
[[ -n $ready ]] || die "no healthy instance within 30 s"
mark desired_before "$ready"
log "1 instance healthy"
wait_quiet
log "polling status every 100 ms"
python3 "$tpl/poll.py" "$SHOAL" "$spec" api "$run/polls.jsonl" "$run/stop-polling" 0.1 &
poll_pid=$!

URL="http://127.0.0.1:$GW_PORT/sleep?ms=$SLEEP_MS"
load() { # output-file shoal-load-args...: one load run, its JSON report into the file
    local out=$1
    shift
    "$SHOAL" load "$URL" "$@" -o json >"$out" 2>"$out.err" &
    load_pid=$!
    wait "$load_pid" || log "shoal load $* exited with status $? (see the report)"
    load_pid=""
}

mark step_clients "$STEP_CLIENTS"
mark level "$LEVEL"
mark target "$TARGET"
mark utilization "$UTILIZATION"
mark timeline "$TIMELINE"

# --- pre-step and step -------------------------------------------------------------------------
cpu_mark step0
log "pre-step: $PRE_CLIENTS clients for $PRE"
load "$run/load-pre.json" -c "$PRE_CLIENTS" -d "$PRE"

step_at=$(now)
mark step_at "$step_at"
log "step: $STEP_CLIENTS clients for $STEP (first $DURING reported as \"during\")"
load "$run/load-step-during.json" -c "$STEP_CLIENTS" -d "$DURING"

serving_now() { # true once every desired instance above the starting count is healthy and the
    # count has not changed for 2 s (the live test; the report uses the exact poll times)
    python3 - "$run/polls.jsonl" "$step_at" "$ready" <<'EOF'
import json, sys
step, before = float(sys.argv[2]), int(sys.argv[3])
polls = [p for p in map(json.loads, open(sys.argv[1])) if "error" not in p and p["t"] >= step]
if not polls:
    sys.exit(1)
last = polls[-1]
recent = [p for p in polls if p["t"] >= last["t"] - 2]
ok = (last["desired"] > before and last["t"] - polls[0]["t"] >= 2
      and all(p["desired"] == last["desired"] and p["healthy"] >= p["desired"] for p in recent))
sys.exit(0 if ok else 1)
EOF
}

chunk=0
while ! serving_now && ! ge "$(since "$step_at")" "$(python3 -c "print($STEP_S - 1)")"; do
    chunk=$((chunk + 1))
    log "capacity not serving yet at +$(since "$step_at")s: 1 s bridge run $chunk"
    load "$(printf '%s/load-step-bridge-%03d.json' "$run" "$chunk")" -c "$STEP_CLIENTS" -d 1s
done
rest_ms=$(python3 -c "print(int(1000 * ($STEP_S - ($(now) - $step_at))))")
if ((rest_ms >= 1000)); then
    mark after_start "$(now)"
    log "after capacity serves: $STEP_CLIENTS clients for ${rest_ms}ms"
    load "$run/load-step-after.json" -c "$STEP_CLIENTS" -d "${rest_ms}ms"
else
    log "capacity not serving by the end of the step: no \"after\" window"
fi
step_end=$(now)
mark step_end "$step_end"
cpu_mark step1

# --- settle ------------------------------------------------------------------------------------
settled() { # true when the count came down from the step (or is already at the steady level's
    # need) and no scale decision happened for SETTLE_QUIET s, at least SETTLE_MIN after the step
    "$SHOAL" events --file "$spec" -o json >"$run/events-now.jsonl" 2>/dev/null || return 1
    python3 - "$run/events-now.jsonl" "$run/polls.jsonl" "$step_end" "$SETTLE_MIN_S" \
        "$SETTLE_QUIET_S" "$NOISE_HI" "$TARGET" "$UTILIZATION" <<'EOF'
import json, math, sys, time
from datetime import datetime
ev, polls, step_end, min_s, quiet_s, hi, target, util = sys.argv[1:]
step_end, min_s, quiet_s = float(step_end), float(min_s), float(quiet_s)
now = time.time()
t = lambda e: datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
scale = [e for e in map(json.loads, open(ev)) if e["kind"] in ("scale_up", "scale_down")]
last = [p for p in map(json.loads, open(polls)) if "error" not in p][-1]
came_down = any(e["kind"] == "scale_down" and t(e) >= step_end for e in scale)
at_need = last["desired"] <= math.ceil(int(hi) / (float(target) * float(util)))
quiet = all(now - t(e) >= quiet_s for e in scale)
sys.exit(0 if now - step_end >= min_s and (came_down or at_need) and quiet else 1)
EOF
}

log "settle: noisy load around $LEVEL clients until the count holds still (at most $SETTLE_MAX)"
cpu_mark settle0
prev=$LEVEL
n=0
settled_ok=no
while true; do
    if settled; then settled_ok=yes; break; fi
    ge "$(since "$step_end")" "$SETTLE_MAX_S" && break
    noise
    n=$((n + 1))
    load "$(printf '%s/load-settle-%03d.json' "$run" "$n")" -c "$prev" --stages "${NOISE_STAGE}:$level"
    prev=$level
done
mark settled "$settled_ok"
log "settled: $settled_ok after $(since "$step_end")s"

# --- steady noisy load -------------------------------------------------------------------------
stages=""
stage_n=$(python3 -c "import math; print(math.ceil($STEADY_S / $NOISE_STAGE_S - 1e-9))")
for i in $(seq "$stage_n"); do
    noise
    if ((i == stage_n)); then # the last stage takes what is left of STEADY
        d_ms=$(python3 -c "print(int(round(1000 * ($STEADY_S - ($stage_n - 1) * $NOISE_STAGE_S))))")
        if [[ $d_ms == "$(python3 -c "print(int(round(1000 * $NOISE_STAGE_S)))")" ]]; then
            stages+="${NOISE_STAGE}:$level"
        else
            stages+="${d_ms}ms:$level"
        fi
    else
        stages+="${NOISE_STAGE}:$level,"
    fi
done
log "steady: $STEADY of noisy load from $prev clients: --stages $stages"
cpu_mark steady0
mark steady_start "$(now)"
load "$run/load-steady.json" -c "$prev" --stages "$stages"
mark steady_end "$(now)"
cpu_mark steady1

# --- collect -----------------------------------------------------------------------------------
touch "$run/stop-polling"
wait "$poll_pid" 2>/dev/null || true
poll_pid=""
"$SHOAL" events --file "$spec" -o json >"$run/events.jsonl"
"$SHOAL" status -f "$spec" -o json >"$run/status-end.json" 2>/dev/null || true
stop_shoal
eval "$(python3 "$tpl/summarise.py" "$run")"
OTHER_STEP=$(other_share step0 step1)
OTHER_SETTLE=$(other_share settle0 steady0)
OTHER_STEADY=$(other_share steady0 steady1)

# --- report ------------------------------------------------------------------------------------
cpu_model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(free -m | awk '/^Mem:/ {printf "%s MiB total, %s MiB available", $2, $7}')
s_or_na() { [[ $1 == n/a ]] && echo "n/a" || echo "$1 s"; }
ms_or_na() { [[ $1 == n/a ]] && echo "n/a" || echo "$1 ms"; }
after_note=""
[[ $AFTER_BEFORE_CAPACITY == yes ]] &&
    after_note=" (the after window began before capacity served: it mixes both)"
timeline_head=$(seq 0 "$TIMELINE" | sed 's/^/+/; s/$/ s/' | paste -sd'|' | sed 's/|/ | /g')
timeline_sep=$(seq 0 "$TIMELINE" | sed 's/.*/---:/' | paste -sd'|')
timeline_row=$(sed 's/ / | /g' <<<"$TIMELINE_CELLS")

report=$(
    cat <<EOF
# Autoscaler reaction benchmark

$(date -u) — \`bench/reaction.sh\`

A load step from $PRE_CLIENTS to $STEP_CLIENTS concurrent clients against a service scaled on
concurrency (target $TARGET in flight per instance, target utilisation $UTILIZATION, instances
1–$MAX), then steady noisy load around $LEVEL clients.

| Step → first decision | Step → capacity serving | p99 during step | p99 after | Failures | Max desired | Needed | Overshoot | Scale events / 10 min (steady) |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| $(s_or_na "$FIRST_DECISION_S") | $(s_or_na "$CAPACITY_S") | $(ms_or_na "$L_DURING_P99") | $(ms_or_na "$L_AFTER_P99") | $TOTAL_FAILURES | $PEAK_DESIRED | $NEEDED | $OVERSHOOT | $STEADY_EVENTS_PER_10MIN |

- **Step → first decision**: from the start of the step load to the first \`scale_up\` event
  (\`$FIRST_DECISION_MSG\`).
- **Step → capacity serving**: to the first status poll (every 100 ms) showing as many healthy
  instances as the largest count desired after the step ($PEAK_DESIRED, decided at
  +$PEAK_DECISION_S s). The first decision's $FIRST_COUNT instances were all healthy at
  +$FIRST_SERVING_S s.
- **p99 during step**: the first $DURING of the step. **p99 after**: the step's remaining load,
  from +$AFTER_START_S s$after_note.
- **Failures**: transport errors and 5xx over every load run of the benchmark (by phase below).
- **Needed**: ceil($STEP_CLIENTS / ($TARGET × $UTILIZATION)). **Overshoot**: max desired / needed.
  With \`max = $MAX\` the count cannot exceed $MAX, so an overshoot above $(python3 -c "print(f'{$MAX / $NEEDED:.2f}')") cannot show.
- **Scale events / 10 min**: \`scale_up\` + \`scale_down\` events during the $STEADY_MEASURED_S s of steady
  noisy load ($STEADY_EVENTS events: $STEADY_EVENT_LIST), times 600 / $STEADY_MEASURED_S. The load
  needs ceil($LEVEL / ($TARGET × $UTILIZATION)) = $STEADY_NEEDED instances at its mean level; the
  desired count ranged over $STEADY_DESIRED_RANGE.

### Desired / healthy instances after the step

| $timeline_head |
|$timeline_sep|
| $timeline_row |

### Load runs

| Phase | Load | Runs | Requests | Req/s | p50 (ms) | p99 (ms) | Max (ms) | Failures | Errors |
|---|---|---:|---:|---:|---:|---:|---:|---:|---|
| pre-step | $PRE_CLIENTS clients, $PRE | $L_PRE_RUNS | $L_PRE_REQUESTS | $L_PRE_RPS | $L_PRE_P50 | $L_PRE_P99 | $L_PRE_MAX | $L_PRE_FAILURES | $L_PRE_ERRORS |
| step, during | $STEP_CLIENTS clients, first $DURING | $L_DURING_RUNS | $L_DURING_REQUESTS | $L_DURING_RPS | $L_DURING_P50 | $L_DURING_P99 | $L_DURING_MAX | $L_DURING_FAILURES | $L_DURING_ERRORS |
| step, bridge | $STEP_CLIENTS clients, 1 s runs until capacity serves | $L_BRIDGE_RUNS | $L_BRIDGE_REQUESTS | $L_BRIDGE_RPS | $L_BRIDGE_P50 | $L_BRIDGE_P99 | $L_BRIDGE_MAX | $L_BRIDGE_FAILURES | $L_BRIDGE_ERRORS |
| step, after | $STEP_CLIENTS clients, rest of $STEP from +$AFTER_START_S s | $L_AFTER_RUNS | $L_AFTER_REQUESTS | $L_AFTER_RPS | $L_AFTER_P50 | $L_AFTER_P99 | $L_AFTER_MAX | $L_AFTER_FAILURES | $L_AFTER_ERRORS |
| settle | $NOISE_LO–$NOISE_HI clients, $NOISE_STAGE stages | $L_SETTLE_RUNS | $L_SETTLE_REQUESTS | $L_SETTLE_RPS | $L_SETTLE_P50 | $L_SETTLE_P99 | $L_SETTLE_MAX | $L_SETTLE_FAILURES | $L_SETTLE_ERRORS |
| steady | $NOISE_LO–$NOISE_HI clients, $NOISE_STAGE stages, $STEADY | $L_STEADY_RUNS | $L_STEADY_REQUESTS | $L_STEADY_RPS | $L_STEADY_P50 | $L_STEADY_P99 | $L_STEADY_MAX | $L_STEADY_FAILURES | $L_STEADY_ERRORS |

Several runs in a row (bridge, settle): p50/p99/max are the worst of the runs'.

### After the step

The step load ended; the settle phase (noisy load around $LEVEL clients) lasted $SETTLE_S s
(settled: $settled_ok; at most $SETTLE_MAX). First \`scale_down\` $(s_or_na "$FIRST_DOWN_S") after the
step ended, last $(s_or_na "$LAST_DOWN_S"); $SETTLE_EVENTS scale events in all; $DESIRED_AT_STEADY
instances desired when the steady phase began. Scale-downs wait for the panic mode to end (a
stable window, 60 s, after its condition last held), the 60 s scale-down stabilization and the
10 s scale-down cooldown — by design slower than scale-ups.

## Anchors: other autoscalers' defaults

The shoal row gives its defaults and this run's measurement; every other row gives documented
defaults, **not measured here**: what the same step would meet elsewhere before any instance,
pod or VM has even started.

| System | Decision period | Metric window | Scale-up limit | Scale-down | First decision after a step |
|---|---|---|---|---|---|
| shoal (this run) | 1 s tick (in-flight sampled every 100 ms) | 6 s panic / 60 s stable | max(4, 100 %) per 1 s | 60 s stabilization, 10 s cooldown | measured: $(s_or_na "$FIRST_DECISION_S") |
| Kubernetes HPA | 15 s sync period | metrics-server resolution 15 s (60 s before v0.5) | max(4 pods, 100 %) per 15 s | 300 s stabilization | ~15–45 s (sync period + metric resolution); a large step takes several cycles, each waiting for the new pods' metrics (kubernetes-sigs/metrics-server #763) |
| Knative KPA | 2 s tick | 6 s panic / 60 s stable | 1000× the ready pods | follows the 60 s stable window, at most halving per tick | the next 2 s tick, in panic mode |
| EC2 Auto Scaling target tracking | CloudWatch alarms on 1-min metrics | 3 datapoints (3 min) to scale out | to the target in one step | 15 datapoints (15 min) to scale in | ~3 min, then the VM boots |
| Nomad Autoscaler | 10 s default \`evaluation_interval\` | the check's APM query | per strategy | 5 min default cooldown after any action, up or down (hashicorp/nomad-autoscaler #272) | the next evaluation; then a 5 min cooldown |

## Read with care

- One run on one machine: the decision times are quantised by shoal's 1 s tick and the capacity
  times by the 100 ms polls and the 250 ms start-up probes; treat differences under a second as
  noise.
- \`/sleep\` holds each request for $SLEEP_MS ms without using CPU, so one instance can serve
  all $STEP_CLIENTS clients at that latency: the p99 columns show the cost of the gateway and the
  scaling churn, not relief from overload. The scaling signal is the in-flight count alone.
- "Capacity serving" counts instances the status shows \`healthy\` (they take traffic from then);
  it is an upper bound by up to one poll interval.
- Other work on the machine skews the figures. Before the load began (shoal up, one instance
  healthy), the script waited (up to ${QUIET_WAIT} s) for the CPUs to be under 10% busy. Load average when the script started:
  $load_at_start. Share of all CPU time used by processes outside this run (shoal, its
  instances, the load generator, the poller): pre-step and step $OTHER_STEP%, settle
  $OTHER_SETTLE%, steady $OTHER_STEADY%.
- Status polls: $POLLS ($POLL_ERRORS failed), median interval $POLL_GAP_MEDIAN_MS ms, longest
  gap $POLL_GAP_MAX_MS ms.

## Parameters

- Service: \`bench/reaction/shoal.toml.in\` — taskboard, \`instances = { min = 1, desired = 1,
  max = $MAX }\`, HTTP health check every 1 s (healthy after 1 success; starting instances are
  probed every 250 ms), \`[autoscale] metric = "concurrency", target = $TARGET\`, every other
  autoscale key at its default.
- Load: \`shoal load 'http://127.0.0.1:GW/sleep?ms=$SLEEP_MS' -o json\`, closed model, loopback.
  Pre-step \`-c $PRE_CLIENTS -d $PRE\`; step \`-c $STEP_CLIENTS\` for $STEP in back-to-back runs
  (\`-d $DURING\`, 1 s bridge runs while capacity is not serving, then the rest); settle and
  steady \`-c N --stages $NOISE_STAGE:L,...\` with L drawn from $NOISE_LO..$NOISE_HI (bash
  \`RANDOM=$SEED\`), settle until the count came down and held for $SETTLE_QUIET (at least
  $SETTLE_MIN after the step, at most $SETTLE_MAX).
- Steady stages: \`$stages\`

## Machine

- CPUs: $(nproc) × $cpu_model
- Kernel: $(uname -r)
- Memory: $mem

## Versions

- shoal: $shoal_rev — \`$("$SHOAL" --version)\`

## Raw \`shoal events -o json\`

<details><summary>$(wc -l <"$run/events.jsonl") events</summary>

\`\`\`
$(cat "$run/events.jsonl")
\`\`\`

</details>
EOF
)

mkdir -p "$(dirname "$OUT")"
printf '%s\n' "$report" >"$OUT"
printf '%s\n' "$report"
log "written to ${OUT#"$root"/}"

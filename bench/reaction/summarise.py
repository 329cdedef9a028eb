#!/usr/bin/env python3
"""Figures of bench/reaction.sh from the files of one run directory.

Reads RUN/marks (lines "name value": the wall-clock times and parameters the script recorded),
RUN/polls.jsonl (poll.py), RUN/events.jsonl (`shoal events -o json`) and the `shoal load -o json`
reports RUN/load-*.json, and prints shell assignments (NAME='value') for the report.

Times: events carry RFC 3339 UTC times with milliseconds, polls and marks epoch seconds from the
same clock. "n/a" marks a figure the run could not produce (e.g. capacity never served).

Usage: summarise.py RUN
"""

import glob
import json
import math
import os
import re
import shlex
import sys
from datetime import datetime

NA = "n/a"


def epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def load_json(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v, spec=".2f"):
    return NA if v is None else format(v, spec)


def main() -> int:
    run = sys.argv[1]
    marks = {}
    with open(os.path.join(run, "marks")) as f:
        for line in f:
            k, _, v = line.strip().partition(" ")
            marks[k] = v
    num = lambda k: float(marks[k]) if marks.get(k) not in (None, "") else None  # noqa: E731

    step_at, step_end = num("step_at"), num("step_end")
    steady_start, steady_end = num("steady_start"), num("steady_end")
    after_start = num("after_start")
    before = int(marks.get("desired_before", "1"))
    clients, level = num("step_clients"), num("level")
    target, util = num("target"), num("utilization")
    out = {}

    polls = []
    poll_errors = 0
    with open(os.path.join(run, "polls.jsonl")) as f:
        for line in f:
            try:
                p = json.loads(line)
            except ValueError:
                continue
            if "error" in p:
                poll_errors += 1
            else:
                polls.append(p)
    events = []
    with open(os.path.join(run, "events.jsonl")) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            e["_t"] = epoch(e["time"])
            events.append(e)
    scale = [e for e in events if e["kind"] in ("scale_up", "scale_down")]

    def to_count(e):
        m = re.search(r"(\d+) → (\d+)", e["message"])
        return int(m.group(2)) if m else None

    # Poll quality: how often status was really seen.
    gaps = [b["t"] - a["t"] for a, b in zip(polls, polls[1:])]
    out["POLLS"] = str(len(polls))
    out["POLL_ERRORS"] = str(poll_errors)
    out["POLL_GAP_MEDIAN_MS"] = fmt(1000 * sorted(gaps)[len(gaps) // 2], ".0f") if gaps else NA
    out["POLL_GAP_MAX_MS"] = fmt(1000 * max(gaps), ".0f") if gaps else NA

    # 1. Step -> first scale-up decision.
    pre_scale = [e for e in scale if e["_t"] < step_at]
    out["PRE_STEP_SCALE_EVENTS"] = str(len(pre_scale))
    ups = [e for e in scale if e["kind"] == "scale_up" and e["_t"] >= step_at and e["_t"] <= steady_start]
    first = ups[0] if ups else None
    out["FIRST_DECISION_S"] = fmt(first["_t"] - step_at) if first else NA
    out["FIRST_DECISION_MSG"] = first["message"] if first else NA
    first_count = to_count(first) if first else None

    # 2. Step -> capacity serving. The peak is the largest count desired between the step and
    # the steady phase (polls every 100 ms and the decisions' own "a → b").
    window = [p for p in polls if step_at <= p["t"] <= steady_start]
    peak = max([p["desired"] for p in window] + [c for c in map(to_count, ups) if c] + [before])
    out["PEAK_DESIRED"] = str(peak)
    peak_event = next((e for e in ups if to_count(e) == peak), None)
    out["PEAK_DECISION_S"] = fmt(peak_event["_t"] - step_at) if peak_event else NA
    serving = next((p for p in window if p["healthy"] >= peak and peak > before), None)
    out["CAPACITY_S"] = fmt(serving["t"] - step_at) if serving else NA
    first_serving = None
    if first is not None and first_count is not None:
        first_serving = next(
            (p for p in window if p["t"] >= first["_t"] and p["healthy"] >= first_count), None
        )
    out["FIRST_SERVING_S"] = fmt(first_serving["t"] - step_at) if first_serving else NA
    out["FIRST_COUNT"] = str(first_count) if first_count is not None else NA
    out["STEP_UPS"] = str(len([e for e in ups if e["_t"] <= step_end]))

    # Desired/healthy at each second after the step (the last poll at or before it).
    cells = []
    for s in range(int(marks.get("timeline", "15")) + 1):
        seen = [p for p in polls if p["t"] <= step_at + s]
        cells.append(f"{seen[-1]['desired']}/{seen[-1]['healthy']}" if seen else "?")
    out["TIMELINE_CELLS"] = " ".join(cells)

    # 4. Overshoot.
    needed = math.ceil(clients / (target * util) - 1e-9)
    out["NEEDED"] = str(needed)
    out["OVERSHOOT"] = fmt(peak / needed)
    out["STEADY_NEEDED"] = str(math.ceil(level / (target * util) - 1e-9))

    # 3. Latency and failures of every load run.
    def summary(paths):
        reps = [r for r in (load_json(p) for p in paths) if r]
        if not reps:
            return None
        lat = [r["latency_ms"] for r in reps]
        errors = {}
        for r in reps:
            for k, n in r.get("errors", {}).items():
                errors[k] = errors.get(k, 0) + n
            for code, n in r.get("status", {}).items():
                if int(code) >= 500:
                    errors[f"HTTP {code}"] = errors.get(f"HTTP {code}", 0) + n
        return {
            "runs": len(reps),
            "requests": sum(r["requests"] for r in reps),
            "rps": sum(r["requests"] for r in reps) / max(sum(r["duration_s"] for r in reps), 1e-9),
            "failures": sum(r["failures"] for r in reps),
            # One run: its own percentiles. Several (the bridge chunks): the worst of them.
            "p50": max((x["p50"] for x in lat if x["p50"] is not None), default=None),
            "p99": max((x["p99"] for x in lat if x["p99"] is not None), default=None),
            "max": max((x["max"] for x in lat if x["max"] is not None), default=None),
            "errors": ", ".join(f"{k}: {n}" for k, n in sorted(errors.items())) or "none",
        }

    phases = {
        "PRE": [os.path.join(run, "load-pre.json")],
        "DURING": [os.path.join(run, "load-step-during.json")],
        "BRIDGE": sorted(glob.glob(os.path.join(run, "load-step-bridge-*.json"))),
        "AFTER": [os.path.join(run, "load-step-after.json")],
        "SETTLE": sorted(glob.glob(os.path.join(run, "load-settle-*.json"))),
        "STEADY": [os.path.join(run, "load-steady.json")],
    }
    total_failures = 0
    for name, paths in phases.items():
        s = summary(paths)
        out[f"L_{name}_RUNS"] = str(s["runs"]) if s else "0"
        out[f"L_{name}_REQUESTS"] = str(s["requests"]) if s else NA
        out[f"L_{name}_RPS"] = fmt(s["rps"], ".0f") if s else NA
        out[f"L_{name}_P50"] = fmt(s["p50"], ".1f") if s else NA
        out[f"L_{name}_P99"] = fmt(s["p99"], ".1f") if s else NA
        out[f"L_{name}_MAX"] = fmt(s["max"], ".1f") if s else NA
        out[f"L_{name}_FAILURES"] = str(s["failures"]) if s else NA
        out[f"L_{name}_ERRORS"] = s["errors"] if s else NA
        total_failures += s["failures"] if s else 0
    out["TOTAL_FAILURES"] = str(total_failures)
    out["AFTER_START_S"] = fmt(after_start - step_at) if after_start else NA
    # Capacity served only after the after-window had begun: its p99 mixes both.
    out["AFTER_BEFORE_CAPACITY"] = (
        "yes" if after_start and serving and serving["t"] > after_start else "no"
    )

    # Scale-down after the step and settling.
    downs = [e for e in scale if e["kind"] == "scale_down" and step_end <= e["_t"] <= steady_start]
    out["SETTLE_S"] = fmt(steady_start - step_end)
    out["SETTLE_EVENTS"] = str(len([e for e in scale if step_end <= e["_t"] <= steady_start]))
    out["FIRST_DOWN_S"] = fmt(downs[0]["_t"] - step_end) if downs else NA
    out["LAST_DOWN_S"] = fmt(downs[-1]["_t"] - step_end) if downs else NA
    settle_polls = [p for p in polls if p["t"] <= steady_start]
    out["DESIRED_AT_STEADY"] = str(settle_polls[-1]["desired"]) if settle_polls else NA

    # 5. Scale events under steady noisy load.
    steady_len = steady_end - steady_start
    in_steady = [e for e in scale if steady_start <= e["_t"] <= steady_end]
    out["STEADY_MEASURED_S"] = fmt(steady_len, ".0f")
    out["STEADY_EVENTS"] = str(len(in_steady))
    out["STEADY_EVENTS_PER_10MIN"] = fmt(len(in_steady) * 600 / steady_len, ".1f")
    sp = [p["desired"] for p in polls if steady_start <= p["t"] <= steady_end]
    out["STEADY_DESIRED_RANGE"] = f"{min(sp)}–{max(sp)}" if sp else NA
    out["STEADY_EVENT_LIST"] = "; ".join(
        f"+{e['_t'] - steady_start:.0f}s {e['kind']} {to_count(e)}" for e in in_steady
    ) or "none"

    for k, v in out.items():
        print(f"{k}={shlex.quote(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

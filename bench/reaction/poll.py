#!/usr/bin/env python3
"""Status poller of bench/reaction.sh.

Runs `shoal status -f SPEC -o json` every INTERVAL seconds until STOP_FILE exists (or SIGTERM)
and appends one JSON line per poll to OUT:

    {"t": 1763912345.123, "desired": 3, "healthy": 2, "states": {"healthy": 2, "starting": 1}}

`t` is the wall-clock time (epoch seconds) at which the answer arrived, so a state seen at `t`
held at some moment no later than `t`. A poll that fails is written as {"t": ..., "error": "..."}.

Usage: poll.py SHOAL SPEC SERVICE OUT STOP_FILE [INTERVAL=0.1]
"""

import json
import os
import signal
import subprocess
import sys
import time


def main() -> int:
    shoal, spec, service, out, stop_file = sys.argv[1:6]
    interval = float(sys.argv[6]) if len(sys.argv) > 6 else 0.1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    next_at = time.time()
    with open(out, "a", buffering=1) as f:
        while not os.path.exists(stop_file):
            line = {}
            try:
                res = subprocess.run(
                    [shoal, "status", "-f", spec, "-o", "json"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                )
                now = time.time()
                if res.returncode != 0:
                    raise RuntimeError(res.stderr.strip() or f"exit {res.returncode}")
                svc = next(s for s in json.loads(res.stdout)["services"] if s["name"] == service)
                states: dict[str, int] = {}
                for inst in svc["instances"]:
                    states[inst["state"]] = states.get(inst["state"], 0) + 1
                line = {
                    "t": round(now, 3),
                    "desired": svc["desired"],
                    "healthy": states.get("healthy", 0),
                    "states": states,
                }
            except Exception as e:  # noqa: BLE001 - a failed poll is data too
                line = {"t": round(time.time(), 3), "error": str(e)[:200]}
            f.write(json.dumps(line) + "\n")
            # A fixed schedule; a poll that overran is not made up for.
            next_at += interval
            delay = next_at - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                next_at = time.time()
    return 0


if __name__ == "__main__":
    sys.exit(main())

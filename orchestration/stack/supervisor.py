"""Keeps one server of the local stack running: started again whenever it dies.

    python -m orchestration.stack.supervisor COMMAND [ARGS...]

The Dagster daemon runs the schedules, the sensors and the run queue: if it dies (kill -9, the
out-of-memory killer, a crash), new files would wait for a person to notice. This starts it again
after a pause that grows while it keeps dying (RESTART_DELAYS), and tells so in the service's log.
SIGTERM or SIGINT (`ecom down` signals the whole process group) stops it for good.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

RESTART_DELAYS = (1, 2, 5, 10, 30, 60)
# A server that ran this long before dying is restarted after the shortest pause again.
STABLE_SECONDS = 300


def say(message: str) -> None:
    print(f"[supervisor {time.strftime('%Y-%m-%d %H:%M:%S')}] {message}", flush=True)


def supervise(argv: list[str]) -> int:
    stopping = False
    child: subprocess.Popen | None = None

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deaths = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(argv)
        code = child.wait()
        if stopping:
            return code
        deaths = 0 if time.monotonic() - started > STABLE_SECONDS else deaths + 1
        delay = RESTART_DELAYS[min(deaths, len(RESTART_DELAYS) - 1)]
        say(f"{argv[0]} (pid {child.pid}) exited with status {code}; starting it again in {delay} s")
        deadline = time.monotonic() + delay
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.2)
        if stopping:
            return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(supervise(sys.argv[1:]))

"""The worker supervisor: restarts with back-off, and the back-off starts over after a
healthy run (before, after ~6 crashes every later restart waited 30 s, however rare)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from huajia.worker.supervisor import FIRST_BACKOFF_S, WorkerSupervisor

# Crashes at once on runs 1-3, runs healthily on run 4, crashes at once after that. The
# margins are wide: a crash run is a Python start-up (well under HEALTHY_S even on a loaded
# machine), the healthy run lasts HEALTHY_S + 1.
HEALTHY_S = 2.5
CHILD = f"""
import pathlib, sys, time
runs = pathlib.Path(sys.argv[1])
count = int(runs.read_text() or 0) + 1 if runs.exists() else 1
runs.write_text(str(count))
if count == 4:
    time.sleep({HEALTHY_S + 1})
sys.exit(3)
"""


def test_back_off_doubles_on_a_crash_loop_and_resets_after_a_healthy_run(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    command = [sys.executable, "-c", CHILD, str(runs)]
    supervisor = WorkerSupervisor([], command=command, healthy_after_s=HEALTHY_S)
    supervisor.start()
    deadline = time.monotonic() + 30
    while len(supervisor.waits) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    supervisor.stop()
    first = FIRST_BACKOFF_S
    assert supervisor.waits[:5] == [first, first * 2, first * 4, first, first * 2]

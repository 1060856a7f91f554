"""`bench/gpu.py --small`, the CPU run of the GPU benchmark, runs to its table (issue #10 asks
that it always does; it once hung when its worker was reused after a run had closed it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_small_gpu_bench_prints_a_row_per_batch_size() -> None:
    done = subprocess.run(
        [sys.executable, "bench/gpu.py", "--small", "--runs", "1", "--batches", "1,2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {}
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) == 6 and fields[0].isdigit():
            rows[int(fields[0])] = [float(value) for value in fields[1:]]
    assert set(rows) == {1, 2}, done.stdout
    for bare, served, floor, ratio, _ in rows.values():
        assert bare > 0 and served > 0 and floor > 0
        # The seconds are printed to 3 decimals and the ratio is of the unrounded ones: their
        # rounding (±0.0005 s each, large against a few hundredths) bounds the difference.
        rounding = ratio * (0.0005 / bare + 0.0005 / served) + 0.0005
        assert abs(ratio - served / bare) <= rounding + 1e-9, "huajia/bare is their ratio"

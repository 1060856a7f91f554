"""How `pytest -n 2 --dist loadfile` hands files to its two processes: the longest first.

Most of the suite's time is in a few files that start servers, browsers or `huajia`
processes. xdist's own order (most tests first) leaves those with one or two tests to the end,
where one process can still be running a 90-second file while the other has nothing left.
Handing them out first (longest-processing-time-first) lets the many short files fill in
around them, so both processes finish close together.

The browser package is one unit: its Chromium and server (package-scoped fixtures) start once,
on one process, instead of again each time a process comes back to a browser file. So are the
end-to-end files on the default settings, which share one server.
"""

from __future__ import annotations

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling

# One work unit for the whole folder (its fixtures are package-scoped).
PACKAGE_UNITS = ("tests/browser/",)
# Files that share one server on the default settings (tests/e2e/conftest.py): one unit.
SHARED_SERVER = "tests/e2e/ on the shared server"
SHARED_SERVER_FILES = ("tests/e2e/test_flow.py", "tests/e2e/test_batches.py",
                       "tests/e2e/test_previews.py")  # fmt: skip

# Seconds each unit took in a full run on 2 shared cores (`--durations`), longest first. Only
# the order matters: a unit missing here comes after these, in collection order. Refresh it
# when a file becomes one of the slow ones.
SLOW_UNITS = {
    "tests/browser/": 230,
    "tests/attack/test_schemathesis.py": 100,
    "tests/e2e/test_recovery.py": 90,
    "tests/engine/test_accel.py": 90,  # 20 once torch's inductor cache holds its kernels
    "tests/cli/test_cli.py": 85,
    "tests/e2e/test_rolling_restart.py": 75,
    "tests/engine/test_cli_model_files.py": 53,
    "tests/e2e/test_push.py": 46,
    "tests/e2e/test_auth.py": 46,
    "tests/e2e/test_drain.py": 42,
    "tests/e2e/test_batching.py": 39,
    "tests/e2e/test_queue_policy.py": 35,
    SHARED_SERVER: 65,  # flow, batches and previews
    "tests/e2e/test_reload.py": 32,
    "tests/cli/test_edit_cli.py": 32,
    "tests/e2e/test_webhooks.py": 27,
    "tests/e2e/test_editing.py": 23,
    "tests/engine/test_generate.py": 21,
    "tests/engine/test_gpu_bench.py": 20,
    "tests/e2e/test_s3_storage.py": 20,
    "tests/e2e/test_image_detail.py": 20,
    "tests/e2e/test_purge_crash.py": 19,
    "tests/engine/test_lora.py": 18,
    "tests/e2e/test_governance.py": 18,
    "tests/deploy/test_nginx.py": 18,
    "tests/e2e/test_models.py": 16,
    "tests/e2e/test_brand.py": 16,
    "tests/jobs/test_store_queue.py": 15,
    "tests/e2e/test_postgres.py": 15,
    "tests/e2e/test_labels.py": 15,
    "tests/e2e/test_logs.py": 14,
    "tests/worker/test_models.py": 12,
    "tests/jobs/test_store_machine.py": 12,
}


def unit_of(nodeid: str) -> str:
    """The work unit a test belongs to: its file, its package (PACKAGE_UNITS), or the files
    on the shared server."""
    path = nodeid.split("::", 1)[0]
    if path in SHARED_SERVER_FILES:
        return SHARED_SERVER
    for package in PACKAGE_UNITS:
        if path.startswith(package):
            return package
    return path


def longest_first(items: list[pytest.Item]) -> None:
    """Reorder collected tests, units by their cost; within a unit nothing moves."""
    rank = {unit: place for place, unit in enumerate(SLOW_UNITS)}
    order = {id(item): place for place, item in enumerate(items)}
    items.sort(key=lambda item: (rank.get(unit_of(item.nodeid), len(rank)), order[id(item)]))


class LongestFirstScheduling(LoadFileScheduling):
    """`--dist loadfile`, with the browser package as one unit, in the collected order."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        # The workers collect in longest-first order (`longest_first`); keep it.
        config.option.loadscopereorder = False
        super().__init__(config, log)

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

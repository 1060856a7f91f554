"""Batched lease renewals: what a worker's reporter sends for the tasks of one GPU batch."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class Beat:
    """One held attempt's renewal, with the steps it reached since its last beat (in order)."""

    task_id: str
    worker_id: str
    attempt: int
    steps: tuple[int, ...] = ()
    total: int = 0


class BeatAnswer(Enum):
    """What the store says back about one beat."""

    HELD = "held"  # renewed; carry on
    CANCEL_WANTED = "cancel_wanted"  # renewed, but someone asked to cancel the task
    LOST = "lost"  # another attempt holds it, it is finished, or it was deleted

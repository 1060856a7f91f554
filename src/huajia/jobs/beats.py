"""Batched lease renewals: what a worker's reporter sends for the tasks of one GPU batch."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True, slots=True)
class PreviewImage:
    """The latest look of one image of a running task: a small encoded picture."""

    index: int  # the image's place in its task
    step: int
    total: int
    width: int
    height: int
    media_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Beat:
    """One held attempt's renewal, with the steps it reached since its last beat (in order)
    and the newest preview of each image made since then (only when someone asked)."""

    task_id: str
    worker_id: str
    attempt: int
    steps: tuple[int, ...] = ()
    total: int = 0
    previews: tuple[PreviewImage, ...] = ()


class BeatAnswer(Enum):
    """What the store says back about one beat."""

    HELD = "held"  # renewed; carry on
    CANCEL_WANTED = "cancel_wanted"  # renewed, but someone asked to cancel the task
    PREVIEWS_WANTED = "previews_wanted"  # renewed; someone follows it and asked for previews
    LOST = "lost"  # another attempt holds it, it is finished, or it was deleted

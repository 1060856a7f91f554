"""Filters for listing tasks and searching the gallery, as SQL conditions."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, true

from huajia.jobs.model import TaskState
from huajia.jobs.tables import images, tasks


def task_filters(
    owner: str | None, states: Collection[TaskState] | None, since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:  # fmt: skip
    where: list[ColumnElement[bool]] = [true()]
    if owner is not None:
        where.append(tasks.c.owner == owner)
    if states is not None:
        where.append(tasks.c.state.in_([TaskState(state).value for state in states]))
    if since is not None:
        where.append(tasks.c.created_at >= since)
    if until is not None:
        where.append(tasks.c.created_at < until)
    return where


def gallery_filters(
    owner: str | None, text: str | None, preset: str | None, favourites_only: bool
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [true()]
    if owner is not None:
        where.append(tasks.c.owner == owner)
    if text:
        prompt = tasks.c.request["prompt"].as_string()
        where.append(prompt.icontains(text, autoescape=True))
    if preset is not None:
        where.append(tasks.c.request["style_preset"].as_string() == preset)
    if favourites_only:
        where.append(images.c.favourite == true())
    return where

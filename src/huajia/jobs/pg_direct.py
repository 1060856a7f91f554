"""PostgreSQL: a statement compiled once, run alone on a pooled psycopg connection.

A worker's claim, renewal and final write run for every task, and each is one statement alone
in its transaction (pg_leases.py). Through SQLAlchemy's `Connection`, each execution also
builds a connection wrapper, an execution context and the result's metadata (a psycopg
`Column` object per column, 34 of them for a task's row), and dispatches events: about
0.4 ms of the worker process's CPU per statement, more than the statement costs the server.
Here the statement is compiled once for the engine's dialect and executed on the pool's own
driver connection, with the same type conversions (the columns' bind and result processors)
and the same errors (psycopg's wrapped as SQLAlchemy's `DBAPIError`; a connection found dead
is invalidated, so the pool never hands it out again).

The connection is the pool's like any other: checked out and in through the pool (its
checkout ping included), and switched to autocommit only for the statement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import psycopg
from sqlalchemy import Column, Engine, exc
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement


class Direct:
    """`statement` compiled for `engine`'s dialect, its rows read as `columns` (in order)."""

    def __init__(self, engine: Engine, statement: ClauseElement,
                 columns: Sequence[Column[Any]]) -> None:  # fmt: skip
        dialect = engine.dialect
        if dialect.name != "postgresql" or dialect.driver != "psycopg":
            raise ValueError("direct statements run on PostgreSQL through psycopg only")
        self._engine = engine
        self._compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = str(self._compiled)
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for key, bind in self._compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binds[key] = process
        self.names = tuple(column.name for column in columns)
        self._columns = tuple(columns)
        # Each column's conversion, as SQLAlchemy picks it from the type the server sent (a
        # float's, say): read off the first result's description.
        self._results: tuple[Callable[[Any], Any] | None, ...] | None = None

    def first(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The statement run alone in its transaction; its first row by column name (None: no
        row)."""
        values = dict(self._compiled.construct_params(dict(params)) or {})
        for key, process in self._binds.items():
            values[key] = process(values[key])
        pooled = self._engine.raw_connection()
        try:
            row = self._run(pooled, values)
        finally:
            pooled.close()  # back to the pool (or discarded, when invalidated)
        if row is None:
            return None
        assert self._results is not None
        return {
            name: value if process is None else process(value)
            for name, value, process in zip(self.names, row, self._results, strict=True)
        }

    def _processors(self, description: Sequence[Any]) -> tuple[Callable[[Any], Any] | None, ...]:
        if [column.name for column in description] != list(self.names):
            raise ValueError(f"the statement's columns are not {self.names}: {self.sql}")
        dialect = self._engine.dialect
        return tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, sent.type_code)
            for column, sent in zip(self._columns, description, strict=True)
        )

    def _run(self, pooled: Any, values: dict[str, Any]) -> tuple[Any, ...] | None:
        driver = pooled.driver_connection
        try:
            driver.autocommit = True
            try:
                with driver.cursor() as cursor:
                    cursor.execute(self.sql, values)
                    row: tuple[Any, ...] | None = cursor.fetchone()
                    if self._results is None:
                        self._results = self._processors(cursor.description)
            finally:
                if not driver.closed:
                    driver.autocommit = False  # as the pool's other users expect it
        except psycopg.Error as error:
            dialect = self._engine.dialect
            dead = dialect.is_disconnect(cast(Any, error), driver, None) or bool(driver.closed)
            if dead:
                pooled.invalidate(error)
            raise exc.DBAPIError.instance(
                self.sql, values, error, psycopg.Error, connection_invalidated=dead
            ) from error
        return row

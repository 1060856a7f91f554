"""Statements compiled once and run straight on a pooled driver connection.

A worker's claim, renewal and final write run for every task. Through SQLAlchemy's
`Connection`, each execution also builds a connection wrapper, an execution context and the
result's metadata (a driver `Column` object per column on PostgreSQL, 34 of them for a task's
row), and dispatches events: about 0.4 ms of the worker process's CPU per statement, more than
the statement costs the database. Here a statement is compiled once for the engine's dialect
and executed on the pool's own driver connection, with the same type conversions (the
columns' bind and result processors) and the same errors (the driver's wrapped as
SQLAlchemy's `DBAPIError`; a connection found dead is invalidated, so the pool never hands it
out again).

- PostgreSQL (`Direct`): one statement alone, in autocommit (pg_leases.py's writes are one
  statement each); a final write with its images' records in one transaction
  (`pg_transaction`).
- SQLite (`sqlite_writing`): a few statements in one `BEGIN IMMEDIATE` transaction, taken
  after the process's other writers as `database.transaction` takes it (sqlite_leases.py).

The connection is the pool's like any other: checked out and in through the pool (its
checkout ping included); on PostgreSQL it is switched to autocommit only for the statement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import Column, Engine, exc
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from huajia.jobs.database import sqlite_writers

Row = dict[str, Any]


class Prepared:
    """`statement` compiled for `engine`'s dialect, its rows read as `columns` (in order)."""

    def __init__(self, engine: Engine, statement: ClauseElement,
                 columns: Sequence[Column[Any]] = ()) -> None:  # fmt: skip
        dialect = engine.dialect
        self._dialect = dialect
        self._compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        self.sql = str(self._compiled)
        # qmark drivers (sqlite3) take the values in order; psycopg takes them by name.
        self._positions = self._compiled.positiontup if self._compiled.positional else None
        self._binds: dict[str, Callable[[Any], Any]] = {}
        for bind, name in self._compiled.bind_names.items():  # by the name rendered
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                self._binds[name] = process
        self.names = tuple(column.name for column in columns)
        self._columns = tuple(columns)
        # Each column's conversion, as SQLAlchemy picks it from the type the driver reported
        # (a float's, say): read off the first result's description.
        self._results: tuple[Callable[[Any], Any] | None, ...] | None = None

    def values(self, params: Mapping[str, Any]) -> dict[str, Any] | list[Any]:
        """The driver's parameters for `params` (converted as SQLAlchemy would)."""
        values = dict(self._compiled.construct_params(dict(params)) or {})
        for key, process in self._binds.items():
            values[key] = process(values[key])
        if self._positions is not None:
            return [values[name] for name in self._positions]
        return values

    def run(self, cursor: Any, params: Mapping[str, Any]) -> list[Row]:
        """Execute on a driver cursor; the rows by column name."""
        return self.rows(self.fetch(cursor, self.values(params)))

    def fetch(self, cursor: Any, values: dict[str, Any] | list[Any]) -> list[Any]:
        """Execute with the driver's parameters (`values`); the driver's rows, unconverted
        (`rows` converts them: outside the transaction, where that matters)."""
        cursor.execute(self.sql, values)
        if not self.names:
            return []
        found: list[Any] = cursor.fetchall()
        if self._results is None:
            self._results = self._processors(cursor.description)
        return found

    def rows(self, found: Sequence[Any]) -> list[Row]:
        """Rows `fetch` returned, by column name and converted."""
        results = self._results
        if not found or results is None:
            return []
        return [
            {name: value if process is None else process(value)
             for name, value, process in zip(self.names, row, results, strict=True)}
            for row in found
        ]  # fmt: skip

    def run_many(self, cursor: Any, many: Sequence[Mapping[str, Any]]) -> None:
        """Execute once per parameter set (no rows)."""
        if many:
            cursor.executemany(self.sql, [self.values(params) for params in many])

    def _processors(self, description: Sequence[Any]) -> tuple[Callable[[Any], Any] | None, ...]:
        if [sent[0] for sent in description] != list(self.names):
            raise ValueError(f"the statement's columns are not {self.names}: {self.sql}")
        dialect = self._dialect
        return tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, sent[1])
            for column, sent in zip(self._columns, description, strict=True)
        )

    def wrapped(self, error: Exception, params: Any, dead: bool) -> exc.StatementError:
        """The driver's `error` as SQLAlchemy raises it."""
        return exc.DBAPIError.instance(self.sql, params, error, type(error),
                                       connection_invalidated=dead)  # fmt: skip


class Statements:
    """Statements prepared for one engine, each made once per key (at most `most` kept)."""

    def __init__(self, engine: Engine, most: int = 256) -> None:
        self._engine = engine
        self._most = most
        self._kept: dict[Any, Prepared] = {}

    def get(self, key: Any, make: Callable[[], ClauseElement],
            columns: Sequence[Column[Any]] = ()) -> Prepared:  # fmt: skip
        found = self._kept.get(key)
        if found is None:
            if len(self._kept) >= self._most:
                self._kept.clear()
            found = self._kept.setdefault(key, Prepared(self._engine, make(), columns))
        return found


class Direct(Prepared):
    """PostgreSQL through psycopg: the statement run alone, in autocommit."""

    def __init__(self, engine: Engine, statement: ClauseElement,
                 columns: Sequence[Column[Any]]) -> None:  # fmt: skip
        dialect = engine.dialect
        if dialect.name != "postgresql" or dialect.driver != "psycopg":
            raise ValueError("direct statements run on PostgreSQL through psycopg only")
        super().__init__(engine, statement, columns)
        self._engine = engine

    def first(self, params: Mapping[str, Any]) -> Row | None:
        """The statement run alone in its transaction; its first row by column name (None: no
        row)."""
        pooled = self._engine.raw_connection()
        try:
            rows = self._run(pooled, params)
        finally:
            pooled.close()  # back to the pool (or discarded, when invalidated)
        return rows[0] if rows else None

    def _run(self, pooled: Any, params: Mapping[str, Any]) -> list[Row]:
        import psycopg

        driver = pooled.driver_connection
        try:
            driver.autocommit = True
            try:
                with driver.cursor() as cursor:
                    return self.run(cursor, params)
            finally:
                if not driver.closed:
                    driver.autocommit = False  # as the pool's other users expect it
        except psycopg.Error as error:
            dialect = self._engine.dialect
            dead = dialect.is_disconnect(cast(Any, error), driver, None) or bool(driver.closed)
            if dead:
                pooled.invalidate(error)
            raise self.wrapped(error, params, dead) from error


@contextmanager
def pg_transaction(engine: Engine) -> Iterator[Any]:
    """A cursor in one transaction on a pooled psycopg connection: committed when the block
    ends, rolled back when it raises. Driver errors come out as SQLAlchemy's `DBAPIError`; a
    connection found dead is invalidated (`connection_invalidated` says so)."""
    import psycopg

    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert driver is not None
        try:
            with driver.cursor() as cursor:
                yield cursor
            driver.commit()
        except psycopg.Error as error:
            dead = engine.dialect.is_disconnect(cast(Any, error), driver, None) or bool(
                driver.closed
            )
            if dead:
                pooled.invalidate(error)
            raise exc.DBAPIError.instance(
                "", None, error, psycopg.Error, connection_invalidated=dead
            ) from error
    finally:
        pooled.close()  # rolled back by the pool if not committed (or discarded, when dead)


@contextmanager
def sqlite_writing(engine: Engine) -> Iterator[Any]:
    """A cursor in one `BEGIN IMMEDIATE` transaction on a pooled sqlite3 connection, after this
    process's other writers; committed when the block ends, rolled back when it raises. Driver
    errors come out as SQLAlchemy's `DBAPIError`."""
    writers = sqlite_writers(engine)
    if writers is None:
        raise ValueError("sqlite_writing needs a SQLite engine")
    with writers:
        pooled = engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            cursor = driver.cursor()
            try:
                driver.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    if driver.in_transaction:
                        driver.execute("ROLLBACK")
                    raise
                driver.execute("COMMIT")
            except sqlite3.Error as error:
                raise exc.DBAPIError.instance(
                    "", None, error, sqlite3.Error, connection_invalidated=False
                ) from error
            finally:
                cursor.close()
        finally:
            pooled.close()

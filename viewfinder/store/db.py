"""The SQLite connection of a run folder: pragmas, migrations and re-entrant transactions."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from viewfinder.errors import BadInput
from viewfinder.store.schema import MIGRATIONS, SCHEMA_VERSION

NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"  # the timestamp every table stores


class Database:
    """One connection shared by the store's query modules (WAL, foreign keys, one lock)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._depth = 0
        target = f"{path.resolve().as_uri()}?{_read_only_mode(path)}" if readonly else str(path)
        self._conn = sqlite3.connect(target, timeout=30, check_same_thread=False, isolation_level=None, uri=readonly)
        self._conn.row_factory = sqlite3.Row
        if readonly:
            self._check_readable()
            return
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._migrate()

    def _check_readable(self) -> None:
        """A reader cannot migrate: an older schema needs one writing command first."""
        version = self.schema_version()
        if version != SCHEMA_VERSION:
            self._conn.close()
            newer = version > SCHEMA_VERSION
            raise BadInput(
                f"{self.path}: schema version {version} is {'newer' if newer else 'older'} than this "
                f"viewfinder's ({SCHEMA_VERSION}); "
                + ("upgrade viewfinder" if newer else f"run 'viewfinder score {self.path.parent}' once to upgrade it")
            )

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise BadInput(
                f"{self.path}: schema version {version} is newer than this viewfinder "
                f"({SCHEMA_VERSION}); upgrade viewfinder"
            )
        for number in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in _statements(MIGRATIONS[number]):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version={number + 1}")

    def schema_version(self) -> int:
        return int(self.one("PRAGMA user_version")[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction, rolled back when the block raises; a transaction opened
        inside another joins it (so a batch's rows share one commit)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row:
        """The first row of a query that always returns one (an aggregate, a pragma)."""
        with self._lock:
            row: sqlite3.Row = self._conn.execute(sql, params).fetchone()
            return row

    def write(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement inside a transaction (the caller's, or its own)."""
        with self.transaction():
            return self._conn.execute(sql, params)

    def write_many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        with self.transaction():
            self._conn.executemany(sql, params)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _read_only_mode(path: Path) -> str:
    """How a reader opens the database without writing a byte. With no write-ahead log beside it
    (no writer has it open) the file is read as immutable, so SQLite makes no -wal or -shm file
    either; a writer starting meanwhile appends to its own log, which the reader does not need.
    With a log there, the reader uses it (read-only) to see the writer's committed work."""
    return "mode=ro" if path.with_name(path.name + "-wal").exists() else "immutable=1"


def marks(values: Sequence[Any]) -> str:
    """``?,?,?`` for an ``IN (...)`` list of ``values``."""
    return ",".join("?" * len(values))


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (no ';' inside our DDL literals)."""
    return [s.strip() for s in script.split(";") if s.strip()]


P = ParamSpec("P")
R = TypeVar("R")


class HasDatabase(Protocol):
    _db: Database


class on_db(Generic[P, R]):
    """A store method that is a query module's function applied to the store's database, so
    that the facade does not restate the function's signature."""

    def __init__(self, query: Callable[Concatenate[Database, P], R]) -> None:
        self.query = query
        self.__doc__ = query.__doc__

    def __get__(self, store: HasDatabase, owner: type | None = None) -> Callable[P, R]:
        query, db = self.query, store._db

        def bound(*args: P.args, **kwargs: P.kwargs) -> R:
            return query(db, *args, **kwargs)

        bound.__doc__ = self.__doc__
        return bound

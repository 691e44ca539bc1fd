"""The project file: a SQLite database holding libraries, computed columns, profiles and the
chemist's flags, tags and notes.

Why SQLite: every save is one transaction, so a crash or a killed process leaves either the
previous save or the new one, never a mix; WAL mode (``synchronous=NORMAL``) makes a commit cheap
and safe against a killed process. Libraries are stored column by column (:mod:`core.project.codec`,
no pickle), and the flags/tags/notes in a small table of their own, so saving an edit rewrites a few
rows rather than the library.

Layout (``PRAGMA user_version`` = :data:`SCHEMA_VERSION`, ``PRAGMA application_id`` =
:data:`APPLICATION_ID`)::

    settings(key, value)                       project-wide JSON values
    libraries(uid, position, title, source, created, modified, n_rows, info, profile, settings)
    columns(library_uid, position, name, dtype, encoding, data)     one row per table column
    annotations(library_uid, row, flag, tags, notes)                only rows with a mark
    areas(name, format, modified, state, tables)     the other work areas (format 2 on)
    area_columns(area, table_name, position, name, n_rows, dtype, encoding, data)

Format 1 (before the areas were kept) is opened as it is and gains the two area tables, in one
transaction, the first time it is opened for writing; read-only, it reads with no areas.

A project may come from anyone, so nothing in it is trusted: before anything is read or written,
the schema must be exactly the one above (a trigger could delete a library on the next save, a
view could stand in for a table), and SQLite runs with ``trusted_schema=OFF``. Every stored value
is then checked for its type and size before it is used (:mod:`core.project.codec` does the
columns), so a damaged or hostile file gives one :class:`ProjectError` naming the file, the
library and the column, never another exception.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from core.chem.library import Library
from core.project.annotations import (
    ANNOTATION_COLUMNS,
    FLAG_COLUMN,
    NOTES_COLUMN,
    TAGS_COLUMN,
    annotation_rows,
    apply_annotations,
    ensure_annotations,
)
from core.project.areas import (
    AREA_NAME,
    MAX_TABLES,
    TABLE_NAME,
    AreaSnapshot,
    AreaStateError,
    StoredArea,
    state_json,
    table_columns,
    table_from_columns,
)
from core.project.codec import (
    MAX_ROWS,
    ColumnDecodeError,
    ColumnEncodeError,
    decode_column,
    encode_column,
)

PROJECT_SUFFIX = ".drugdesk"
APPLICATION_ID = 0x44724473  # "DrDs"
SCHEMA_VERSION = 2
"""2: the work areas (Expression, Proteins, Models, Trials) are kept; 1: libraries only."""

_SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE libraries (
    uid TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    title TEXT NOT NULL,
    source TEXT,
    created TEXT NOT NULL,
    modified TEXT NOT NULL,
    n_rows INTEGER NOT NULL DEFAULT 0,
    info TEXT NOT NULL DEFAULT '{}',
    profile TEXT,
    settings TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE columns (
    library_uid TEXT NOT NULL REFERENCES libraries(uid),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    dtype TEXT NOT NULL,
    encoding TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (library_uid, position)
);
CREATE TABLE annotations (
    library_uid TEXT NOT NULL REFERENCES libraries(uid),
    row INTEGER NOT NULL,
    flag INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (library_uid, row)
);
CREATE TABLE areas (
    name TEXT PRIMARY KEY,
    format INTEGER NOT NULL,
    modified TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    tables TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE area_columns (
    area TEXT NOT NULL REFERENCES areas(name),
    table_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    n_rows INTEGER NOT NULL,
    dtype TEXT NOT NULL,
    encoding TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (area, table_name, position)
);
"""

_AREA_TABLES = ("areas", "area_columns")
"""The tables format 2 added: a format-1 project lacks them and is not damaged for it."""


def _normal_sql(sql: str) -> str:
    return " ".join(sql.split())


_TABLES: dict[str, str] = {
    statement.split()[2]: _normal_sql(statement)
    for statement in _SCHEMA.split(";")
    if statement.strip()
}
"""Our tables and their ``CREATE TABLE`` text as SQLite keeps it in ``sqlite_master``."""


class ProjectError(ValueError):
    """A project file could not be read or written; the message names the file and the cause."""


class _Damaged(ValueError):
    """A stored value that is not what DrugDesk writes (the message names the library/column)."""


@dataclass(slots=True)
class LibraryState:
    """One library as a project stores it.

    ``table`` and ``annotations`` may be ``None`` when they have not changed since the last save
    to the same file: the stored ones are kept (so saving a note does not rewrite the library).
    ``table`` holds the library's columns; flag/tags/notes are taken from ``annotations``.
    """

    uid: str
    title: str
    library: Library | None = None
    annotations: pd.DataFrame | None = None
    profile: Mapping[str, Any] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ProjectState:
    """Everything a save writes: the libraries in tab order, project-wide settings and the
    work areas.

    ``areas`` maps an area's key to its snapshot, or to ``None`` when it has not changed since
    the last save to the same file (the stored one is kept). With ``prune``, a stored area that
    ``areas`` does not name is removed.
    """

    libraries: list[LibraryState] = field(default_factory=list)
    settings: Mapping[str, Any] = field(default_factory=dict)
    areas: Mapping[str, AreaSnapshot | None] = field(default_factory=dict)


@dataclass(slots=True)
class StoredLibrary:
    uid: str
    title: str
    library: Library
    profile: dict[str, Any] | None
    settings: dict[str, Any]
    created: str
    modified: str


@dataclass(slots=True)
class ProjectContents:
    path: Path
    libraries: list[StoredLibrary]
    settings: dict[str, Any]
    areas: dict[str, StoredArea] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    """Areas that could not be read back (damaged, or from a newer DrugDesk), one line each:
    the rest of the project opens without them."""


def library_state(
    uid: str,
    title: str,
    library: Library,
    profile: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    *,
    with_table: bool = True,
    with_annotations: bool = True,
) -> LibraryState:
    """A :class:`LibraryState` snapshot of ``library`` that later edits of it cannot change.

    The copy is cheap (text columns copy pointers to immutable strings), so the GUI can take it and
    let a worker thread do the slow encoding.
    """
    table = library.table
    snapshot = None
    if with_table:
        columns = [c for c in table.columns if c not in ANNOTATION_COLUMNS]
        snapshot = Library(
            table=table[columns],  # indexing with a list copies: later edits do not reach it
            source=library.source,
            extra_columns=list(library.extra_columns),
            computed_columns=list(library.computed_columns),
            column_notes=dict(library.column_notes),
        )
    annotations = annotation_rows(table) if with_annotations else None
    return LibraryState(
        uid=uid,
        title=title,
        library=snapshot,
        annotations=annotations,
        profile=dict(profile) if profile is not None else None,
        settings=dict(settings or {}),
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


_LIBRARY_FIELDS = "uid, title, source, created, modified, n_rows, info, profile, settings"


def _label(row: tuple) -> str:
    """How messages name the library of a ``libraries`` row (its title when that is text)."""
    uid, title = row[0], row[1]
    return f"library '{title}'" if isinstance(title, str) else f"library {uid!r}"


def _json(text: str, kind: type, what: str) -> Any:
    """``text`` parsed as JSON of type ``kind``, or :class:`_Damaged` saying what is wrong."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _Damaged(f"{what} is JSON nested too deeply") from None
    except ValueError as error:  # JSONDecodeError, and integers of more than 4,300 digits
        raise _Damaged(f"{what} is not valid JSON ({error})") from None
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else kind.__name__
        raise _Damaged(f"{what} is a JSON {type(value).__name__}, not {expected}")
    return value


def _describe(path: Path, error: BaseException, action: str) -> str:
    text = str(error)
    lower = text.lower()
    if (isinstance(error, OSError) and error.errno == 28) or "disk is full" in lower:
        cause = "the disk is full"
    elif "readonly" in lower or "read-only" in lower or isinstance(error, PermissionError):
        cause = "the file or its folder is read-only"
    elif "not a database" in lower or "malformed" in lower:
        cause = "the file is damaged or not a project"
    elif "unable to open" in lower:
        cause = "the file or its folder cannot be opened (missing or no permission)"
    else:
        cause = text
    return f"Could not {action} {path}: {cause}"


def _schema_problems(entries: list[tuple], version: int) -> tuple[list[str], list[str]]:
    """``(untrusted, missing)``: what in ``sqlite_master`` DrugDesk did not write (triggers and
    views first: they are what runs SQL), and which of the tables of format ``version`` are
    absent."""
    found: list[tuple[int, str]] = []
    seen = set()
    for kind, name, _table, sql in entries:
        if kind == "table" and name in _TABLES:
            seen.add(name)
            if not isinstance(sql, str) or _normal_sql(sql) != _TABLES[name]:
                found.append((3, f"its table '{name}' is not defined as DrugDesk defines it"))
        elif kind == "index" and sql is None and str(name).startswith("sqlite_autoindex_"):
            continue  # a primary key's own index: its table is judged, not the index
        elif kind in ("trigger", "view"):
            found.append((0 if kind == "trigger" else 1, f"it holds a {kind} '{name}'"))
        else:
            article = "an" if str(kind)[:1] in "aeiou" else "a"
            found.append((2, f"it holds {article} {kind} '{name}' that DrugDesk does not write"))
    untrusted = [message for _rank, message in sorted(found, key=lambda item: item[0])]
    required = [name for name in _TABLES if version >= 2 or name not in _AREA_TABLES]
    return untrusted, [name for name in required if name not in seen]


class ProjectStore:
    """An open project file. Not thread-safe: use it from one thread at a time (the connection
    may be created on one thread and then used only on another).

    ``read_only`` opens it for reading and checking: SQLite then refuses any change to the file
    (``PRAGMA query_only``), and an old project is not switched to write-ahead logging.
    """

    def __init__(
        self, path: str | os.PathLike, *, create: bool = False, read_only: bool = False
    ) -> None:
        self.path = Path(path)
        if create and read_only:
            raise ValueError("a project cannot be created read-only")
        self.read_only = read_only
        if not create and not self.path.is_file():
            what = "is not a file" if self.path.exists() else "does not exist"
            raise ProjectError(f"{self.path} {what}")
        try:
            self._connection = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
        except sqlite3.Error as error:
            raise ProjectError(_describe(self.path, error, "open")) from error
        try:
            self._prepare(create)
        except BaseException:
            self._connection.close()
            raise

    def _prepare(self, create: bool) -> None:
        connection = self._connection
        try:
            # Before anything else: SQL in the file's schema may not call functions with side
            # effects, and a read-only store may not change the file at all.
            connection.execute("PRAGMA trusted_schema=OFF")
            if self.read_only:
                connection.execute("PRAGMA query_only=ON")
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            entries = connection.execute(
                "SELECT type, name, tbl_name, sql FROM sqlite_master"
            ).fetchall()
        except sqlite3.DatabaseError as error:
            raise ProjectError(
                f"{self.path} is not a DrugDesk project (SQLite could not read it: {error})"
            ) from error
        tables = len(entries)
        if application_id == APPLICATION_ID:
            # Checked before any write and before any read of our tables: a trigger would fire
            # on the next save (deleting a library, say) and a view could stand in for a table.
            untrusted, missing = _schema_problems(entries, version)
            if untrusted:
                raise ProjectError(
                    f"{self.path}: not a DrugDesk project we can trust: {'; '.join(untrusted[:3])}"
                    f"{' (and more)' if len(untrusted) > 3 else ''}. DrugDesk does not open such "
                    "a file (nothing in it was read or changed)"
                )
            if missing:
                raise ProjectError(
                    f"{self.path} is damaged: it lacks the table{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(repr(name) for name in missing)}"
                )
        if application_id == 0 and tables == 0:
            if not create:
                raise ProjectError(f"{self.path} is not a DrugDesk project (it is empty)")
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("BEGIN IMMEDIATE")
                # executescript would commit first: one statement at a time, in the transaction.
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
                connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                with contextlib.suppress(sqlite3.Error):
                    connection.execute("ROLLBACK")
                raise ProjectError(_describe(self.path, error, "create")) from error
        elif application_id != APPLICATION_ID:
            raise ProjectError(
                f"{self.path} is not a DrugDesk project (a SQLite file of another program)"
            )
        elif version > SCHEMA_VERSION:
            raise ProjectError(
                f"{self.path} was written by a newer DrugDesk (project format {version}; this "
                f"version reads up to {SCHEMA_VERSION})"
            )
        self.format = SCHEMA_VERSION if tables == 0 else version
        if self.read_only:
            return
        if self.format < SCHEMA_VERSION:
            self._upgrade()
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as error:
            raise ProjectError(_describe(self.path, error, "open")) from error

    def _upgrade(self) -> None:
        """Format 1 -> 2: add the area tables (one transaction: a crash leaves format 1)."""
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            existing = {
                row[0]
                for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            for statement in _SCHEMA.split(";"):
                if statement.strip() and statement.split()[2] not in existing:
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            raise ProjectError(_describe(self.path, error, "update the format of")) from error
        self.format = SCHEMA_VERSION

    # ------------------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        connection = self._connection
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise ProjectError(_describe(self.path, error, action)) from error
        try:
            yield connection
            connection.execute("COMMIT")
        except BaseException as error:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            if isinstance(error, (sqlite3.Error, OSError)):
                raise ProjectError(_describe(self.path, error, action)) from error
            raise

    def write(self, state: ProjectState, *, prune: bool = True) -> None:
        """Save ``state`` in one transaction: all of it or, on any error, none of it.

        Libraries whose ``library``/``annotations`` are ``None`` keep their stored table/marks.
        With ``prune`` (``state`` is the whole project), stored libraries that ``state`` does not
        list are removed and the settings replaced; without it, the libraries of ``state`` are
        added or updated (placed after the others) and the rest is kept.
        Raises :class:`ProjectError` (disk full, read-only, damaged file…); the file then holds
        the previous save.
        """
        if self.read_only:
            raise ProjectError(f"Could not save {self.path}: it was opened read-only")
        # Encode outside the transaction: the write lock is held only for the inserts.
        encoded: dict[str, list[tuple[str, str, str, bytes]]] = {}
        for item in state.libraries:
            if item.library is not None:
                table = item.library.table
                encoded[item.uid] = []
                for name in table.columns:
                    if name in ANNOTATION_COLUMNS:
                        continue
                    try:
                        encoded[item.uid].append((str(name), *encode_column(table[name])))
                    except ColumnEncodeError as error:
                        raise ProjectError(
                            f"Could not save {self.path}: library '{item.title}', column "
                            f"'{name}': {error}"
                        ) from error
        areas = self._encode_areas(state.areas)
        now = _now()
        with self._transaction("save") as db:
            known = {row[0]: row[1] for row in db.execute("SELECT uid, created FROM libraries")}
            base = 0
            if not prune:
                base = db.execute("SELECT coalesce(max(position) + 1, 0) FROM libraries").fetchone()
                base = int(base[0])
            for position, item in enumerate(state.libraries, start=base):
                profile = None if item.profile is None else json.dumps(dict(item.profile))
                settings = json.dumps(dict(item.settings))
                if item.uid in known:
                    db.execute(
                        "UPDATE libraries SET position=?, title=?, modified=?, profile=?, "
                        "settings=? WHERE uid=?",
                        (position, item.title, now, profile, settings, item.uid),
                    )
                elif item.library is None:
                    raise ProjectError(
                        f"Could not save {self.path}: library '{item.title}' is new to this file "
                        "but its table was not given"
                    )
                else:
                    db.execute(
                        "INSERT INTO libraries (uid, position, title, created, modified, "
                        "profile, settings) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (item.uid, position, item.title, now, now, profile, settings),
                    )
                if item.library is not None:
                    library = item.library
                    info = {
                        "extra_columns": [str(c) for c in library.extra_columns],
                        "computed_columns": [str(c) for c in library.computed_columns],
                        "column_notes": {str(k): str(v) for k, v in library.column_notes.items()},
                    }
                    db.execute(
                        "UPDATE libraries SET source=?, n_rows=?, info=? WHERE uid=?",
                        (
                            None if library.source is None else str(library.source),
                            len(library.table),
                            json.dumps(info),
                            item.uid,
                        ),
                    )
                    db.execute("DELETE FROM columns WHERE library_uid=?", (item.uid,))
                    db.executemany(
                        "INSERT INTO columns (library_uid, position, name, dtype, encoding, data) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        [
                            (item.uid, number, name, dtype, encoding, data)
                            for number, (name, dtype, encoding, data) in enumerate(
                                encoded[item.uid]
                            )
                        ],
                    )
                if item.annotations is not None:
                    marks = item.annotations
                    db.execute("DELETE FROM annotations WHERE library_uid=?", (item.uid,))
                    db.executemany(
                        "INSERT INTO annotations (library_uid, row, flag, tags, notes) "
                        "VALUES (?, ?, ?, ?, ?)",
                        zip(
                            [item.uid] * len(marks),
                            marks["row"].astype(int).tolist(),
                            marks[FLAG_COLUMN].astype(bool).astype(int).tolist(),
                            marks[TAGS_COLUMN].fillna("").astype(str).tolist(),
                            marks[NOTES_COLUMN].fillna("").astype(str).tolist(),
                            strict=True,
                        ),
                    )
            if prune:
                keep = {item.uid for item in state.libraries}
                for uid in set(known) - keep:
                    for table in ("columns", "annotations", "libraries"):
                        key = "uid" if table == "libraries" else "library_uid"
                        db.execute(f"DELETE FROM {table} WHERE {key}=?", (uid,))
                db.execute("DELETE FROM settings")
            db.executemany(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                [(str(k), json.dumps(v)) for k, v in dict(state.settings).items()],
            )
            self._write_areas(db, areas, prune=prune, now=now, names=set(state.areas))

    def _encode_areas(
        self, areas: Mapping[str, AreaSnapshot | None]
    ) -> dict[str, tuple[AreaSnapshot, str, dict[str, Any]] | None]:
        """Each changed area's snapshot, state text and encoded tables (outside the write lock).

        The tables map maps a table's name to ``None`` (keep the stored one) or to
        ``(description, [(name, n_rows, dtype, encoding, data), ...])``.
        """
        encoded: dict[str, tuple[AreaSnapshot, str, dict[str, Any]] | None] = {}
        for name, snapshot in areas.items():
            if not isinstance(name, str) or not AREA_NAME.match(name):
                raise ProjectError(f"Could not save {self.path}: {name!r} is not an area's name")
            if snapshot is None:
                encoded[name] = None
                continue
            try:
                text = state_json(name, snapshot.state)
                if len(snapshot.tables) > MAX_TABLES:
                    raise AreaStateError(
                        f"the {name} area has {len(snapshot.tables)} tables (at most {MAX_TABLES})"
                    )
                tables: dict[str, Any] = {}
                for table, frame in snapshot.tables.items():
                    if frame is None:
                        if not isinstance(table, str) or not TABLE_NAME.match(table):
                            raise AreaStateError(f"the {name} area names a table {table!r}")
                        tables[table] = None
                        continue
                    columns, info = table_columns(name, table, frame)
                    info["n_rows"] = len(frame)
                    rows = []
                    for series in columns:
                        try:
                            rows.append((str(series.name), len(frame), *encode_column(series)))
                        except ColumnEncodeError as error:
                            raise AreaStateError(
                                f"the {name} area's table '{table}', column '{series.name}': "
                                f"{error}"
                            ) from error
                    tables[table] = (info, rows)
            except AreaStateError as error:
                raise ProjectError(f"Could not save {self.path}: {error}") from error
            encoded[name] = (snapshot, text, tables)
        return encoded

    def _write_areas(
        self,
        db: sqlite3.Connection,
        areas: dict[str, tuple[AreaSnapshot, str, dict[str, Any]] | None],
        *,
        prune: bool,
        now: str,
        names: set[str],
    ) -> None:
        stored = {row[0]: row[1] for row in db.execute("SELECT name, tables FROM areas").fetchall()}
        for name, item in areas.items():
            if item is None:
                continue
            snapshot, text, tables = item
            try:
                old_tables = _json(stored.get(name, "{}"), dict, "stored tables")
            except _Damaged:
                old_tables = {}
            described: dict[str, Any] = {}
            for table, encoded in tables.items():
                if encoded is None:
                    if table in old_tables:
                        described[table] = old_tables[table]
                    continue
                info, rows = encoded
                described[table] = info
                db.execute("DELETE FROM area_columns WHERE area=? AND table_name=?", (name, table))
                db.executemany(
                    "INSERT INTO area_columns (area, table_name, position, name, n_rows, dtype, "
                    "encoding, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(name, table, position, *row) for position, row in enumerate(rows)],
                )
            for table in set(old_tables) - set(described):
                db.execute("DELETE FROM area_columns WHERE area=? AND table_name=?", (name, table))
            db.execute(
                "INSERT OR REPLACE INTO areas (name, format, modified, state, tables) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, int(snapshot.format), now, text, json.dumps(described, sort_keys=True)),
            )
        if prune:
            for name in set(stored) - names:
                db.execute("DELETE FROM area_columns WHERE area=?", (name,))
                db.execute("DELETE FROM areas WHERE name=?", (name,))

    def read(self) -> ProjectContents:
        """Every library (with its columns, flags/tags/notes and profile) and the settings.

        Raises
        ------
        ProjectError
            For any problem, naming the file and, for stored data that is damaged or not what
            DrugDesk writes, the library and column; nothing else.
        """
        try:
            db = self._connection
            db.execute("BEGIN")  # one consistent snapshot while reading
            try:
                settings = self._read_settings(db, None)
                libraries = [
                    self._read_library(db, row, None)
                    for row in db.execute(
                        f"SELECT {_LIBRARY_FIELDS} FROM libraries ORDER BY position"
                    ).fetchall()
                ]
                areas, area_problems = self._read_areas(db)
            finally:
                db.execute("COMMIT")
        except sqlite3.Error as error:
            raise ProjectError(_describe(self.path, error, "read")) from error
        except _Damaged as error:
            raise ProjectError(f"Could not read {self.path}: {error}") from None
        except MemoryError:
            raise ProjectError(
                f"Could not read {self.path}: there is not enough memory to hold its libraries"
            ) from None
        return ProjectContents(
            path=self.path,
            libraries=libraries,
            settings=settings,
            areas=areas,
            problems=area_problems,
        )

    def content_errors(self) -> list[str]:
        """Every problem in the stored content, one message each (empty when all is readable).

        Each library is decoded as :meth:`read` decodes it, but a problem is noted and the
        checking goes on: the messages name the library and column. The schema was checked
        when the store was opened; see :meth:`integrity_errors` for SQLite's own check.
        """
        problems: list[str] = []
        db = self._connection
        try:
            db.execute("BEGIN")
            try:
                self._read_settings(db, problems)
                for row in db.execute(
                    f"SELECT {_LIBRARY_FIELDS} FROM libraries ORDER BY position"
                ).fetchall():
                    try:
                        self._read_library(db, row, problems)
                    except MemoryError:
                        problems.append(f"{_label(row)}: too large to hold in memory")
                problems.extend(self._read_areas(db)[1])
                for table in ("columns", "annotations"):
                    (orphans,) = db.execute(
                        f"SELECT count(*) FROM {table} WHERE library_uid NOT IN "
                        "(SELECT uid FROM libraries)"
                    ).fetchone()
                    if orphans:
                        problems.append(
                            f"{orphans} row(s) of the table '{table}' belong to no library"
                        )
            finally:
                db.execute("COMMIT")
        except sqlite3.Error as error:
            problems.append(_describe(self.path, error, "read"))
        return problems

    def _read_areas(self, db: sqlite3.Connection) -> tuple[dict[str, StoredArea], list[str]]:
        """Every stored area that reads back, and one line for each that does not (damaged,
        or written by a newer DrugDesk): an area's problem never stops the project opening."""
        if self.format < 2:
            return {}, []
        areas: dict[str, StoredArea] = {}
        problems: list[str] = []
        for row in db.execute(
            "SELECT name, format, modified, state, tables FROM areas ORDER BY name"
        ).fetchall():
            try:
                area = self._read_area(db, row)
            except _Damaged as error:
                problems.append(str(error))
            except MemoryError:
                problems.append(f"the {row[0]!r} area is too large to hold in memory")
            else:
                areas[area.name] = area
        (orphans,) = db.execute(
            "SELECT count(*) FROM area_columns WHERE area NOT IN (SELECT name FROM areas)"
        ).fetchone()
        if orphans:
            problems.append(f"{orphans} row(s) of the table 'area_columns' belong to no area")
        return areas, problems

    def _read_area(self, db: sqlite3.Connection, row: tuple) -> StoredArea:
        name, format_, modified, state_text, tables_text = row
        if not isinstance(name, str) or not AREA_NAME.match(name):
            raise _Damaged(f"an area is stored under the name {name!r}")
        label = f"the {name} area"
        if not isinstance(format_, int) or isinstance(format_, bool) or format_ < 1:
            raise _Damaged(f"{label}: its format is {format_!r}, not a version number")
        for what, value in (("modified", modified), ("state", state_text), ("tables", tables_text)):
            if not isinstance(value, str):
                raise _Damaged(f"{label}: its {what} is stored as {type(value).__name__}")
        state = _json(state_text, dict, f"{label}'s state")
        described = _json(tables_text, dict, f"{label}'s table list")
        if len(described) > MAX_TABLES:
            raise _Damaged(f"{label} lists {len(described)} tables (at most {MAX_TABLES})")
        tables: dict[str, pd.DataFrame] = {}
        for table, info in described.items():
            where = f"{label}, table '{table}'"
            if not TABLE_NAME.match(table) or not isinstance(info, dict):
                raise _Damaged(f"{where}: not described as DrugDesk describes a table")
            n_rows = info.get("n_rows")
            if (
                not isinstance(n_rows, int)
                or isinstance(n_rows, bool)
                or not 0 <= n_rows <= MAX_ROWS
            ):
                raise _Damaged(f"{where}: it declares {n_rows!r} rows")
            index_name = info.get("index_name")
            if not isinstance(info.get("has_index", False), bool) or not (
                index_name is None or isinstance(index_name, str)
            ):
                raise _Damaged(f"{where}: its index is not described as DrugDesk describes one")
            columns: dict[str, pd.Series] = {}
            for column, rows, dtype, encoding, data in db.execute(
                "SELECT name, n_rows, dtype, encoding, data FROM area_columns "
                "WHERE area=? AND table_name=? ORDER BY position",
                (name, table),
            ):
                if not isinstance(column, str):
                    raise _Damaged(f"{where}: a column name is not stored as text")
                if column in columns:
                    raise _Damaged(f"{where}, column '{column}': it is stored twice")
                if rows != n_rows:
                    raise _Damaged(f"{where}, column '{column}': {rows!r} rows, not {n_rows}")
                try:
                    columns[column] = decode_column(dtype, encoding, data, n_rows)
                except ColumnDecodeError as error:
                    raise _Damaged(f"{where}, column '{column}': {error}") from None
            try:
                tables[table] = table_from_columns(columns, info)
            except (ValueError, TypeError) as error:
                raise _Damaged(f"{where}: damaged data ({error})") from None
        return StoredArea(name=name, format=format_, modified=modified, state=state, tables=tables)

    def _read_settings(self, db: sqlite3.Connection, problems: list[str] | None) -> dict:
        settings = {}
        for key, value in db.execute("SELECT key, value FROM settings"):
            try:
                if not isinstance(key, str) or not isinstance(value, str):
                    raise _Damaged("a project setting is not stored as text")
                settings[key] = _json(value, object, f"the project setting '{key}'")
            except _Damaged as error:
                if problems is None:
                    raise
                problems.append(str(error))
        return settings

    def _read_library(
        self, db: sqlite3.Connection, row: tuple, problems: list[str] | None
    ) -> StoredLibrary | None:
        """The library of a ``libraries`` row, decoded and checked.

        With ``problems`` (checking), each problem is appended there and the checking goes on
        (``None`` is returned when there was one); without it the first raises :class:`_Damaged`.
        """
        label = _label(row)
        found: list[str] = []

        def fail(message: str, column: str | None = None) -> None:
            where = label if column is None else f"{label}, column '{column}'"
            if problems is None:
                raise _Damaged(f"{where}: {message}")
            found.append(f"{where}: {message}")

        uid, title, source, created, modified, n_rows, info_text, profile_text, settings_text = row
        for field_name, value, optional in (
            ("uid", uid, False),
            ("title", title, False),
            ("source", source, True),
            ("created", created, False),
            ("modified", modified, False),
            ("info", info_text, False),
            ("profile", profile_text, True),
            ("settings", settings_text, False),
        ):
            if not (isinstance(value, str) or (optional and value is None)):
                fail(f"its {field_name} is stored as {type(value).__name__}, not text")
        if not isinstance(n_rows, int) or not 0 <= n_rows <= MAX_ROWS:
            fail(f"it declares {n_rows!r} rows (at most {MAX_ROWS:,} are accepted)")
        if found:
            problems.extend(found)  # the rest depends on these: stop here
            return None
        info = profile = settings = None
        try:
            info = _json(info_text, dict, "its column list (info)")
            for key in ("extra_columns", "computed_columns"):
                names = info.get(key, [])
                if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                    raise _Damaged(f"its {key} is not a list of column names")
            notes = info.get("column_notes", {})
            if not isinstance(notes, dict) or not all(isinstance(v, str) for v in notes.values()):
                raise _Damaged("its column notes are not texts by column name")
        except _Damaged as error:
            fail(str(error))
        for what, text, kind in (
            ("profile", profile_text, dict),
            ("settings", settings_text, dict),
        ):
            try:
                value = None if text is None else _json(text, kind, f"its {what}")
            except _Damaged as error:
                fail(str(error))
                continue
            if what == "profile":
                profile = value
            else:
                settings = value

        columns: dict[str, pd.Series | None] = {}
        for name, dtype, encoding, data in db.execute(
            "SELECT name, dtype, encoding, data FROM columns WHERE library_uid=? ORDER BY position",
            (uid,),
        ):
            if not isinstance(name, str):
                fail(f"a column name is stored as {type(name).__name__}, not text")
                continue
            if name in columns:
                fail("it is stored twice", column=name)
                continue
            try:
                columns[name] = decode_column(dtype, encoding, data, n_rows)
            except ColumnDecodeError as error:
                fail(str(error), column=name)
                columns[name] = None  # so a second copy is still reported as such
        columns = {name: series for name, series in columns.items() if series is not None}
        if n_rows and not columns and not found:
            fail(f"it declares {n_rows:,} rows but stores no columns")
        elif "valid" in columns and not pd.api.types.is_bool_dtype(columns["valid"].dtype):
            fail(f"its 'valid' column holds {columns['valid'].dtype} values, not true/false")

        bad_mark = db.execute(
            "SELECT row FROM annotations WHERE library_uid=? AND (typeof(row) != 'integer' OR "
            "typeof(flag) != 'integer' OR typeof(tags) != 'text' OR typeof(notes) != 'text') "
            "LIMIT 1",
            (uid,),
        ).fetchone()
        if bad_mark is not None:
            fail(f"the flag, tags or notes of row {bad_mark[0]!r} are not stored as DrugDesk does")
        elif problems is not None:
            (outside,) = db.execute(
                "SELECT count(*) FROM annotations WHERE library_uid=? AND (row < 0 OR row >= ?)",
                (uid, n_rows),
            ).fetchone()
            if outside:
                fail(f"{outside} flag/tags/notes row(s) point past its {n_rows:,} rows")
        if found:
            problems.extend(found)
            return None

        try:
            table = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
            library = Library(
                table=table,
                source=Path(source) if source else None,
                extra_columns=[c for c in info.get("extra_columns", []) if c in table.columns],
                computed_columns=[
                    c for c in info.get("computed_columns", []) if c in table.columns
                ],
                column_notes={str(k): v for k, v in info.get("column_notes", {}).items()},
            )
            ensure_annotations(library)
            marks = pd.DataFrame(
                db.execute(
                    "SELECT row, flag, tags, notes FROM annotations WHERE library_uid=? "
                    "ORDER BY row",
                    (uid,),
                ).fetchall(),
                columns=["row", FLAG_COLUMN, TAGS_COLUMN, NOTES_COLUMN],
            )
            if len(marks):
                marks[FLAG_COLUMN] = marks[FLAG_COLUMN].astype(bool)
                apply_annotations(library, marks)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
            # The checks above should leave nothing for these; if one does, it is still named.
            fail(f"damaged data ({type(error).__name__}: {error})")
            if problems is not None:
                problems.extend(found)
            return None
        return StoredLibrary(
            uid=uid,
            title=title,
            library=library,
            profile=profile,
            settings=settings,
            created=created,
            modified=modified,
        )

    def integrity_errors(self) -> list[str]:
        """``PRAGMA integrity_check`` messages (empty when the file is sound)."""
        try:
            rows = self._connection.execute("PRAGMA integrity_check").fetchall()
        except sqlite3.DatabaseError as error:  # too damaged for the check itself
            return [_describe(self.path, error, "check")]
        return [] if rows == [("ok",)] else [str(row[0]) for row in rows]

    def close(self) -> None:
        """Checkpoint the write-ahead log into the file and close."""
        with contextlib.suppress(sqlite3.Error):
            self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._connection.close()

    def __enter__(self) -> ProjectStore:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_project(path: str | os.PathLike) -> ProjectStore:
    """Open an existing project (:class:`ProjectError` when it is missing, damaged or not one)."""
    return ProjectStore(path)


def read_project(path: str | os.PathLike) -> ProjectContents:
    """Open (read-only), read and close a project; :class:`ProjectError` for any problem."""
    with ProjectStore(path, read_only=True) as store:
        return store.read()


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal")]


def save_project_as(path: str | os.PathLike, state: ProjectState) -> Path:
    """Write ``state`` (every library with its table and marks) to a new file at ``path``.

    The file is built beside ``path`` under a temporary name and moved over ``path`` only when
    complete, so a full disk or a crash leaves any previous file at ``path`` untouched.
    Raises :class:`ProjectError` with the cause.
    """
    path = Path(path)
    missing = [item.title for item in state.libraries if item.library is None]
    if missing:
        raise ProjectError(f"Could not save {path}: no table given for {', '.join(missing)}")
    folder = path.parent
    if not folder.is_dir():
        raise ProjectError(f"Could not save {path}: the folder {folder} does not exist")
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        os.close(handle)
    except OSError as error:
        raise ProjectError(_describe(path, error, "save")) from error
    temp = Path(temp_name)
    try:
        store = ProjectStore(temp, create=True)
        try:
            store.write(state)
        finally:
            store.close()
        leftovers = [p for p in _sidecars(temp) if p.exists() and p.stat().st_size]
        if leftovers:
            raise ProjectError(f"Could not save {path}: SQLite left {leftovers[0].name} behind")
        for sidecar in _sidecars(path):
            # A write-ahead log of the file being replaced would be replayed onto the new file.
            sidecar.unlink(missing_ok=True)
        os.replace(temp, path)
        _sync_folder(folder)
    except ProjectError as error:
        _remove_quietly(temp)
        raise ProjectError(str(error).replace(str(temp), str(path))) from error
    except OSError as error:
        _remove_quietly(temp)
        raise ProjectError(_describe(path, error, "save")) from error
    return path


def _remove_quietly(path: Path) -> None:
    for file in (path, *_sidecars(path)):
        with contextlib.suppress(OSError):
            file.unlink(missing_ok=True)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError, AttributeError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


__all__ = [
    "APPLICATION_ID",
    "PROJECT_SUFFIX",
    "SCHEMA_VERSION",
    "LibraryState",
    "ProjectContents",
    "ProjectError",
    "ProjectState",
    "ProjectStore",
    "StoredLibrary",
    "library_state",
    "open_project",
    "read_project",
    "save_project_as",
]

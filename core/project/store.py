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
from core.project.codec import ColumnDecodeError, decode_column, encode_column

PROJECT_SUFFIX = ".drugdesk"
APPLICATION_ID = 0x44724473  # "DrDs"
SCHEMA_VERSION = 1

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
"""


class ProjectError(ValueError):
    """A project file could not be read or written; the message names the file and the cause."""


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
    """Everything a save writes: the libraries in tab order and project-wide settings."""

    libraries: list[LibraryState] = field(default_factory=list)
    settings: Mapping[str, Any] = field(default_factory=dict)


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


class ProjectStore:
    """An open project file. Not thread-safe: use it from one thread at a time (the connection
    may be created on one thread and then used only on another)."""

    def __init__(self, path: str | os.PathLike, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise ProjectError(f"{self.path} does not exist")
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
            application_id = connection.execute("PRAGMA application_id").fetchone()[0]
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as error:
            raise ProjectError(
                f"{self.path} is not a DrugDesk project (SQLite could not read it: {error})"
            ) from error
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
        try:
            if connection.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as error:
            raise ProjectError(_describe(self.path, error, "open")) from error

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
        # Encode outside the transaction: the write lock is held only for the inserts.
        encoded: dict[str, list[tuple[str, str, str, bytes]]] = {}
        for item in state.libraries:
            if item.library is not None:
                table = item.library.table
                encoded[item.uid] = [
                    (str(name), *encode_column(table[name]))
                    for name in table.columns
                    if name not in ANNOTATION_COLUMNS
                ]
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

    def read(self) -> ProjectContents:
        """Every library (with its columns, flags/tags/notes and profile) and the settings."""
        try:
            db = self._connection
            db.execute("BEGIN")  # one consistent snapshot while reading
            try:
                settings = {
                    key: json.loads(value)
                    for key, value in db.execute("SELECT key, value FROM settings")
                }
                rows = db.execute(
                    "SELECT uid, title, source, created, modified, n_rows, info, profile, "
                    "settings FROM libraries ORDER BY position"
                ).fetchall()
                libraries = [self._read_library(db, *row) for row in rows]
            finally:
                db.execute("COMMIT")
        except sqlite3.Error as error:
            raise ProjectError(_describe(self.path, error, "read")) from error
        except (ColumnDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise ProjectError(f"Could not read {self.path}: damaged project data ({error})") from (
                error
            )
        return ProjectContents(path=self.path, libraries=libraries, settings=settings)

    def _read_library(
        self,
        db: sqlite3.Connection,
        uid: str,
        title: str,
        source: str | None,
        created: str,
        modified: str,
        n_rows: int,
        info_text: str,
        profile_text: str | None,
        settings_text: str,
    ) -> StoredLibrary:
        info = json.loads(info_text)
        columns = {}
        for name, dtype, encoding, data in db.execute(
            "SELECT name, dtype, encoding, data FROM columns WHERE library_uid=? ORDER BY position",
            (uid,),
        ):
            try:
                columns[name] = decode_column(dtype, encoding, data, n_rows)
            except ColumnDecodeError as error:
                raise ColumnDecodeError(f"library '{title}', column '{name}': {error}") from error
        table = pd.DataFrame(columns, index=pd.RangeIndex(n_rows))
        library = Library(
            table=table,
            source=Path(source) if source else None,
            extra_columns=[c for c in info.get("extra_columns", []) if c in table.columns],
            computed_columns=[c for c in info.get("computed_columns", []) if c in table.columns],
            column_notes=dict(info.get("column_notes", {})),
        )
        ensure_annotations(library)
        marks = pd.DataFrame(
            db.execute(
                "SELECT row, flag, tags, notes FROM annotations WHERE library_uid=? ORDER BY row",
                (uid,),
            ).fetchall(),
            columns=["row", FLAG_COLUMN, TAGS_COLUMN, NOTES_COLUMN],
        )
        if len(marks):
            marks[FLAG_COLUMN] = marks[FLAG_COLUMN].astype(bool)
            apply_annotations(library, marks)
        return StoredLibrary(
            uid=uid,
            title=title,
            library=library,
            profile=json.loads(profile_text) if profile_text else None,
            settings=json.loads(settings_text or "{}"),
            created=created,
            modified=modified,
        )

    def integrity_errors(self) -> list[str]:
        """``PRAGMA integrity_check`` messages (empty when the file is sound)."""
        rows = self._connection.execute("PRAGMA integrity_check").fetchall()
        return [] if rows == [("ok",)] else [row[0] for row in rows]

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
    """Open, read and close a project."""
    with ProjectStore(path) as store:
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

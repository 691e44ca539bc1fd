"""Hostile and damaged project files: each is a valid project written by the real store, then
tampered with through sqlite3. DrugDesk must refuse a schema it did not write before reading or
writing anything (a trigger must never fire), and turn every wrong value inside into one
ProjectError naming the file, the library and the column, never another exception."""

from __future__ import annotations

import re
import sqlite3
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.chem.library import assemble_library, process_records
from core.chem.library_edit import add_columns
from core.chem.readers import RawRecord
from core.project.annotations import NOTES_COLUMN, ensure_annotations
from core.project.store import (
    ProjectError,
    ProjectState,
    ProjectStore,
    library_state,
    read_project,
    save_project_as,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus" / "bad_inputs" / "projects"


def make_library():
    records = [
        RawRecord(index=i, name=f"m{i}", text=s)
        for i, s in enumerate(["CCO", "c1ccccc1O", "CCN(CC)CC"])
    ]
    library = assemble_library([process_records(records)])
    add_columns(library, pd.DataFrame({"score": [0.9, np.nan, 0.5], "note": ["a", None, "c"]}))
    ensure_annotations(library)
    library.table.loc[1, NOTES_COLUMN] = "keep me"
    return library


@pytest.fixture
def project(tmp_path) -> Path:
    state = ProjectState([library_state("lib1", "hits", make_library(), {"name": "oral"})])
    return save_project_as(tmp_path / "p.drugdesk", state)


def tamper(path: Path, *statements: str, parameters: tuple = ()) -> None:
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement, parameters if "?" in statement else ())
    connection.commit()
    connection.close()


def column_count(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT count(*) FROM columns").fetchone()[0]
    finally:
        connection.close()


# ----------------------------------------------------------------------------------------------
# A schema DrugDesk did not write


WIPE = "CREATE TRIGGER wipe AFTER INSERT ON libraries BEGIN DELETE FROM columns; END"


def test_a_trigger_is_refused_before_it_can_fire(project):
    tamper(project, WIPE)
    columns = column_count(project)
    before = project.read_bytes()
    for open_it in (lambda: ProjectStore(project), lambda: read_project(project)):
        with pytest.raises(ProjectError, match="not a DrugDesk project we can trust") as caught:
            open_it()
        assert "trigger 'wipe'" in str(caught.value)
        assert str(project) in str(caught.value)
    # Nothing was written: the trigger never ran, the file is byte for byte what it was.
    assert project.read_bytes() == before
    assert column_count(project) == columns


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (["CREATE VIEW everything AS SELECT * FROM libraries"], "a view 'everything'"),
        (["CREATE TABLE extra (x)"], "a table 'extra' that DrugDesk does not write"),
        (["CREATE INDEX by_name ON columns(name)"], "an index 'by_name' that"),
        (["ALTER TABLE columns ADD COLUMN evil TEXT"], "table 'columns' is not defined as"),
        (
            [
                "ALTER TABLE libraries RENAME TO old_libraries",
                "CREATE VIEW libraries AS SELECT * FROM old_libraries",
            ],
            "view 'libraries'",
        ),
        (
            ["CREATE TRIGGER t1 BEFORE UPDATE ON settings BEGIN SELECT 1; END", WIPE],
            "trigger 't1'; it holds a trigger 'wipe'",
        ),
    ],
)
def test_anything_outside_our_schema_is_refused(project, statements, message):
    tamper(project, *statements)
    before = project.read_bytes()
    with pytest.raises(ProjectError, match="we can trust") as caught:
        read_project(project)
    assert message in str(caught.value)
    with pytest.raises(ProjectError, match="we can trust"):
        ProjectStore(project).close()
    assert project.read_bytes() == before


def test_a_missing_table_is_named(project):
    tamper(project, "DROP TABLE annotations")
    with pytest.raises(ProjectError, match="lacks the table 'annotations'"):
        read_project(project)


def test_reading_changes_nothing_and_leaves_no_sidecar_files(project):
    before = project.read_bytes()
    assert read_project(project).libraries[0].library.table.loc[1, NOTES_COLUMN] == "keep me"
    assert project.read_bytes() == before
    assert sorted(p.name for p in project.parent.iterdir()) == ["p.drugdesk"]
    with (
        ProjectStore(project, read_only=True) as store,
        pytest.raises(ProjectError, match="read-only"),
    ):
        store.write(ProjectState([]))
    assert project.read_bytes() == before


# ----------------------------------------------------------------------------------------------
# Well-formed SQLite, wrong inside


DEEP = "[" * 100_000 + "]" * 100_000
LIB = "library 'hits': "
COLUMN = "library 'hits', column "

HOSTILE_CONTENT = [
    (["UPDATE libraries SET info = '[1, 2]'"], LIB + r"its column list \(info\) is a JSON list"),
    (["UPDATE libraries SET info = 'nope'"], LIB + ".*is not valid JSON"),
    (["UPDATE libraries SET info = ?"], LIB + ".*nested too deeply"),
    (["""UPDATE libraries SET info = '{"extra_columns": "smiles"}'"""], LIB + ".*not a list"),
    (["UPDATE libraries SET profile = '[1]'"], LIB + "its profile is a JSON list"),
    (["UPDATE libraries SET settings = '3'"], LIB + "its settings is a JSON int"),
    (["UPDATE libraries SET title = x'00ff'"], "library 'lib1': its title is stored as bytes"),
    (["UPDATE libraries SET n_rows = 1000000000000"], LIB + "it declares 1000000000000 rows"),
    (["UPDATE libraries SET n_rows = 'many'"], LIB + "it declares 'many' rows"),
    (["UPDATE libraries SET n_rows = 5"], COLUMN + r"'name': .*expected \(5,\)"),
    (["UPDATE columns SET data = 'text' WHERE name = 'score'"], COLUMN + "'score': .*bytes"),
    (["UPDATE columns SET dtype = 'Sparse[int]' WHERE name = 'note'"], COLUMN + "'note'"),
    (
        ["UPDATE columns SET encoding = 'pickle' WHERE name = 'smiles'"],
        COLUMN + "'smiles'.*'pickle'",
    ),
    (["UPDATE columns SET name = 'smiles' WHERE name = 'note'"], "column 'smiles': .*stored twice"),
    (["UPDATE columns SET name = x'07' WHERE name = 'note'"], LIB + "a column name is stored as"),
    (["DELETE FROM columns"], LIB + "it declares 3 rows but stores no columns"),
    (["UPDATE columns SET dtype = 'object', encoding = 'json' WHERE name = 'valid'"], COLUMN),
    (["UPDATE annotations SET notes = x'41'"], LIB + ".*row 1 are not stored as DrugDesk"),
    (["INSERT INTO settings VALUES ('deep', ?)"], "the project setting 'deep' is JSON nested"),
    (["INSERT INTO settings VALUES (x'01', '1')"], "a project setting is not stored as text"),
]


@pytest.mark.parametrize(("statements", "message"), HOSTILE_CONTENT)
def test_wrong_content_is_one_project_error_naming_the_library(project, statements, message):
    tamper(project, *statements, parameters=(DEEP,))
    with pytest.raises(ProjectError) as caught:
        read_project(project)
    text = str(caught.value)
    assert text.startswith(f"Could not read {project}: ")
    assert re.search(message, text), text
    with ProjectStore(project, read_only=True) as store:
        problems = store.content_errors()
    # --check reports what reading refuses
    assert any(re.search(message, problem) for problem in problems), problems


def test_a_zlib_bomb_in_a_column_is_refused_without_inflating_it(project):
    bomb = zlib.compress(b"x" * (64 * 1024**2), 9)  # 64 MiB in about 64 KB
    tamper(project, "UPDATE columns SET data = ? WHERE name = 'note'", parameters=(bomb,))
    with pytest.raises(ProjectError, match=r"library 'hits', column 'note': .*inflates"):
        read_project(project)


def test_a_huge_declared_shape_is_refused(project):
    import io

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    data = zlib.compress(header.getvalue())
    tamper(project, "UPDATE columns SET data = ? WHERE name = 'score'", parameters=(data,))
    with pytest.raises(ProjectError, match=r"column 'score': values: declares shape"):
        read_project(project)


def test_check_lists_every_problem_and_a_sound_project_has_none(project):
    with ProjectStore(project, read_only=True) as store:
        assert store.integrity_errors() == []
        assert store.content_errors() == []
    tamper(
        project,
        "UPDATE columns SET data = x'00' WHERE name IN ('score', 'note')",
        "INSERT INTO annotations (library_uid, row, flag) VALUES ('lib1', 99, 1)",
        "INSERT INTO columns VALUES ('gone', 0, 'x', 'object', 'json', x'00')",
    )
    with ProjectStore(project, read_only=True) as store:
        problems = store.content_errors()
    assert any("library 'hits', column 'score'" in p for p in problems)
    assert any("library 'hits', column 'note'" in p for p in problems)
    assert any("point past its 3 rows" in p for p in problems)
    assert any("belong to no library" in p for p in problems)
    assert len(problems) == 4


def test_adding_to_a_damaged_project_keeps_the_other_library(project):
    # A save touches only the libraries it is given: a damaged one stays as it was.
    tamper(project, "UPDATE columns SET data = x'00' WHERE name = 'score'")
    with ProjectStore(project) as store:
        store.write(ProjectState([library_state("lib2", "more", make_library())]), prune=False)
    connection = sqlite3.connect(project)
    assert connection.execute("SELECT data FROM columns WHERE name='score' AND library_uid='lib1'")
    assert connection.execute("SELECT count(*) FROM libraries").fetchone() == (2,)
    connection.close()


# ----------------------------------------------------------------------------------------------
# The committed corpus (tests/corpus/bad_inputs/projects, described in its README)

CORPUS_EXPECTED = {
    "trigger_deletes_columns.drugdesk": "trigger 'wipe_columns'",
    "view_instead_of_table.drugdesk": "view 'libraries'",
    "info_is_a_list.drugdesk": "info) is a JSON list",
    "trillion_rows.drugdesk": "declares 1000000000000 rows",
}


@pytest.mark.parametrize("name", sorted(CORPUS_EXPECTED))
def test_corpus_projects_are_refused_with_their_reason(name, tmp_path):
    source = CORPUS / name
    assert source.stat().st_size < 50_000
    copy = tmp_path / name  # a read never changes the file, but the corpus is not ours to risk
    copy.write_bytes(source.read_bytes())
    with pytest.raises(ProjectError, match=re.escape(CORPUS_EXPECTED[name])):
        read_project(copy)
    assert copy.read_bytes() == source.read_bytes()


def test_a_folder_named_like_a_project_is_not_a_file(tmp_path):
    folder = tmp_path / "folder.drugdesk"
    folder.mkdir()
    with pytest.raises(ProjectError, match=f"{folder} is not a file"):
        read_project(folder)

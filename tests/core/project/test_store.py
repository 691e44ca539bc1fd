"""Project files: round trip of libraries, computed columns, marks and profiles; one transaction
per save; clear errors for damaged, foreign, full or unwritable files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from core.chem.library import assemble_library, process_records
from core.chem.library_edit import add_columns
from core.chem.readers import RawRecord
from core.hitlist.presets import PRESETS
from core.project.annotations import (
    FLAG_COLUMN,
    NOTES_COLUMN,
    TAGS_COLUMN,
    annotation_rows,
    ensure_annotations,
    parse_tags,
    with_tag,
)
from core.project.store import (
    ProjectError,
    ProjectState,
    ProjectStore,
    library_state,
    read_project,
    save_project_as,
)

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "not a smiles", "CCN(CC)CC"]


def make_library():
    records = [RawRecord(index=i, name=f"m{i}", text=s) for i, s in enumerate(SMILES)]
    library = assemble_library([process_records(records)])
    add_columns(
        library,
        pd.DataFrame(
            {
                "score": [0.9, 0.1, np.nan, np.nan, 0.5],
                "rank": pd.array([1, 3, None, None, 2], dtype="Int64"),
                "cluster": ["a", "b", "", "", "a"],
            }
        ),
    )
    library.column_notes["score"] = "desirability"
    library.table["pka"] = pd.array([7, None, 4, None, 10], dtype="Int64")  # nullable ints
    library.extra_columns.append("pka")
    ensure_annotations(library)
    return library


def test_round_trip_restores_table_marks_and_profile(tmp_path):
    library = make_library()
    library.table.loc[1, FLAG_COLUMN] = True
    library.table.loc[2, TAGS_COLUMN] = "follow-up, keep"
    library.table.loc[4, NOTES_COLUMN] = "ordered\nfrom vendor ☆"
    profile = PRESETS["oral"].to_dict()
    state = ProjectState(
        [library_state("lib1", "first.smi", library, profile, {"sort": "rank"})],
        {"current": "lib1"},
    )
    path = save_project_as(tmp_path / "p.drugdesk", state)
    contents = read_project(path)
    assert contents.settings == {"current": "lib1"}
    (stored,) = contents.libraries
    assert stored.title == "first.smi"
    assert stored.profile == profile
    assert stored.settings == {"sort": "rank"}
    restored = stored.library
    pd.testing.assert_frame_equal(restored.table, library.table[restored.table.columns])
    assert list(restored.table.columns) == list(library.table.columns)
    assert restored.computed_columns == ["score", "rank", "cluster"]
    assert restored.column_notes["score"] == "desirability"
    assert restored.table[FLAG_COLUMN].tolist() == [False, True, False, False, False]
    assert restored.table.loc[4, NOTES_COLUMN] == "ordered\nfrom vendor ☆"
    assert str(restored.table["pka"].dtype) == "Int64"
    assert restored.table["pka"].isna().tolist() == [False, True, False, True, False]


def test_saving_marks_alone_keeps_the_stored_table(tmp_path):
    library = make_library()
    path = save_project_as(
        tmp_path / "p.drugdesk", ProjectState([library_state("a", "A", library)])
    )
    library.table.loc[0, FLAG_COLUMN] = True
    with ProjectStore(path) as store:
        store.write(ProjectState([library_state("a", "A renamed", library, with_table=False)]))
        columns_before = store._connection.execute("SELECT count(*) FROM columns").fetchone()
    contents = read_project(path)
    assert contents.libraries[0].title == "A renamed"
    assert contents.libraries[0].library.table[FLAG_COLUMN].tolist()[0] is True
    assert columns_before[0] == len(library.table.columns) - 3  # marks are not columns


def test_libraries_removed_from_the_state_are_removed_from_the_file(tmp_path):
    one, two = make_library(), make_library()
    path = save_project_as(
        tmp_path / "p.drugdesk",
        ProjectState([library_state("1", "one", one), library_state("2", "two", two)]),
    )
    with ProjectStore(path) as store:
        store.write(ProjectState([library_state("2", "two", two, with_table=False)]))
        assert store._connection.execute(
            "SELECT count(*) FROM columns WHERE library_uid='1'"
        ).fetchone() == (0,)
    assert [item.title for item in read_project(path).libraries] == ["two"]


def test_a_failed_save_leaves_the_previous_save(tmp_path):
    library = make_library()
    path = save_project_as(
        tmp_path / "p.drugdesk", ProjectState([library_state("a", "A", library)])
    )
    with ProjectStore(path) as store:
        # A full disk, as SQLite sees it: no page may be added.
        pages = store._connection.execute("PRAGMA page_count").fetchone()[0]
        store._connection.execute(f"PRAGMA max_page_count={pages}")
        big = make_library()
        big.table["blob"] = [("x" * 200_000) + str(i) for i in range(len(big.table))]
        big.extra_columns.append("blob")
        big.table.loc[3, NOTES_COLUMN] = "lost"
        with pytest.raises(ProjectError, match="disk is full"):
            store.write(ProjectState([library_state("a", "A2", big)]))
    contents = read_project(path)
    assert contents.libraries[0].title == "A"
    assert "blob" not in contents.libraries[0].library.table.columns
    assert contents.libraries[0].library.table[NOTES_COLUMN].tolist() == [""] * 5


def test_save_as_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    library = make_library()
    path = tmp_path / "p.drugdesk"
    save_project_as(path, ProjectState([library_state("a", "old", library)]))
    before = path.read_bytes()

    def no_space(*_args, **_kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("core.project.store.encode_column", no_space)
    with pytest.raises(ProjectError, match="disk is full"):
        save_project_as(path, ProjectState([library_state("a", "new", library)]))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.drugdesk"]
    assert read_project(path).libraries[0].title == "old"


def test_save_as_into_a_missing_or_read_only_folder_is_a_clear_error(tmp_path, monkeypatch):
    state = ProjectState([library_state("a", "A", make_library())])
    with pytest.raises(ProjectError, match="does not exist"):
        save_project_as(tmp_path / "nowhere" / "p.drugdesk", state)

    def read_only(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("core.project.store.tempfile.mkstemp", read_only)
    with pytest.raises(ProjectError, match="read-only"):
        save_project_as(tmp_path / "p.drugdesk", state)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"SMILES\nCCO\n" * 50, "not a DrugDesk project"),
        (b"", "empty"),
    ],
)
def test_non_project_files_are_refused(tmp_path, content, message):
    path = tmp_path / "x.drugdesk"
    path.write_bytes(content)
    with pytest.raises(ProjectError, match=message):
        read_project(path)


def test_other_sqlite_files_and_newer_formats_are_refused(tmp_path):
    other = tmp_path / "other.db"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE t (x)")
    connection.commit()
    connection.close()
    with pytest.raises(ProjectError, match="another program"):
        read_project(other)
    path = save_project_as(tmp_path / "p.drugdesk", ProjectState([]))
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version=99")
    connection.close()
    with pytest.raises(ProjectError, match="newer DrugDesk"):
        read_project(path)
    with pytest.raises(ProjectError, match="does not exist"):
        read_project(tmp_path / "missing.drugdesk")


def test_damaged_column_data_names_the_column(tmp_path):
    path = save_project_as(
        tmp_path / "p.drugdesk", ProjectState([library_state("a", "A", make_library())])
    )
    connection = sqlite3.connect(path)
    connection.execute("UPDATE columns SET data = x'00010203' WHERE name = 'score'")
    connection.commit()
    connection.close()
    with pytest.raises(ProjectError, match="column 'score'"):
        read_project(path)


def test_file_columns_named_like_marks_are_kept_apart():
    records = [RawRecord(index=0, name="a", text="CCO", extra={"notes": "from file"})]
    library = assemble_library([process_records(records)])
    ensure_annotations(library)
    assert library.table.loc[0, "notes (input)"] == "from file"
    assert library.table.loc[0, NOTES_COLUMN] == ""
    assert "notes (input)" in library.extra_columns


def test_tags_and_annotation_rows():
    assert parse_tags(" a, b,,a , c ") == ["a", "b", "c"]
    assert with_tag("a, b", "c, a") == "a, b, c"
    library = make_library()
    library.table.loc[3, TAGS_COLUMN] = "x"
    rows = annotation_rows(library.table)
    assert rows["row"].tolist() == [3]

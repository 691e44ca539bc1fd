"""The work areas in a project (issue 17, part 1): state and tables round trip, unchanged tables
are kept, damaged areas are reported without stopping the project, format-1 projects open and
are upgraded."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from core.chem.library import assemble_library, process_records
from core.chem.readers import RawRecord
from core.project.areas import (
    AreaSnapshot,
    AreaStateError,
    check_file_reference,
    file_reference,
    state_json,
)
from core.project.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    ProjectError,
    ProjectState,
    ProjectStore,
    library_state,
    read_project,
    save_project_as,
)


def results_table() -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "log2FoldChange": [2.5, -1.25, np.nan],
            "padj": [1e-8, 0.03, 0.9],
            "significant": [True, True, False],
            "count": pd.array([10, None, 3], dtype="Int64"),
            "note": ["up", "down", ""],
        },
        index=pd.Index(["FTL", "TP53", "GAPDH"], name="gene"),
    )
    return frame


def make_library():
    records = [RawRecord(index=i, name=f"m{i}", text=s) for i, s in enumerate(["CCO", "CCN"])]
    return assemble_library([process_records(records)])


def test_area_state_and_tables_round_trip(tmp_path):
    path = tmp_path / "p.drugdesk"
    trial = pd.DataFrame({"time": [1.0, 2.5, 4.0], "event": [1, 0, 1], "arm": ["A", "B", "A"]})
    state = ProjectState(
        libraries=[library_state("lib1", "Library", make_library())],
        areas={
            "expression": AreaSnapshot(
                state={"design": "condition", "genes": ["FTL"], "alpha": 0.05, "nested": {"a": 1}},
                tables={"results": results_table()},
                format=3,
            ),
            "trials": AreaSnapshot(state={"unit": "months"}, tables={"data": trial}),
        },
    )
    save_project_as(path, state)
    contents = read_project(path)
    assert contents.problems == []
    assert [lib.title for lib in contents.libraries] == ["Library"]
    expression = contents.areas["expression"]
    assert expression.format == 3
    assert expression.state == {
        "alpha": 0.05,
        "design": "condition",
        "genes": ["FTL"],
        "nested": {"a": 1},
    }
    pd.testing.assert_frame_equal(expression.tables["results"], results_table())
    assert expression.tables["results"].index.name == "gene"
    pd.testing.assert_frame_equal(contents.areas["trials"].tables["data"], trial)


def test_none_keeps_the_stored_table_and_missing_tables_are_removed(tmp_path):
    path = tmp_path / "p.drugdesk"
    save_project_as(
        path,
        ProjectState(
            areas={
                "expression": AreaSnapshot(
                    state={"v": 1},
                    tables={"results": results_table(), "counts": pd.DataFrame({"a": [1, 2]})},
                )
            }
        ),
    )
    with ProjectStore(path) as store:
        # Autosave after a view change: the state changes, 'results' is unchanged, 'counts' gone.
        store.write(
            ProjectState(
                areas={"expression": AreaSnapshot(state={"v": 2}, tables={"results": None})}
            )
        )
    area = read_project(path).areas["expression"]
    assert area.state == {"v": 2}
    assert list(area.tables) == ["results"]
    pd.testing.assert_frame_equal(area.tables["results"], results_table())
    with sqlite3.connect(path) as db:
        (left,) = db.execute(
            "SELECT count(*) FROM area_columns WHERE table_name='counts'"
        ).fetchone()
    assert left == 0


def test_unchanged_area_is_kept_and_unnamed_area_is_pruned(tmp_path):
    path = tmp_path / "p.drugdesk"
    save_project_as(
        path,
        ProjectState(
            areas={
                "proteins": AreaSnapshot(state={"pdb": "1ABC"}),
                "trials": AreaSnapshot(state={"unit": "days"}),
            }
        ),
    )
    with ProjectStore(path) as store:
        store.write(ProjectState(areas={"proteins": None}))  # unchanged; trials not named
    areas = read_project(path).areas
    assert list(areas) == ["proteins"]
    assert areas["proteins"].state == {"pdb": "1ABC"}


def test_without_prune_other_areas_stay(tmp_path):
    path = tmp_path / "p.drugdesk"
    save_project_as(path, ProjectState(areas={"trials": AreaSnapshot(state={"unit": "days"})}))
    with ProjectStore(path) as store:
        store.write(ProjectState(areas={"models": AreaSnapshot(state={"m": 1})}), prune=False)
    assert sorted(read_project(path).areas) == ["models", "trials"]


@pytest.mark.parametrize(
    "snapshot, message",
    [
        (AreaSnapshot(state={"when": object()}), "not plain JSON"),
        (AreaSnapshot(tables={"bad name!": pd.DataFrame()}), "not a plain name"),
        (AreaSnapshot(tables={"t": pd.DataFrame([[1, 2]], columns=["a", "a"])}), "two columns"),
        (
            AreaSnapshot(
                tables={"t": pd.DataFrame({"a": [1]}, index=pd.MultiIndex.from_tuples([(1, 2)]))}
            ),
            "multi-level",
        ),
    ],
)
def test_unstorable_state_is_refused_with_the_area_named(tmp_path, snapshot, message):
    path = tmp_path / "p.drugdesk"
    save_project_as(path, ProjectState(areas={"models": AreaSnapshot(state={"keep": True})}))
    with ProjectStore(path) as store, pytest.raises(ProjectError, match=message) as caught:
        store.write(ProjectState(areas={"expression": snapshot}))
    assert "expression" in str(caught.value)
    # Nothing was written: the previous save is intact.
    assert read_project(path).areas["models"].state == {"keep": True}


def test_bad_area_key_is_refused(tmp_path):
    with pytest.raises(ProjectError, match="not an area's name"):
        save_project_as(tmp_path / "p.drugdesk", ProjectState(areas={"Bad Key": AreaSnapshot()}))


def test_state_json_limits():
    with pytest.raises(AreaStateError, match="not a dict"):
        state_json("x", ["list"])  # type: ignore[arg-type]
    with pytest.raises(AreaStateError, match="data belong in its tables"):
        state_json("x", {"big": "a" * (17 * 1024**2)})


@pytest.mark.parametrize(
    "sql, message",
    [
        ("UPDATE areas SET state='[1, 2]' WHERE name='expression'", "not an object"),
        ("UPDATE areas SET state='{' WHERE name='expression'", "not valid JSON"),
        ("UPDATE areas SET format='x' WHERE name='expression'", "not a version number"),
        ("UPDATE area_columns SET n_rows=7 WHERE area='expression'", "rows, not 3"),
        ("UPDATE area_columns SET data=x'00' WHERE area='expression'", "table 'results'"),
        (
            "UPDATE areas SET tables='{\"results\": {\"n_rows\": -1}}' WHERE name='expression'",
            "declares -1 rows",
        ),
    ],
)
def test_damaged_area_is_reported_and_the_rest_opens(tmp_path, sql, message):
    path = tmp_path / "p.drugdesk"
    save_project_as(
        path,
        ProjectState(
            libraries=[library_state("lib1", "Library", make_library())],
            areas={
                "expression": AreaSnapshot(state={"a": 1}, tables={"results": results_table()}),
                "trials": AreaSnapshot(state={"unit": "days"}),
            },
        ),
    )
    with sqlite3.connect(path) as db:
        db.execute(sql)
    contents = read_project(path)
    assert len(contents.libraries) == 1
    assert "trials" in contents.areas
    assert "expression" not in contents.areas
    assert len(contents.problems) == 1
    assert "expression" in contents.problems[0] and message in contents.problems[0]
    with ProjectStore(path, read_only=True) as store:
        assert any(message in problem for problem in store.content_errors())


_FORMAT_1 = """
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


def format_1_project(path) -> None:
    """A project as DrugDesk wrote it before the areas were kept (format 1): its four tables,
    with one library copied in from a project of today."""
    modern = path.with_name("modern.drugdesk")
    save_project_as(modern, ProjectState([library_state("lib1", "Old library", make_library())]))
    with sqlite3.connect(path) as db:
        db.executescript(_FORMAT_1)
        db.execute(f"PRAGMA application_id={APPLICATION_ID}")
        db.execute("PRAGMA user_version=1")
        db.execute("ATTACH DATABASE ? AS modern", (str(modern),))
        for table in ("settings", "libraries", "columns", "annotations"):
            db.execute(f"INSERT INTO main.{table} SELECT * FROM modern.{table}")
        db.commit()
        db.execute("DETACH DATABASE modern")


def test_format_1_project_opens_read_only_with_no_areas(tmp_path):
    path = tmp_path / "old.drugdesk"
    format_1_project(path)
    contents = read_project(path)
    assert [lib.title for lib in contents.libraries] == ["Old library"]
    assert contents.areas == {} and contents.problems == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1  # unchanged by reading


def test_format_1_project_is_upgraded_when_opened_for_writing(tmp_path):
    path = tmp_path / "old.drugdesk"
    format_1_project(path)
    with ProjectStore(path) as store:
        assert store.format == SCHEMA_VERSION
        store.write(
            ProjectState(
                libraries=[library_state("lib1", "Old library", make_library(), with_table=False)],
                areas={"trials": AreaSnapshot(state={"unit": "weeks"})},
            )
        )
    contents = read_project(path)
    assert [lib.title for lib in contents.libraries] == ["Old library"]
    assert len(contents.libraries[0].library.table) == 2
    assert contents.areas["trials"].state == {"unit": "weeks"}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_format_2_project_without_area_tables_is_damaged(tmp_path):
    path = tmp_path / "p.drugdesk"
    save_project_as(path, ProjectState())
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE area_columns")
    with pytest.raises(ProjectError, match="lacks the table 'area_columns'"):
        read_project(path)


def test_file_reference_notices_a_changed_or_moved_file(tmp_path):
    data = tmp_path / "counts.csv"
    data.write_text("gene,s1\nFTL,3\n")
    reference = file_reference(data)
    assert reference["size"] == data.stat().st_size and len(reference["sha256"]) == 64
    assert check_file_reference(reference) is None
    data.write_text("gene,s1\nFTL,4\n")
    assert "has changed" in check_file_reference(reference)
    data.unlink()
    assert "no longer there" in check_file_reference(reference)

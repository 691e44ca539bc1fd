"""``drugdesk project``: add compound files, summarise, export flagged rows, check, bad files."""

from __future__ import annotations

import json

import pandas as pd

from app.cli import main
from core.project.store import ProjectState, ProjectStore, library_state, read_project


def test_add_summarise_flag_and_export(tmp_path, capsys):
    source = tmp_path / "hits.smi"
    source.write_text("CCO ethanol\nc1ccccc1O phenol\nCC(=O)Nc1ccc(O)cc1 paracetamol\n")
    project = tmp_path / "p.drugdesk"
    assert main(["project", str(project), "--add", str(source), "--check"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (library,) = summary["libraries"]
    assert (library["title"], library["rows"], library["flagged"]) == ("hits.smi", 3, 0)
    # Flag a row as the window would, then export the flagged rows with their notes.
    stored = read_project(project).libraries[0]
    stored.library.table.loc[2, ["flag", "notes"]] = [True, "order"]
    with ProjectStore(project) as store:
        store.write(
            ProjectState([library_state(stored.uid, stored.title, stored.library)]), prune=False
        )
    out = tmp_path / "flagged.csv"
    assert main(["project", str(project), "--export", str(out), "--flagged"]) == 0
    table = pd.read_csv(out)
    assert table["name"].tolist() == ["paracetamol"]
    assert table["notes"].tolist() == ["order"]
    assert main(["project", str(project), "--add", str(source)]) == 0
    assert [s.title for s in read_project(project).libraries] == ["hits.smi", "hits.smi"]


def test_bad_inputs_fail_with_a_message(tmp_path, capsys):
    not_project = tmp_path / "x.drugdesk"
    not_project.write_text("CCO\n" * 200)
    assert main(["project", str(not_project)]) == 2
    assert "not a DrugDesk project" in capsys.readouterr().err
    assert main(["project", str(tmp_path / "missing.drugdesk")]) == 2
    assert "does not exist" in capsys.readouterr().err
    source = tmp_path / "a.smi"
    source.write_text("CCO a\n")
    project = tmp_path / "p.drugdesk"
    assert main(["project", str(project), "--add", str(source)]) == 0
    assert (
        main(["project", str(project), "--export", str(tmp_path / "o.csv"), "--library", "9"]) == 2
    )
    assert "no library '9'" in capsys.readouterr().err
    assert main(["project", str(project), "--export", str(tmp_path / "o.doc")]) == 2

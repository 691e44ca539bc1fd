"""``drugdesk project``: add compound files, summarise, export flagged rows, check, bad files."""

from __future__ import annotations

import json
import sqlite3

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
    assert main(["project", str(not_project)]) == 1  # bad data: 1
    assert "not a DrugDesk project" in capsys.readouterr().err
    assert main(["project", str(tmp_path / "missing.drugdesk")]) == 1
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


def _project_with(tmp_path, capsys, *statements: str):
    source = tmp_path / "a.smi"
    source.write_text("CCO ethanol\nCCN ethylamine\n")
    project = tmp_path / "p.drugdesk"
    assert main(["project", str(project), "--add", str(source)]) == 0
    connection = sqlite3.connect(project)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()
    capsys.readouterr()
    return project, source


def test_a_project_with_a_trigger_is_refused_before_anything_runs(tmp_path, capsys):
    project, source = _project_with(
        tmp_path,
        capsys,
        "CREATE TRIGGER wipe AFTER INSERT ON libraries BEGIN DELETE FROM columns; END",
    )
    before = project.read_bytes()
    assert main(["project", str(project), "--add", str(source)]) == 1
    err = capsys.readouterr().err
    assert f"{project}: not a DrugDesk project we can trust: it holds a trigger 'wipe'" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["project", str(project), "--check"]) == 1
    assert "trigger 'wipe'" in capsys.readouterr().err
    assert main(["project", str(project)]) == 1
    assert "trigger 'wipe'" in capsys.readouterr().err
    # The trigger never fired: the library's columns are all still there.
    assert project.read_bytes() == before


def test_check_decodes_every_column_and_names_each_problem(tmp_path, capsys):
    project, _source = _project_with(
        tmp_path, capsys, "UPDATE columns SET data = x'00' WHERE name IN ('smiles', 'inchikey')"
    )
    assert main(["project", str(project), "--check"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert f"{project}: library 'a.smi', column 'smiles': truncated compressed data" in lines[0]
    assert any("library 'a.smi', column 'inchikey'" in line for line in lines)
    assert lines[-1].endswith("is damaged: 2 problems (listed above)")
    assert not any("passed" in line for line in lines)


def test_check_passes_a_sound_project(tmp_path, capsys):
    project, _source = _project_with(tmp_path, capsys)
    assert main(["project", str(project), "--check"]) == 0
    assert "check passed" in capsys.readouterr().err


def test_summary_lists_areas_and_campaign_and_report_is_written(tmp_path, capsys):
    from core.project.areas import AreaSnapshot

    source = tmp_path / "hits.smi"
    source.write_text("CCO ethanol\nc1ccccc1O phenol\n")
    project = tmp_path / "p.drugdesk"
    assert main(["project", str(project), "--add", str(source)]) == 0
    with ProjectStore(project) as store:
        store.write(
            ProjectState(
                areas={
                    "trials": AreaSnapshot(
                        state={"campaign": {"design": {"endpoint": "overall survival"}}}
                    )
                }
            ),
            prune=False,
        )
    capsys.readouterr()
    assert main(["project", str(project)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert list(summary["areas"]) == ["trials"]
    steps = {step["step"]: step for step in summary["campaign"]}
    assert steps["Trial design"]["started"] and steps["Molecules"]["started"]
    assert not steps["Targets"]["started"]
    report = tmp_path / "campaign.html"
    assert main(["project", str(project), "--report", str(report)]) == 0
    assert "Wrote the campaign report" in capsys.readouterr().err
    text = report.read_text()
    assert "Campaign report: p.drugdesk" in text and "overall survival" in text
    # Not HTML, or over the project itself: usage errors, nothing written.
    assert main(["project", str(project), "--report", str(tmp_path / "r.csv")]) == 2
    assert main(["project", str(project), "--report", str(project)]) == 2
    assert read_project(project).libraries[0].title == "hits.smi"

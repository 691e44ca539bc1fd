"""File > On the cluster's dialogs (issue 18): every field checked as typed (a missing or unread
input, the input as output, an output format the job cannot write, a SMILES or SMARTS that RDKit
cannot read), OK only when nothing is wrong; the score dialog lists the registered models and
ADMET; the search dialog starts from the Molecule panel's molecule and names it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from core.chem.cluster_search import SearchRequest
from ui.dialogs.cluster_files import (
    SIMILAR_AT_LEAST,
    SUBSTRUCTURE,
    TOP_K,
    PropsOnClusterDialog,
    ScoreOnClusterDialog,
    SearchOnClusterDialog,
)


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "vendor.smi"
    path.write_text("CCO ethanol\n")
    return path


def _entries(tmp_path):
    card = SimpleNamespace(task="regression")
    return [
        SimpleNamespace(path=tmp_path / "potency", card=card),
        SimpleNamespace(path=tmp_path / "broken", card=None),  # a folder that cannot be used
        SimpleNamespace(path=tmp_path / "solubility", card=SimpleNamespace(task="classification")),
    ]


def test_score_dialog_checks_the_files_and_lists_the_models(qtbot, tmp_path, source):
    dialog = ScoreOnClusterDialog("local:2", lambda: _entries(tmp_path), admet_available=True)
    qtbot.addWidget(dialog)
    assert "Dask cluster <b>local:2</b>" in dialog.cluster_label.text()
    assert not dialog.ok_button.isEnabled()
    assert dialog.message.text() == "Choose the compound file (Browse…)."

    dialog.input_edit.setText(str(tmp_path / "missing.smi"))
    assert dialog.message.text().endswith("missing.smi is not a file that exists.")
    dialog.input_edit.setText(str(source))
    # The output is suggested beside the input until the user names one.
    assert dialog.output() == tmp_path / "vendor_hits.csv"
    assert dialog.ok_button.isEnabled()

    dialog.output_edit.setText(str(source))
    assert dialog.message.text() == "vendor.smi is the input file: choose another output."
    assert not dialog.ok_button.isEnabled()
    with qtbot.assertNotEmitted(dialog.accepted):
        dialog.accept()  # refused: Enter cannot force it through
    dialog.output_edit.setText(str(tmp_path / "hits.pdf"))
    assert dialog.message.text().startswith("Cannot write 'hits.pdf': choose a file ending in")
    dialog.output_edit.setText(str(tmp_path / "gone" / "hits.csv"))
    assert dialog.message.text() == f"The folder {tmp_path / 'gone'} does not exist."
    dialog.output_edit.setText(str(tmp_path / "report.html"))  # a hit list may be a report
    assert dialog.ok_button.isEnabled()

    names = [dialog.model_list.item(i).text() for i in range(dialog.model_list.count())]
    assert names == ["potency (regression)", "solubility (classification)"]
    assert dialog.models() == ()
    dialog.set_models_checked([tmp_path / "solubility"])
    assert dialog.models() == (tmp_path / "solubility",)
    assert dialog.admet_box.isEnabled() and not dialog.admet()
    dialog.admet_box.setChecked(True)
    assert dialog.admet()
    assert dialog.message.text() == (
        "Ranks every molecule by 'Oral drug-likeness' with 1 model and ADMET; writes "
        "report.html when every part is done."
    )
    dialog.profile_box.setCurrentIndex(dialog.profile_box.findData("cns"))
    assert dialog.profile_key() == "cns"


def test_score_dialog_without_models_or_admet_ai(qtbot, tmp_path):
    dialog = ScoreOnClusterDialog("tcp://head:8786", lambda: [], admet_available=False)
    qtbot.addWidget(dialog)
    assert dialog.model_list.item(0).text().startswith("No trained models yet")
    assert not dialog.admet_box.isEnabled()
    dialog.admet_box.setChecked(True)
    assert not dialog.admet()  # not installed here: never asked of the workers
    # Workers on other computers may share no disk with this one.
    assert dialog.ship_box.isVisibleTo(dialog) and not dialog.ship_records()
    dialog.ship_box.setChecked(True)
    assert dialog.ship_records()


def test_search_dialog_starts_from_the_shown_molecule(qtbot, tmp_path, source):
    dialog = SearchOnClusterDialog("local:2", "CC(=O)Oc1ccccc1C(=O)O", "aspirin")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.query_edit.text() == "CC(=O)Oc1ccccc1C(=O)O"
    assert dialog.query_name.text() == "aspirin, from the Molecule panel"
    assert not dialog.ship_box.isVisible()  # a local cluster sees this computer's files
    assert dialog.mode() == SIMILAR_AT_LEAST
    assert dialog.threshold.isVisible() and not dialog.top_k.isVisible()
    assert not dialog.smarts_edit.isVisible()
    dialog.input_edit.setText(str(source))
    assert dialog.output() == tmp_path / "vendor_search.csv"
    assert dialog.ok_button.isEnabled()
    assert dialog.request() == SearchRequest(similar="CC(=O)Oc1ccccc1C(=O)O", threshold=0.7)

    dialog.query_edit.setText("CC(=O)Oc1ccccc1C(=O)")  # typing goes on
    assert dialog.query_name.text() == "Typed here"
    dialog.query_edit.setText("C1CC")
    assert dialog.message.text() == "'C1CC' is not a SMILES that RDKit can read."
    assert not dialog.ok_button.isEnabled()
    dialog.query_edit.setText("")
    assert dialog.message.text().startswith("Type the query's SMILES")
    dialog.query_edit.setText("c1ccncc1")

    dialog.set_mode(TOP_K)
    assert dialog.top_k.isVisible() and not dialog.threshold.isVisible()
    dialog.top_k.setValue(25)
    assert dialog.request() == SearchRequest(similar="c1ccncc1", top_k=25)
    assert "the 25 molecules most similar" in dialog.message.text()

    dialog.set_mode(SUBSTRUCTURE)
    assert dialog.smarts_edit.isVisible() and not dialog.query_edit.isVisible()
    assert dialog.message.text() == "Type a SMARTS pattern for the substructure."
    dialog.smarts_edit.setText("c1ccccc1[")
    assert dialog.message.text() == "'c1ccccc1[' is not a valid SMARTS pattern."
    dialog.smarts_edit.setText("c1ccccc1S(=O)(=O)N")
    assert dialog.ok_button.isEnabled()
    assert dialog.request() == SearchRequest(substructure="c1ccccc1S(=O)(=O)N")

    dialog.output_edit.setText(str(tmp_path / "hits.html"))  # a search writes tables only
    assert dialog.message.text() == "Cannot export to '.html': choose .csv, .tsv, .sdf or .xlsx."
    assert not dialog.ok_button.isEnabled()
    dialog.output_edit.setText(str(source))
    assert dialog.message.text() == "vendor.smi is the input file: choose another output."


def test_search_dialog_with_no_molecule_shown(qtbot):
    dialog = SearchOnClusterDialog("local:1")
    qtbot.addWidget(dialog)
    assert dialog.query_edit.text() == "" and dialog.query_name.text() == ""
    assert dialog.message.text().startswith("Type the query's SMILES")


def test_props_dialog(qtbot, tmp_path, source):
    dialog = PropsOnClusterDialog("slurm:8")
    qtbot.addWidget(dialog)
    dialog.input_edit.setText(str(source))
    assert dialog.output() == tmp_path / "vendor_props.csv"
    assert dialog.ok_button.isEnabled()
    assert dialog.message.text().startswith("Computes the properties and structural alerts")
    dialog.output_edit.setText(str(tmp_path / "props.html"))  # a table, not a report
    assert not dialog.ok_button.isEnabled()
    dialog.output_edit.setText(str(tmp_path))
    assert dialog.message.text() == f"{tmp_path} is a folder: name a file."

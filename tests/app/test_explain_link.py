"""A hit list's chosen molecule -> its model's explanation (issue 17, part 3): Apply notes each
prediction column with the model that made it; the row's menu then offers "Explain prediction",
which brings the Models area to the front with that model selected and its explanation of the
row's molecule on the Explain tab. A column whose model is gone says so."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMenu

from app.areas import AREAS
from core.jobs import FINISHED
from ui.models_area.prediction_notes import model_predictions, predicted_by, prediction_note


def _shown_area(window) -> str:
    return AREAS[window.area_list.currentRow()].key


def _explain_actions(panel, position):
    menu = QMenu()
    panel.add_row_links(menu, position)
    return [a for a in menu.actions() if a.text().startswith("Explain prediction")], menu


def test_notes_name_the_model_in_the_scoring_jobs_words():
    note = prediction_note("regression", "Act", "potency-Act")
    assert note == "predicted value of 'Act' by model potency-Act"
    assert predicted_by(note) == ("Act", "potency-Act")
    # As core.hitlist.scoring writes them for the models a profile scores with.
    assert predicted_by("probability of class 1 of 'BBB (x)' by model my model") == (
        "BBB (x)",
        "my model",
    )
    assert predicted_by("standard deviation over the ensemble for 'Act'") is None
    assert predicted_by(None) is None
    notes = {"Act": note, "logP": "Crippen", "x": "predicted value of 'y' by model m"}
    assert model_predictions(notes, ["name", "Act", "logP"]) == {"Act": ("Act", "potency-Act")}


@pytest.mark.usefixtures("one_torch_thread")
def test_a_rows_prediction_is_explained_by_its_model(main_window, example_panel, qtbot):
    window = main_window
    assert _explain_actions(example_panel, 1)[0] == []  # nothing predicted yet
    models = window.show_area("models")
    items = [models.models_list.item(i) for i in range(models.models_list.count())]
    (item,) = [item for item in items if "potency" in item.text()]
    models.models_list.setCurrentItem(item)
    potency = models.selected_entry()
    job = models.apply_to_library()
    qtbot.waitUntil(job.is_done, timeout=120_000)
    assert job.state == FINISHED
    notes = example_panel.library.column_notes
    assert predicted_by(notes["Act"]) == ("Act", potency.path.name)

    # Another model is selected meanwhile: the link selects the one that predicted.
    others = [i for i in items if i is not item and "pretrained" not in i.text()]
    if others:
        models.models_list.setCurrentItem(others[0])
    window.show_area("libraries")
    actions, _menu = _explain_actions(example_panel, 1)  # ibuprofen
    (action,) = actions
    assert action.text() == f"Explain prediction of Act ({potency.path.name})"
    ibuprofen = example_panel.library.table["canonical_smiles"].iat[1]
    action.trigger()
    assert _shown_area(window) == "models"
    assert models.selected_model_path() == potency.path
    assert models.tabs.currentWidget() is models.explain_tab
    assert (
        window.statusBar()
        .currentMessage()
        .startswith(f"Models > Explain: why {potency.path.name} predicts Act")
    )
    qtbot.waitUntil(
        lambda: getattr(models.explain_tab.explanation, "smiles", None) == ibuprofen,
        timeout=60_000,
    )
    assert models.explain_tab.explanation.target == "Act"
    # The model counts as used in this project (the campaign overview lists it).
    names = [m["folder"] for m in models.area_state().state["campaign"]["models"]]
    assert str(potency.path) in names


def test_a_prediction_whose_model_is_gone_says_so(main_window, example_panel):
    errors = []
    main_window.show_error = errors.append  # the message strip's line
    library = example_panel.library
    example_panel.add_columns(
        library.table[["canonical_smiles"]].assign(score=1.0)[["score"]],
        notes={"score": prediction_note("regression", "score", "deleted-model")},
    )
    (action,), _menu = _explain_actions(example_panel, 0)
    action.trigger()
    assert _shown_area(main_window) == "models"
    assert any("'deleted-model'" in e and "no longer in the registry" in e for e in errors)

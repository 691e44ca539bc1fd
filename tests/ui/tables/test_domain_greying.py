"""DataFrameModel greys predictions outside their model's applicability domain, and its tooltip
says how similar the nearest training molecule is."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import Qt

from ui.tables.dataframe_model import OUT_OF_DOMAIN_COLOR, STAR_COLOR, ColumnSpec, DataFrameModel

FOREGROUND = Qt.ItemDataRole.ForegroundRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole


@pytest.fixture
def frame() -> pd.DataFrame:
    """Two models applied to one library: Act (with an ensemble std, an interval and a domain)
    and logS (a domain, one molecule not predicted), and a column of another kind."""
    return pd.DataFrame(
        {
            "name": ["a", "b", "c", "d"],
            "mw": [100.0, 200.0, 300.0, 400.0],
            "Act": [6.1, 7.2, 5.0, 6.6],
            "Act_std": [0.1, 0.2, 0.3, 0.4],
            "Act_lower": [5.5, 6.5, 4.0, 6.0],
            "Act_nearest_train_similarity": [0.81, 0.23, 0.64, np.nan],
            "Act_in_domain": pd.array([True, False, True, pd.NA], dtype="boolean"),
            "logS": [-2.0, -3.0, np.nan, -4.0],
            "logS_nearest_train_similarity": [0.1, 0.5, np.nan, 0.05],
            "logS_in_domain": pd.array([False, True, pd.NA, False], dtype="boolean"),
        }
    )


def _cell(model: DataFrameModel, row: int, key: str, role):
    return model.data(model.index(row, model.column_index(key)), role)


def test_out_of_domain_predictions_are_grey_with_a_reason(qapp, frame):
    model = DataFrameModel(frame)
    for key in ("Act", "Act_std", "Act_lower"):
        assert [_cell(model, r, key, FOREGROUND) for r in range(4)] == [
            None,
            OUT_OF_DOMAIN_COLOR,
            None,
            None,  # domain unknown: not greyed
        ], key
    tip = _cell(model, 1, "Act", TOOLTIP)
    assert tip.startswith("Outside the model's domain: nearest training molecule 0.23 similar")
    assert _cell(model, 0, "Act", TOOLTIP) is None
    # Each model's predictions follow their own flags.
    assert [_cell(model, r, "logS", FOREGROUND) for r in range(4)] == [
        OUT_OF_DOMAIN_COLOR,
        None,
        None,
        OUT_OF_DOMAIN_COLOR,
    ]
    assert "0.05 similar" in _cell(model, 3, "logS", TOOLTIP)
    # Other columns are never greyed, nor the domain columns themselves.
    for key in ("name", "mw", "Act_nearest_train_similarity", "Act_in_domain"):
        assert _cell(model, 1, key, FOREGROUND) is None, key


def test_greying_follows_the_shown_rows_when_sorted(qapp, frame):
    model = DataFrameModel(frame)
    model.sort(model.column_index("Act"), Qt.SortOrder.DescendingOrder)  # b, d, a, c
    assert model.source_row(0) == 1
    assert _cell(model, 0, "Act", FOREGROUND) == OUT_OF_DOMAIN_COLOR
    assert _cell(model, 1, "Act", FOREGROUND) is None


def test_a_new_frame_is_read_again(qapp, frame):
    model = DataFrameModel(frame)
    assert _cell(model, 1, "Act", FOREGROUND) == OUT_OF_DOMAIN_COLOR
    again = frame.assign(Act_in_domain=pd.array([True] * 4, dtype="boolean"))
    model.set_frame(again)
    assert _cell(model, 1, "Act", FOREGROUND) is None
    model.set_frame(frame.drop(columns=["Act_in_domain"]))
    assert _cell(model, 1, "Act", FOREGROUND) is None


def test_flags_read_back_from_a_file_and_renamed_predictions(qapp):
    # A project or CSV may bring the flags back as text or numbers; a prediction whose name the
    # input file had is added as "<name> (computed)".
    frame = pd.DataFrame(
        {
            "Act": [5.0, 6.0, 7.0],
            "Act (computed)": [5.5, 6.5, 7.5],
            "Act_in_domain": ["True", "False", ""],
            "y": [1.0, 2.0, 3.0],
            "y_in_domain": [1.0, 0.0, np.nan],
        }
    )
    model = DataFrameModel(frame)
    assert [_cell(model, r, "Act (computed)", FOREGROUND) for r in range(3)] == [
        None,
        OUT_OF_DOMAIN_COLOR,
        None,
    ]
    assert [_cell(model, r, "y", FOREGROUND) for r in range(3)] == [None, OUT_OF_DOMAIN_COLOR, None]
    assert "not known" in _cell(model, 1, "y", TOOLTIP)  # no similarity column


def test_editable_stars_keep_their_colour(qapp):
    frame = pd.DataFrame({"flag": [True, False], "flag_in_domain": [False, False]})
    model = DataFrameModel(frame)
    model.set_columns([ColumnSpec("flag", kind="bool", editable=True)])
    assert model.data(model.index(0, 0), FOREGROUND) == STAR_COLOR


def test_the_model_stays_consistent(qtmodeltester, qapp, frame):
    model = DataFrameModel(frame)
    qtmodeltester.check(model, force_py=True)

"""DataFrameModel: roles, sorting and filtering through a row permutation, lazy structure pictures."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import (
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
)
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import QHeaderView, QStyleOptionViewItem, QTableView

from ui.tables.dataframe_model import (
    INVALID_ROW_COLOR,
    STRUCTURE_SMILES_ROLE,
    ColumnSpec,
    DataFrameModel,
    RawValueRole,
    RowFilter,
    configure_table_view,
    structure_column,
)
from ui.tables.structure_delegate import (
    StructureDelegate,
    cached_structure_pixmap,
    clear_structure_pixmap_cache,
    structure_pixmap_cache_info,
)

ASC = Qt.SortOrder.AscendingOrder
DESC = Qt.SortOrder.DescendingOrder
DISPLAY = Qt.ItemDataRole.DisplayRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
LONG_NAME = "a compound whose name is much longer than forty characters"

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
PHENOL = "Oc1ccccc1"


@pytest.fixture
def frame() -> pd.DataFrame:
    """Six records of mixed dtypes with every kind of missing value."""
    return pd.DataFrame(
        {
            "name": ["beta", "Alpha", None, "gamma", "", LONG_NAME],
            "canonical_smiles": [ASPIRIN, "", CAFFEINE, "CCO", "", PHENOL],
            "smiles": ["", "OCC", "", "", "", ""],
            "mw": [180.159, np.nan, 194.19, 46.07, np.nan, 94.11],
            "hbd": pd.array([1, pd.NA, 0, 1, pd.NA, 1], dtype="Int64"),
            "valid": [True, True, True, True, False, True],
            "error": ["", "", "", "", "invalid SMILES: syntax error", ""],
        }
    )


@pytest.fixture
def model(qapp, frame) -> DataFrameModel:
    return DataFrameModel(frame)


def column(model: DataFrameModel, key: str) -> int:
    number = model.column_index(key)
    assert number >= 0, key
    return number


def texts(model: DataFrameModel, key: str, role=DISPLAY) -> list:
    c = column(model, key)
    return [model.data(model.index(row, c), role) for row in range(model.rowCount())]


def positions(model: DataFrameModel) -> list[int]:
    return model.visible_positions().tolist()


# ----------------------------------------------------------------------------------------------
# Columns and roles


def test_default_columns_follow_frame_with_inferred_kinds(model):
    specs = model.columns()
    assert [(s.key, s.title, s.kind) for s in specs] == [
        ("name", "name", "text"),
        ("canonical_smiles", "canonical_smiles", "text"),
        ("smiles", "smiles", "text"),
        ("mw", "mw", "float"),
        ("hbd", "hbd", "int"),
        ("valid", "valid", "bool"),
        ("error", "error", "text"),
    ]
    assert model.rowCount() == 6
    assert model.columnCount() == 7
    assert model.total_rows() == 6


def test_display_formats_by_kind(model, frame):
    model.set_columns(
        [
            ColumnSpec("name", "Name"),
            ColumnSpec("mw", "MW", kind="float", decimals=1),
            ColumnSpec("mw", "MW (3)", kind="float", decimals=3),
            ColumnSpec("hbd", "HBD", kind="int"),
            ColumnSpec("valid", "Valid", kind="bool"),
        ]
    )
    rows = [
        [model.data(model.index(r, c)) for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]
    assert rows == [
        ["beta", "180.2", "180.159", "1", ""],
        ["Alpha", "", "", "", ""],
        ["", "194.2", "194.190", "0", ""],
        ["gamma", "46.1", "46.070", "1", ""],
        ["", "", "", "", ""],
        [LONG_NAME, "94.1", "94.110", "1", ""],
    ]
    assert model.frame() is frame


def test_bool_check_state_and_read_only(model):
    states = texts(model, "valid", Qt.ItemDataRole.CheckStateRole)
    checked, unchecked = Qt.CheckState.Checked, Qt.CheckState.Unchecked
    assert states == [checked, checked, checked, checked, unchecked, checked]
    assert texts(model, "name", Qt.ItemDataRole.CheckStateRole) == [None] * 6
    flags = model.flags(model.index(0, column(model, "valid")))
    assert flags & Qt.ItemFlag.ItemIsEnabled
    assert not flags & Qt.ItemFlag.ItemIsUserCheckable
    assert not flags & Qt.ItemFlag.ItemIsEditable


def test_raw_values_alignment_and_long_text_tooltip(model):
    assert texts(model, "mw", RawValueRole) == [180.159, None, 194.19, 46.07, None, 94.11]
    assert texts(model, "hbd", RawValueRole) == [1, None, 0, 1, None, 1]
    assert type(model.data(model.index(0, column(model, "hbd")), RawValueRole)) is int
    assert texts(model, "valid", RawValueRole) == [True, True, True, True, False, True]
    assert texts(model, "name", RawValueRole) == ["beta", "Alpha", None, "gamma", "", LONG_NAME]

    align = Qt.ItemDataRole.TextAlignmentRole
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    assert model.data(model.index(0, column(model, "mw")), align) == right
    assert model.data(model.index(0, column(model, "hbd")), align) == right
    assert model.data(model.index(0, column(model, "name")), align) == left

    tips = texts(model, "name", TOOLTIP)
    assert tips == [None, None, None, None, "invalid SMILES: syntax error", LONG_NAME]


def test_invalid_rows_have_red_background_and_error_tooltip(model):
    background = Qt.ItemDataRole.BackgroundRole
    for c in range(model.columnCount()):
        colours = [model.data(model.index(r, c), background) for r in range(6)]
        assert colours == [None, None, None, None, INVALID_ROW_COLOR, None]
        assert model.data(model.index(4, c), TOOLTIP) == "invalid SMILES: syntax error"
    assert QColor(255, 224, 224) == INVALID_ROW_COLOR


def test_headers_show_titles_tooltips_and_stable_record_numbers(model):
    model.set_columns([ColumnSpec("mw", "Mol. weight", kind="float", tooltip="Daltons")])
    horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
    assert model.headerData(0, horizontal, DISPLAY) == "Mol. weight"
    assert model.headerData(0, horizontal, TOOLTIP) == "Daltons"
    assert [model.headerData(r, vertical, DISPLAY) for r in range(6)] == list("123456")
    model.sort(0, DESC)
    assert [model.headerData(r, vertical, DISPLAY) for r in range(6)] == list("316425")


def test_structure_column_gives_smiles_role_only(model):
    model.set_columns([structure_column(), ColumnSpec("name")])
    assert model.structure_columns() == [0]
    assert model.columns()[0].source == ("canonical_smiles", "smiles")
    smiles = texts(model, "structure", STRUCTURE_SMILES_ROLE)
    # Row 1 has no canonical SMILES and falls back to "smiles"; row 4 has neither.
    assert smiles == [ASPIRIN, "OCC", CAFFEINE, "CCO", "", PHENOL]
    assert texts(model, "structure") == [""] * 6
    assert texts(model, "structure", Qt.ItemDataRole.DecorationRole) == [None] * 6
    assert texts(model, "name", STRUCTURE_SMILES_ROLE) == [None] * 6


def test_explicit_columns_survive_set_frame_and_absent_columns_are_empty(model, frame):
    model.set_columns([ColumnSpec("name"), ColumnSpec("logp", kind="float")])
    model.set_frame(frame.drop(columns=["mw"]))
    assert [s.key for s in model.columns()] == ["name", "logp"]
    assert texts(model, "logp") == [""] * 6
    model.set_columns(None)
    assert "logp" not in [s.key for s in model.columns()]
    assert model.columnCount() == 6
    model.sort(column(model, "hbd"), DESC)
    assert positions(model) == [0, 3, 5, 2, 1, 4]
    model.set_columns([ColumnSpec("hbd", kind="int")])
    assert positions(model) == [0, 3, 5, 2, 1, 4]  # still sorted by a visible column
    model.set_columns([ColumnSpec("name")])
    assert model.sort_column()[0] is None  # the sort column is gone: frame order
    assert positions(model) == [0, 1, 2, 3, 4, 5]


# ----------------------------------------------------------------------------------------------
# Sorting


def test_sort_floats_puts_nan_last_in_both_directions(model):
    model.sort(column(model, "mw"), ASC)
    assert positions(model) == [3, 5, 0, 2, 1, 4]
    assert texts(model, "mw") == ["46.07", "94.11", "180.16", "194.19", "", ""]
    model.sort(column(model, "mw"), DESC)
    assert positions(model) == [2, 0, 5, 3, 1, 4]
    assert model.sort_column() == ("mw", DESC)


def test_sort_text_is_case_insensitive_with_missing_and_empty_last(model):
    model.sort(column(model, "name"), ASC)
    assert texts(model, "name") == [LONG_NAME, "Alpha", "beta", "gamma", "", ""]
    assert positions(model) == [5, 1, 0, 3, 2, 4]
    model.sort(column(model, "name"), DESC)
    assert positions(model) == [3, 0, 1, 5, 2, 4]


def test_sort_int_with_na_is_stable(model):
    model.sort(column(model, "hbd"), ASC)
    assert positions(model) == [2, 0, 3, 5, 1, 4]
    model.sort(column(model, "hbd"), DESC)
    # Ties keep frame order in both directions.
    assert positions(model) == [0, 3, 5, 2, 1, 4]


def test_plain_int_and_bool_columns_match_their_nullable_forms(qapp):
    """Nullable int/bool columns keep their missing values; plain and nullable columns display,
    sort and filter alike (that plain ones are read without a copy: tests/core/test_table_view)."""
    counts = [3, 1, 2, 1]
    plain = pd.DataFrame({"n": np.array(counts), "ok": np.array([True, False, True, False])})
    nullable = pd.DataFrame(
        {"n": pd.array([3, 1, pd.NA, 1], dtype="Int64"), "ok": pd.array([True, False, None, False])}
    )
    model = DataFrameModel(plain)
    other = DataFrameModel(nullable)
    assert texts(model, "n") == ["3", "1", "2", "1"]
    assert texts(other, "n")[2] in ("", None)
    model.sort(column(model, "n"), ASC)
    other.sort(column(other, "n"), ASC)
    assert positions(model) == [1, 3, 2, 0]
    assert positions(other) == [1, 3, 0, 2]  # missing last
    model.sort(column(model, "ok"), ASC)
    assert positions(model) == [1, 3, 0, 2]
    model.set_filter(RowFilter(ranges=(("n", 2, 3),)))
    assert sorted(positions(model)) == [0, 2]


def test_sort_bool_and_restore_frame_order(model):
    model.sort(column(model, "valid"), ASC)
    assert positions(model) == [4, 0, 1, 2, 3, 5]
    model.sort(-1, ASC)
    assert positions(model) == [0, 1, 2, 3, 4, 5]
    assert model.sort_column() == (None, ASC)


def test_sort_structure_column_does_nothing(model):
    model.set_columns([structure_column(), ColumnSpec("mw", kind="float")])
    model.sort(1, DESC)
    before = positions(model)
    model.sort(0, ASC)
    assert positions(model) == before == [2, 0, 5, 3, 1, 4]


def test_sort_moves_persistent_indexes_with_their_records(model):
    name = column(model, "name")
    gamma = QPersistentModelIndex(model.index(3, name))
    missing = QPersistentModelIndex(model.index(4, column(model, "mw")))
    model.sort(column(model, "mw"), ASC)
    assert gamma.row() == 0
    assert gamma.data() == "gamma"
    assert missing.row() == 5
    model.set_filter(RowFilter(text="gamma"))
    assert gamma.row() == 0
    assert not missing.isValid()


def test_selection_follows_records_through_sort(qapp, model):
    view = QTableView()
    view.setModel(model)
    selection = view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    selection.select(model.index(2, 0), flags)  # record 2: CAFFEINE, mw 194.19
    model.sort(column(model, "mw"), DESC)
    assert [index.row() for index in selection.selectedRows()] == [0]
    assert model.source_row(0) == 2
    view.deleteLater()


# ----------------------------------------------------------------------------------------------
# Filtering


def test_filter_text_needs_every_word_somewhere_in_the_row(model):
    model.set_filter(RowFilter(text="A"))
    # "a" is in the names of rows 0, 1, 3, 5 and the error of row 4; row 2 has no name and its
    # SMILES has no "a".
    assert positions(model) == [0, 1, 3, 4, 5]
    model.set_filter(RowFilter(text="ALPHA occ"))  # name + smiles of row 1
    assert positions(model) == [1]
    model.set_filter(RowFilter(text="alpha cco"))  # "cco" is row 3's, not row 1's
    assert positions(model) == []
    model.set_filter(RowFilter(text="  syntax   invalid "))
    assert positions(model) == [4]
    model.set_filter(RowFilter(text="c1ccccc1", text_columns=("name",)))
    assert positions(model) == []
    model.set_filter(RowFilter(text="c1ccccc1", text_columns=("canonical_smiles",)))
    assert positions(model) == [0, 5]


def test_filter_ranges_are_inclusive_and_fail_nan(model):
    model.set_filter(RowFilter(ranges=(("mw", 94.11, 194.19),)))
    assert positions(model) == [0, 2, 5]
    model.set_filter(RowFilter(ranges=(("mw", None, 100.0), ("hbd", 1, None))))
    assert positions(model) == [3, 5]
    model.set_filter(RowFilter(ranges=(("hbd", None, None),)))
    assert positions(model) == [0, 2, 3, 5]
    model.set_filter(RowFilter(ranges=(("no such column", None, None),)))
    assert positions(model) == []


def test_filter_valid_and_invalid(model):
    model.set_filter(RowFilter(valid="invalid"))
    assert positions(model) == [4]
    model.set_filter(RowFilter(valid="valid"))
    assert positions(model) == [0, 1, 2, 3, 5]
    model.set_filter(None)
    assert positions(model) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="valid must be"):
        RowFilter(valid="yes")  # type: ignore[arg-type]


def test_filter_and_sort_compose_in_either_order(model):
    wanted = RowFilter(text="a", ranges=(("mw", 50, None),))
    model.set_filter(wanted)
    model.sort(column(model, "mw"), DESC)
    first = positions(model)
    other = DataFrameModel(model.frame())
    other.sort(column(other, "mw"), DESC)
    other.set_filter(wanted)
    assert first == positions(other) == [0, 5]
    model.set_filter(None)
    assert positions(model) == [2, 0, 5, 3, 1, 4]


def test_row_mapping_and_filter_changed_signal(qtbot, model):
    seen = []
    model.filter_changed.connect(lambda shown, total: seen.append((shown, total)))
    model.sort(column(model, "mw"), ASC)
    model.set_filter(RowFilter(valid="valid", ranges=(("hbd", 1, 1),)))
    assert seen == [(3, 6)]
    assert positions(model) == [3, 5, 0]
    assert [model.source_row(r) for r in range(3)] == [3, 5, 0]
    assert [model.view_row(p) for p in range(6)] == [2, -1, -1, 0, -1, 1]
    assert model.view_row(99) == -1
    assert model.rowCount() == 3
    assert model.total_rows() == 6
    with pytest.raises(ValueError):
        model.visible_positions()[0] = 1  # read-only: export must not change the view


def test_visible_positions_match_pandas(qapp):
    rng = np.random.default_rng(7)
    n = 3000
    words = np.array(["Aspirin", "caffeine", "PHENOL", "ethanol", "Benzene"])
    mw = rng.normal(250, 80, n).round(1)
    mw[rng.random(n) < 0.1] = np.nan
    hbd = pd.array(rng.integers(0, 6, n), dtype="Int64")
    hbd[rng.random(n) < 0.1] = pd.NA
    frame = pd.DataFrame(
        {
            "name": [f"{w}-{i}" for i, w in enumerate(words[rng.integers(0, 5, n)])],
            "mw": mw,
            "hbd": hbd,
            "valid": rng.random(n) < 0.9,
        }
    )
    model = DataFrameModel(frame)
    model.sort(column(model, "mw"), DESC)
    model.set_filter(RowFilter(text="ol -1", ranges=(("hbd", 1, 4),), valid="valid"))

    names = frame["name"].str.lower()
    mask = (
        names.str.contains("ol", regex=False)
        & names.str.contains("-1", regex=False)
        & frame["hbd"].between(1, 4).fillna(False).astype(bool)
        & frame["valid"]
    )
    expected = (
        frame[mask]
        .sort_values("mw", ascending=False, kind="stable", na_position="last")
        .index.to_numpy()
    )
    assert len(expected) > 50
    np.testing.assert_array_equal(model.visible_positions(), expected)

    model.sort(column(model, "name"), ASC)
    by_name = frame[mask].sort_values("name", key=lambda s: s.str.lower(), kind="stable")
    np.testing.assert_array_equal(model.visible_positions(), by_name.index.to_numpy())


# ----------------------------------------------------------------------------------------------
# Frames without rows, columns or "valid"


def test_empty_frames(qtmodeltester, qapp):
    model = DataFrameModel()
    assert (model.rowCount(), model.columnCount(), model.total_rows()) == (0, 0, 0)
    qtmodeltester.check(model, force_py=True)
    model.set_filter(RowFilter(text="x", valid="valid"))
    model.sort(0, ASC)
    assert model.visible_positions().tolist() == []
    model.set_frame(pd.DataFrame({"name": pd.Series([], dtype=object), "mw": []}))
    assert (model.rowCount(), model.columnCount()) == (0, 2)
    assert model.view_row(0) == -1
    model.set_frame(pd.DataFrame())
    assert (model.rowCount(), model.columnCount()) == (0, 0)


def test_frame_without_valid_column(qapp, frame):
    model = DataFrameModel(frame.drop(columns=["valid"]))
    seen = []
    model.filter_changed.connect(lambda shown, total: seen.append((shown, total)))
    model.set_filter(RowFilter(valid="invalid"))
    assert positions(model) == [0, 1, 2, 3, 4, 5]
    assert seen == [(6, 6)]
    background = Qt.ItemDataRole.BackgroundRole
    assert [model.data(model.index(r, 0), background) for r in range(6)] == [None] * 6
    assert model.data(model.index(4, 0), TOOLTIP) is None


def test_set_frame_keeps_sort_and_filter(model, frame):
    model.sort(column(model, "mw"), ASC)
    model.set_filter(RowFilter(valid="valid"))
    seen = []
    model.filter_changed.connect(lambda shown, total: seen.append((shown, total)))
    model.set_frame(frame.iloc[::-1].reset_index(drop=True))
    assert seen == [(5, 6)]
    # Reversed frame: old record p is now at 5 - p.
    assert positions(model) == [2, 0, 5, 3, 4]


# ----------------------------------------------------------------------------------------------
# Qt's model checks


def test_qtmodeltester_with_sort_and_filter(qtmodeltester, model, frame):
    qtmodeltester.check(model, force_py=True)
    model.sort(column(model, "mw"), DESC)
    model.set_filter(RowFilter(text="a"))
    model.sort(column(model, "name"), ASC)
    model.set_filter(RowFilter(valid="invalid"))
    model.set_filter(None)
    model.set_columns([structure_column(), ColumnSpec("hbd", kind="int")])
    model.sort(1, ASC)
    model.set_frame(frame.iloc[:3])
    assert model.rowCount() == 3


@pytest.mark.qt_log_level_fail("WARNING")
def test_qt_cpp_model_tester(qtmodeltester, model):
    # Qt's own QAbstractItemModelTester reports problems as warnings, which fail this test.
    qtmodeltester.check(model)
    model.set_filter(RowFilter(text="a"))
    model.sort(column(model, "mw"), ASC)
    model.set_filter(RowFilter(ranges=(("hbd", 1, None),)))
    assert model.rowCount() == 3


# ----------------------------------------------------------------------------------------------
# Views and structure pictures


def test_configure_table_view_sorts_on_header_click(qtbot, model):
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    configure_table_view(view, picture_height=110)
    vertical = view.verticalHeader()
    assert vertical.sectionResizeMode(0) == QHeaderView.ResizeMode.Fixed
    assert vertical.defaultSectionSize() == 114
    assert view.isSortingEnabled()
    assert model.sort_column()[0] is None  # enabling sorting did not sort by column 0
    assert positions(model) == [0, 1, 2, 3, 4, 5]
    view.resize(800, 400)
    view.show()
    qtbot.waitExposed(view)
    header = view.horizontalHeader()
    mw = column(model, "mw")
    click = QPoint(header.sectionViewportPosition(mw) + 5, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=click)
    assert model.sort_column() == ("mw", ASC)
    assert positions(model) == [3, 5, 0, 2, 1, 4]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=click)
    assert model.sort_column() == ("mw", DESC)
    assert positions(model) == [2, 0, 5, 3, 1, 4]
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=click)
    assert model.sort_column()[0] is None
    assert positions(model) == [0, 1, 2, 3, 4, 5]


def test_cached_structure_pixmap(qapp):
    clear_structure_pixmap_cache()
    pixmap = cached_structure_pixmap(ASPIRIN, 160, 110)
    assert isinstance(pixmap, QPixmap)
    assert not pixmap.isNull()
    assert pixmap.deviceIndependentSize().toSize() == QSize(160, 110)
    assert cached_structure_pixmap(ASPIRIN, 160, 110) is pixmap
    assert cached_structure_pixmap("not a smiles", 160, 110) is None
    assert cached_structure_pixmap("", 160, 110) is None
    info = structure_pixmap_cache_info()
    assert (info.hits, info.misses, info.size, info.max_size) == (1, 2, 2, 2000)


def test_new_pictures_are_drawn_within_a_budget_per_paint_pass(qtbot, qapp):
    """A tall view of new molecules fills in over several turns, each drawing about
    DRAW_BUDGET_S of pictures, instead of freezing for all of them at once."""
    import time

    from ui.tables.structure_delegate import DRAW_BUDGET_S

    smiles = [f"C{'C' * i}O" for i in range(40)]
    frame = pd.DataFrame({"canonical_smiles": smiles, "name": [f"m{i}" for i in smiles]})
    model = DataFrameModel(frame)
    model.set_columns([structure_column()])
    drawn: dict[str, QPixmap] = {}
    passes: list[list[str]] = []

    def provider(text, width, height):
        if text in drawn:  # cached: no drawing
            return drawn[text]
        time.sleep(0.012)  # as long as RDKit drawing a picture
        drawn[text] = QPixmap(width, height)
        drawn[text].fill(Qt.GlobalColor.white)
        passes[-1].append(text)
        return drawn[text]

    delegate = StructureDelegate(
        picture_provider=provider,
        picture_size=(60, 30),
        picture_ready=lambda text, w, h: text in drawn,
    )
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(0, delegate)
    configure_table_view(view, picture_height=30)
    view.resize(300, 1000)
    visible = view.rowAt(900) + 1 if view.rowAt(900) >= 0 else model.rowCount()
    passes.append([])
    view.show()
    qtbot.waitExposed(view)
    for _ in range(200):
        passes.append([])
        qtbot.wait(5)
        if len(drawn) >= visible:
            break
    per_pass = [len(p) for p in passes if p]
    assert len(drawn) >= visible > 10
    assert len(per_pass) > 1  # spread over several passes
    limit = int(DRAW_BUDGET_S / 0.012) + 1
    # (Showing the view may paint twice before the first wait.)
    assert per_pass[0] <= 2 * limit and max(per_pass[1:]) <= limit


def test_delegate_size_hint_and_no_structure(qtbot, model):
    calls = []

    def provider(smiles, width, height):
        calls.append((smiles, width, height))
        return None  # as for a SMILES that does not parse

    view = QTableView()
    qtbot.addWidget(view)
    delegate = StructureDelegate(view, picture_provider=provider, picture_size=QSize(120, 80))
    assert delegate.sizeHint(QStyleOptionViewItem(), QModelIndex()) == QSize(124, 84)
    assert delegate.picture_size == (120, 80)
    assert StructureDelegate(picture_size=(100, 70)).picture_size == (100, 70)
    assert StructureDelegate().picture_size == (160, 110)
    model.set_columns([structure_column()])
    view.setModel(model)
    view.setItemDelegateForColumn(0, delegate)
    configure_table_view(view, picture_height=80)
    view.horizontalHeader().resizeSection(0, 124)
    view.resize(300, 800)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: len(calls) >= 5)
    # Row 4 has no SMILES: nothing is asked for it.
    assert {c[0] for c in calls} == {ASPIRIN, "OCC", CAFFEINE, "CCO", PHENOL}
    assert {c[1:] for c in calls} == {(120, 80)}
    image = view.viewport().grab().toImage()
    rect = view.visualRect(model.index(0, 0))
    inks = {
        image.pixelColor(x, y).name()
        for x in range(rect.left() + 4, rect.right() - 4)
        for y in range(rect.top() + 4, rect.bottom() - 4)
    }
    assert len(inks) > 1  # the grey "no structure" text was drawn


def million_row_frame() -> pd.DataFrame:
    n = 1_000_000
    rng = np.random.default_rng(1)
    smiles = np.array([ASPIRIN, CAFFEINE, PHENOL, "CCO", "not a smiles"], dtype=object)
    mw = rng.uniform(50, 600, n)
    mw[::9] = np.nan
    hbd = pd.array(rng.integers(0, 5, n), dtype="Int64")
    hbd[::11] = pd.NA
    names = pd.Series(np.arange(n)).astype(str).radd("CPD-")
    return pd.DataFrame(
        {
            "name": names,
            "canonical_smiles": smiles[np.arange(n) % 5],
            "mw": mw,
            "hbd": hbd,
            "valid": np.arange(n) % 5 != 4,
        }
    )


class RowRecordingModel(DataFrameModel):
    """Records the rows asked for their SMILES, to prove only visible rows are."""

    def __init__(self, frame):
        super().__init__(frame)
        self.smiles_rows: set[int] = set()

    def data(self, index, role=DISPLAY):
        if role == STRUCTURE_SMILES_ROLE:
            self.smiles_rows.add(index.row())
        return super().data(index, role)


@pytest.mark.slow
def test_million_rows_draw_pictures_only_for_visible_rows(qtbot):
    frame = million_row_frame()
    model = RowRecordingModel(frame)
    model.set_columns([structure_column(), *model.columns()])
    requested: list[str] = []

    def provider(smiles, width, height):
        requested.append(smiles)
        pixmap = QPixmap(width, height)
        pixmap.fill(Qt.GlobalColor.white)
        return pixmap

    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setItemDelegateForColumn(0, StructureDelegate(view, picture_provider=provider))
    configure_table_view(view, picture_height=110)
    view.resize(800, 600)
    view.show()
    qtbot.waitExposed(view)
    qtbot.waitUntil(lambda: len(requested) > 0)
    qtbot.wait(50)

    assert model.rowCount() == 1_000_000
    assert 0 < len(model.smiles_rows) < 100
    assert max(model.smiles_rows) < 100
    assert 0 < len(requested) < 100
    assert set(requested) <= {ASPIRIN, CAFFEINE, PHENOL, "CCO", "not a smiles"}

    # Sorting and filtering a million rows, with the view open: computed in a worker thread, the
    # table keeps its order (and the window its responsiveness) until the result is applied.
    mw = column(model, "mw")
    busy = []
    model.busy_changed.connect(busy.append)
    model.sort(mw, DESC)
    assert model.is_busy() and model.visible_positions()[0] == 0
    assert model.wait_until_idle()
    assert busy == [True, False]
    assert model.data(model.index(0, mw), RawValueRole) == np.nanmax(frame["mw"].to_numpy())
    assert model.data(model.index(model.rowCount() - 1, mw)) == ""  # NaN last
    model.set_filter(RowFilter(text="cpd-99999", valid="valid", ranges=(("hbd", 2, None),)))
    assert model.wait_until_idle()
    expected = frame["name"].str.contains("cpd-99999", case=False, regex=False) & (
        frame["valid"] & frame["hbd"].ge(2).fillna(False).astype(bool)
    )
    assert model.rowCount() == int(expected.sum())
    assert set(model.visible_positions().tolist()) == set(np.flatnonzero(expected.to_numpy()))
    mws = [model.data(model.index(r, mw), RawValueRole) for r in range(model.rowCount())]
    present = [v for v in mws if v is not None]
    assert present == sorted(present, reverse=True)
    assert mws[len(present) :] == [None] * (len(mws) - len(present))
    # A newer request supersedes one still being computed: only the last one is applied.
    model.sort(mw, ASC)
    model.sort(mw, DESC)
    model.set_filter(None)
    model.set_filter(RowFilter(ranges=(("hbd", 3, None),)))
    assert model.wait_until_idle()
    assert model.sort_column() == ("mw", DESC)
    assert model.rowCount() == int(frame["hbd"].ge(3).fillna(False).astype(bool).sum())
    # New columns for the same rows keep the order, then re-sort aside.
    model.set_frame(frame.assign(extra=1.0))
    assert model.rowCount() == int(frame["hbd"].ge(3).fillna(False).astype(bool).sum())
    assert model.wait_until_idle()
    model.shutdown()


def test_text_work_on_mid_size_tables_runs_aside_and_a_later_quick_change_wins(qapp):
    from ui.tables.dataframe_model import TEXT_ASYNC_ROWS

    n = TEXT_ASYNC_ROWS + 5_000
    frame = pd.DataFrame({"name": [f"cpd-{i}" for i in range(n)], "mw": np.arange(n, dtype=float)})
    model = DataFrameModel(frame)
    model.set_filter(RowFilter(text="cpd-12"))  # words over 25,000 names: in the worker thread
    assert model.is_busy() and model.rowCount() == n
    model.set_filter(RowFilter(ranges=(("mw", 0, 9),)))  # numbers: at once, and it wins
    assert model.rowCount() == 10
    assert model.wait_until_idle()
    assert model.rowCount() == 10 and model.row_filter().text == ""
    model.sort(column(model, "name"), DESC)  # text sort: aside as well
    assert model.is_busy()
    assert model.wait_until_idle()
    assert model.data(model.index(0, column(model, "name"))) == "cpd-9"
    model.set_filter(None)
    assert model.wait_until_idle()
    names = [model.data(model.index(r, column(model, "name"))) for r in range(3)]
    assert names == sorted(frame["name"], reverse=True)[:3]

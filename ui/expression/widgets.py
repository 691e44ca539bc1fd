"""Small pieces the Gene expression tabs share: a configured table view and rich-text colour keys."""

from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QTableView

from ui.expression.plots import PValueDelegate
from ui.tables.dataframe_model import DataFrameModel, configure_table_view


def table_view(model: DataFrameModel, p_columns: tuple[str, ...] = ()) -> QTableView:
    """A read-only view of ``model``; the ``p_columns`` show p-values in scientific notation."""
    view = QTableView()
    view.setModel(model)
    configure_table_view(view)
    view.horizontalHeader().setStretchLastSection(True)
    if p_columns:
        delegate = PValueDelegate(view)
        for key in p_columns:
            column = model.column_index(key)
            if column >= 0:
                view.setItemDelegateForColumn(column, delegate)
    return view


def short(text: str, width: int = 24) -> str:
    """A group name short enough for an axis title."""
    return text if len(text) <= width else text[: width - 1] + "…"


def colour_key(entries) -> str:
    """Rich text naming each ``(name, (r, g, b))`` after a dot of its colour; entries wrap only
    between each other."""
    parts = []
    for name, (r, g, b) in entries:
        # Qt's rich text breaks lines at spaces, "/" and "-": keep each name whole.
        text = (
            escape(str(name)).replace(" ", "&nbsp;").replace("/", "&#8725;").replace("-", "&#8209;")
        )
        parts.append(f'<span style="color: rgb({r},{g},{b});">&#9679;</span>&nbsp;{text}')
    return " &nbsp; ".join(parts)

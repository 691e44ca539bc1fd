"""The ADMET tab: the current molecule's physicochemical properties and every admet-ai endpoint,
grouped (Physicochemical, Absorption, Distribution, Metabolism, Excretion, Toxicity), each with
its full name, value, units and a bar for its percentile among DrugBank's approved drugs.

What each endpoint means and how well its model predicts it is read at run time from the table
admet-ai ships (``resources/data/admet.csv``, see :mod:`core.hitlist.admet`) and shown as the
row's tooltip.
"""

from __future__ import annotations

import math

import pandas as pd
from PySide6.QtCore import QModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
    QTextLayout,
    QTextOption,
)
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

HEADERS = ("Endpoint", "Value", "Percentile")
NAME, VALUE, PERCENTILE = range(3)
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 10
"""The value a column sorts by (a number, or the lower-case name); ``None`` sorts last."""
UNITS_ROLE = int(Qt.ItemDataRole.UserRole) + 11
"""A value cell's units, drawn under the number (the panel is too narrow for a column)."""
UNITS_COLOUR = QColor(100, 100, 100)
BAR_COLOUR = QColor(92, 124, 186)
BAR_BACKGROUND = QColor(226, 232, 243)
WEAK_COLOUR = QColor(120, 120, 120)


def _format_value(value: float, task: str, column: str) -> str:
    if task == "classification":
        return f"{value:.2f}"
    if column in ("hbd", "hba"):
        return f"{value:.0f}"
    if column == "qed":
        return f"{value:.3f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def _number(value) -> float | None:
    if value is None or value is pd.NA:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


class _Item(QTreeWidgetItem):
    """Sorts by :data:`SORT_ROLE`; the group headings keep their order whatever the sort."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        column = tree.sortColumn() if tree is not None else 0
        if self.parent() is None and other.parent() is None:  # two groups: fixed order
            mine, theirs = self.data(0, SORT_ROLE), other.data(0, SORT_ROLE)
            descending = tree is not None and (
                tree.header().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
            )
            return (mine > theirs) if descending else (mine < theirs)
        mine, theirs = self.data(column, SORT_ROLE), other.data(column, SORT_ROLE)
        if mine is None or theirs is None:
            # Missing values last in both directions.
            descending = tree is not None and (
                tree.header().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
            )
            if mine is None and theirs is None:
                return False
            return (mine is None) if descending else (theirs is None)
        return mine < theirs


class WrappingDelegate(QStyledItemDelegate):
    """Wraps a cell's text at its column's width (inside a word too long for it), and makes the
    row as tall as the text needs: a tree view otherwise elides ("Molecular ...")."""

    PADDING = 3

    def __init__(self, view: QTreeWidget) -> None:
        super().__init__(view)
        self.view = view

    def _text_rect(self, rect: QRect) -> QRect:
        return rect.adjusted(self.PADDING + 1, self.PADDING, -self.PADDING - 1, -self.PADDING)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        font = index.data(Qt.ItemDataRole.FontRole) or option.font
        width = self.view.header().sectionSize(index.column())
        inner = self._text_rect(QRect(0, 0, width, 100_000))
        layout = _wrapped(text or " ", font, inner.width())
        height = max(layout.boundingRect().height(), QFontMetrics(font).height())
        return QSize(width, math.ceil(height) + 2 * self.PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        # Background, selection and focus as for any cell; the text is drawn here, wrapped.
        blank = QStyleOptionViewItem(option)
        self.initStyleOption(blank, index)
        blank.text = ""
        style = blank.widget.style() if blank.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, blank, painter, blank.widget)
        if not text:
            return
        painter.save()
        font = index.data(Qt.ItemDataRole.FontRole) or option.font
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        brush = index.data(Qt.ItemDataRole.ForegroundRole)
        if selected:
            colour = option.palette.highlightedText().color()
        elif isinstance(brush, QBrush):
            colour = brush.color()
        else:
            colour = option.palette.text().color()
        painter.setPen(colour)
        area = self._text_rect(option.rect)
        layout = _wrapped(text, font, area.width())
        height = layout.boundingRect().height()
        top = area.top() + max(0.0, (area.height() - height) / 2)
        painter.setClipRect(option.rect)
        layout.draw(painter, QPointF(area.left(), top))
        painter.restore()


def _wrapped(
    text: str, font: QFont, width: int, alignment: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignLeft
) -> QTextLayout:
    """``text`` laid out in lines at most ``width`` wide: broken between words, and inside a word
    only when the word alone is wider than the column."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    option.setAlignment(alignment)
    layout.setTextOption(option)
    layout.beginLayout()
    y = 0.0
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(max(width, 1))
        line.setPosition(QPointF(0.0, y))
        y += line.height()
    layout.endLayout()
    return layout


def _small(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(max(6.0, font.pointSizeF() - 1.0))
    return small


class ValueDelegate(WrappingDelegate):
    """The value, right-aligned, with its units (:data:`UNITS_ROLE`) in grey beneath it."""

    def _layouts(self, option: QStyleOptionViewItem, index: QModelIndex, width: int):
        font = index.data(Qt.ItemDataRole.FontRole) or option.font
        right = Qt.AlignmentFlag.AlignRight
        value = _wrapped(str(index.data(Qt.ItemDataRole.DisplayRole) or ""), font, width, right)
        units = str(index.data(UNITS_ROLE) or "")
        return value, (_wrapped(units, _small(font), width, right) if units else None)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        width = self.view.header().sectionSize(index.column())
        inner = self._text_rect(QRect(0, 0, width, 100_000))
        value, units = self._layouts(option, index, inner.width())
        height = value.boundingRect().height()
        if units is not None:
            height += units.boundingRect().height()
        return QSize(width, math.ceil(height) + 2 * self.PADDING)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        blank = QStyleOptionViewItem(option)
        self.initStyleOption(blank, index)
        blank.text = ""
        if blank.widget is not None:  # background and selection
            blank.widget.style().drawControl(
                QStyle.ControlElement.CE_ItemViewItem, blank, painter, blank.widget
            )
        area = self._text_rect(option.rect)
        value, units = self._layouts(option, index, area.width())
        height = value.boundingRect().height()
        if units is not None:
            height += units.boundingRect().height()
        top = area.top() + max(0.0, (area.height() - height) / 2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        brush = index.data(Qt.ItemDataRole.ForegroundRole)
        if selected:
            colour = option.palette.highlightedText().color()
        elif isinstance(brush, QBrush):
            colour = brush.color()
        else:
            colour = option.palette.text().color()
        painter.save()
        painter.setClipRect(option.rect)
        painter.setPen(colour)
        value.draw(painter, QPointF(area.left(), top))
        if units is not None:
            painter.setPen(colour if selected else UNITS_COLOUR)
            units.draw(painter, QPointF(area.left(), top + value.boundingRect().height()))
        painter.restore()


class PercentileDelegate(WrappingDelegate):
    """Draws a cell's percentile (0–100, :data:`SORT_ROLE`) as a bar with its number."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        value = index.data(SORT_ROLE)
        if not isinstance(value, float):
            super().paint(painter, option, index)
            return
        blank = QStyleOptionViewItem(option)
        self.initStyleOption(blank, index)
        blank.text = ""
        if blank.widget is not None:  # background and selection
            blank.widget.style().drawControl(
                QStyle.ControlElement.CE_ItemViewItem, blank, painter, blank.widget
            )
        painter.save()
        try:
            area = option.rect.adjusted(3, 2, -3, -2)
            metrics = option.fontMetrics
            number_width = metrics.horizontalAdvance("100") + 4
            bar_height = min(area.height(), metrics.height() - 2)
            top = area.top() + (area.height() - bar_height) // 2
            track = QRect(area.left(), top, max(area.width() - number_width, 4), bar_height)
            painter.fillRect(track, BAR_BACKGROUND)
            filled = QRect(track)
            filled.setWidth(round(track.width() * min(max(value, 0.0), 100.0) / 100.0))
            painter.fillRect(filled, BAR_COLOUR)
            # The number beside the bar, never on it.
            selected = bool(option.state & QStyle.StateFlag.State_Selected)
            palette = option.palette
            painter.setPen(
                palette.highlightedText().color() if selected else palette.text().color()
            )
            painter.drawText(
                QRect(track.right() + 1, area.top(), area.right() - track.right(), area.height()),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight),
                f"{value:.0f}",
            )
        finally:
            painter.restore()


class AdmetView(QWidget):
    """The current molecule's ADMET profile (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Select a molecule to see its ADMET profile.")
        self.title.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(len(HEADERS))
        self.tree.setHeaderLabels(HEADERS)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(0)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setItemDelegateForColumn(NAME, WrappingDelegate(self.tree))
        self.tree.setItemDelegateForColumn(VALUE, ValueDelegate(self.tree))
        self.tree.setItemDelegateForColumn(PERCENTILE, PercentileDelegate(self.tree))
        header = self.tree.headerItem()
        header.setToolTip(NAME, "The endpoint's full name; hover a row for what it means")
        header.setToolTip(
            VALUE,
            "The predicted value (physicochemical rows: computed), its units beneath; "
            "classifiers give a probability (0–1)",
        )
        header.setToolTip(
            PERCENTILE,
            "Percentile among DrugBank's approved drugs: the share of approved drugs with a "
            "lower value (scored by the same models)",
        )
        sections = self.tree.header()
        sections.setStretchLastSection(False)
        sections.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        metrics = self.tree.fontMetrics()
        widths = {
            VALUE: metrics.horizontalAdvance("probability") + 10,
            PERCENTILE: metrics.horizontalAdvance("Percentile") + 12,
        }
        for column, width in widths.items():
            sections.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            sections.resizeSection(column, width)
        sections.setMinimumSectionSize(metrics.horizontalAdvance("Value") + 12)
        # Wrapped names need their rows measured again when the name column changes width.
        sections.sectionResized.connect(lambda *_: self.tree.doItemsLayout())
        sections.setSortIndicatorClearable(True)
        sections.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.tree.setSortingEnabled(True)
        self.note = QLabel(
            "admet-ai (Chemprop models trained on TDC data); physicochemical values are the "
            "library's own (RDKit). Bars: percentile among DrugBank's approved drugs."
        )
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.note)

    def endpoint_items(self) -> list[QTreeWidgetItem]:
        """The endpoint rows shown, in view order (group by group)."""
        items = []
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            items += [group.child(i) for i in range(group.childCount())]
        return items

    def show_row(self, row: dict | None) -> int:
        """Fill the view from a library row; returns the number of endpoints shown."""
        from core.hitlist.admet import (
            CATEGORIES,
            AdmetUnavailable,
            drugbank_percentile,
            endpoints,
            physchem_endpoints,
        )

        self.tree.setSortingEnabled(False)
        self.tree.clear()
        if not row:
            self.title.setText("Select a molecule to see its ADMET profile.")
            return 0
        try:
            points = [*physchem_endpoints(), *endpoints()]
        except AdmetUnavailable as error:
            self.title.setText(str(error))
            return 0
        has_models = any(str(key).startswith("admet_") for key in row)
        groups: dict[str, QTreeWidgetItem] = {}
        shown = 0
        for endpoint in points:
            value = _number(row.get(endpoint.column))
            if value is None:
                continue
            if endpoint.category == "Physicochemical":
                percentile = drugbank_percentile(endpoint, value)
            else:
                percentile = _number(row.get(endpoint.percentile_column))
            group = groups.get(endpoint.category)
            if group is None:
                group = groups[endpoint.category] = self._group_item(endpoint.category, CATEGORIES)
            group.addChild(self._endpoint_item(endpoint, value, percentile))
            shown += 1
        # Group headings span the row: set after they are in the tree.
        for group in groups.values():
            group.setFirstColumnSpanned(True)
            group.setExpanded(True)
        section = self.tree.header().sortIndicatorSection()
        if 0 <= section < len(HEADERS):
            self.tree.sortItems(section, self.tree.header().sortIndicatorOrder())
        self.tree.setSortingEnabled(True)
        name = str(row.get("name") or row.get("canonical_smiles") or "this molecule")
        if has_models:
            self.title.setText(f"<b>{_escape(name)}</b>: {shown} ADMET endpoints")
        else:
            self.title.setText(
                f"<b>{_escape(name)}</b>: physicochemical properties only. For the 41 "
                "model endpoints, tick 'ADMET predictions' in the Rank tab and press "
                "Score library."
            )
        return shown

    def _group_item(self, category: str, order: tuple[str, ...]) -> QTreeWidgetItem:
        item = _Item([category])
        item.setData(0, SORT_ROLE, order.index(category) if category in order else len(order))
        font = QFont(self.tree.font())
        font.setBold(True)
        item.setFont(0, font)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self.tree.addTopLevelItem(item)
        return item

    def _endpoint_item(self, endpoint, value: float, percentile: float | None) -> QTreeWidgetItem:
        item = _Item(
            [
                endpoint.name,
                _format_value(value, endpoint.task, endpoint.table_column),
                "" if percentile is None else f"{percentile:.0f}",
            ]
        )
        item.setData(NAME, SORT_ROLE, endpoint.name.lower())
        item.setData(VALUE, SORT_ROLE, float(value))
        item.setData(VALUE, UNITS_ROLE, endpoint.display_units)
        item.setData(PERCENTILE, SORT_ROLE, None if percentile is None else float(percentile))
        item.setTextAlignment(VALUE, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        explanation = endpoint.explanation()
        for column in range(len(HEADERS)):
            item.setToolTip(column, explanation)
        if percentile is not None:
            item.setToolTip(
                PERCENTILE,
                f"{percentile:.0f}% of DrugBank's approved drugs have a lower value.\n\n"
                + explanation,
            )
        if endpoint.is_weak:
            for column in (NAME, VALUE):
                item.setForeground(column, QBrush(WEAK_COLOUR))
            font = QFont(self.tree.font())
            font.setItalic(True)
            item.setFont(NAME, font)
        return item


def _escape(text: str) -> str:
    import html

    return html.escape(text)

"""WrapLayout: a bar of controls that wraps onto more lines instead of widening the window."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit, QPushButton, QSizePolicy, QWidget

from ui.widgets.wrap_layout import WrapLayout


def _bar(qtbot):
    bar = QWidget()
    qtbot.addWidget(bar)
    layout = WrapLayout(bar)
    search = QLineEdit()
    search.setMinimumWidth(160)
    search.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    layout.addWidget(search)
    buttons = [QPushButton(text) for text in ("Any alerts", "Valid only", "Range filter…", "Clear")]
    for button in buttons:
        layout.addWidget(button)
    bar.show()
    return bar, layout, search, buttons


def _place(qtbot, bar, width):
    bar.resize(width, bar.heightForWidth(width))
    qtbot.wait(10)
    return {widget: widget.geometry() for widget in bar.findChildren(QWidget)}


def test_wide_bar_is_one_line_and_the_search_box_takes_the_rest(qtbot):
    bar, layout, search, buttons = _bar(qtbot)
    places = _place(qtbot, bar, 1200)
    assert len({rect.top() for rect in places.values()}) <= 2  # one line (combos centre by a px)
    assert places[buttons[-1]].right() <= 1200
    used = sum(b.sizeHint().width() for b in buttons) + 4 * layout.spacing()
    assert places[search].width() == 1200 - used


def test_narrow_bar_wraps_and_nothing_overlaps_or_leaves_it(qtbot):
    bar, _layout, search, buttons = _bar(qtbot)
    widest = max(w.minimumSizeHint().width() for w in [search, *buttons])
    assert bar.minimumSizeHint().width() == max(widest, 160)
    one_line = bar.heightForWidth(1200)
    for width in (500, 300, 200):
        places = _place(qtbot, bar, width)
        assert bar.heightForWidth(width) > one_line
        rects = list(places.values())
        for rect in rects:
            assert rect.left() >= 0 and rect.right() < width
        for i, a in enumerate(rects):
            for b in rects[i + 1 :]:
                assert not a.intersects(b), (a, b)


def test_hidden_widgets_take_no_room(qtbot):
    bar, layout, search, buttons = _bar(qtbot)
    before = _place(qtbot, bar, 1200)[search].width()
    buttons[0].hide()
    after = _place(qtbot, bar, 1200)[search].width()
    assert after == before + buttons[0].sizeHint().width() + layout.spacing()

"""The Campaign area: the project at a glance, as the flow of the work (issue 17, part 5).

Six steps, left to right: disease data → disease genes → targets → molecules → hit list → trial
design. Each card says what the project holds there (counts, names, last change) or what to do
to start it, and a click opens the area where that step is done. "Campaign report…" writes the
HTML report of the project (``core.campaign.write_campaign_report``) in the engine.

The area reads what it shows through a callable (the window's project session gives the live
libraries and areas), so it never reaches into another area's widgets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core.campaign import (
    AreaRecord,
    CampaignStep,
    LibrarySummary,
    campaign_report_html,
    campaign_steps,
)
from ui.workbench import AreaContext

AREA_TITLES = {
    "expression": "Expression",
    "proteins": "Proteins",
    "libraries": "Libraries",
    "models": "Models",
    "trials": "Trials",
}

REFRESH_DELAY_MS = 200

CampaignInputs = Callable[[], tuple[Sequence[LibrarySummary], Mapping[str, AreaRecord]]]


def _when(stamp: str | None) -> str:
    """``stamp`` (ISO, UTC) as local time, for a card's "last change" line."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return ""
    return moment.astimezone().strftime("%d %b %Y, %H:%M")


def _write_report(path, name, libraries, areas, *, progress, is_cancelled) -> Path:
    from core.campaign import write_campaign_report

    progress(-1.0, f"Writing {Path(path).name}")
    return write_campaign_report(path, name, libraries, areas)


class StepCard(QFrame):
    """One step of the flow; clicking it (or its button) opens the step's area."""

    open_requested = Signal(str)  # area key

    def __init__(self, step: CampaignStep, number: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.step = step
        self.setObjectName("campaignStep")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(120)
        border = "#4a7bd0" if step.started else "#b8b8b8"
        style = "solid" if step.started else "dashed"
        self.setStyleSheet(f"#campaignStep {{ border: 1px {style} {border}; border-radius: 6px; }}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(3)
        self.title_label = QLabel(f"<b>{number}. {step.title}</b>")
        layout.addWidget(self.title_label)
        if step.started:
            text = "<br>".join(line.replace("<", "&lt;") for line in step.lines)
        else:
            text = f"<i>Not started.</i> {step.next_action}"
        self.body = QLabel(text)
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.body)
        layout.addStretch(1)
        when = _when(step.modified)
        if when:
            changed = QLabel(f"Last change: {when}")
            changed.setStyleSheet("color: #666;")
            layout.addWidget(changed)
        self.open_button = QPushButton(f"Open {AREA_TITLES.get(step.area, step.area)}")
        self.open_button.setToolTip(f"Go to the {AREA_TITLES.get(step.area, step.area)} area")
        self.open_button.clicked.connect(lambda: self.open_requested.emit(step.area))
        layout.addWidget(self.open_button)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.open_requested.emit(self.step.area)
        super().mouseReleaseEvent(event)


class CampaignOverview(QWidget):
    """The Campaign area."""

    area_requested = Signal(str)  # the key of the area a step leads to

    def __init__(
        self,
        context: AreaContext,
        inputs: CampaignInputs,
        open_area: Callable[[str], object],
        project_path: Callable[[], Path | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self._inputs = inputs
        self._project_path = project_path
        self._report_job = None
        self.area_requested.connect(open_area)
        self.cards: list[StepCard] = []
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        header = QHBoxLayout()
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        header.addWidget(self.heading, 1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Count again what each area holds")
        self.refresh_button.clicked.connect(self.refresh)
        header.addWidget(self.refresh_button)
        self.report_button = QPushButton("Campaign report…")
        self.report_button.setToolTip(
            "Write one HTML file: the hit list's best molecules with structures, the targets "
            "with a picture of each structure, the chosen genes with their statistics and the "
            "trial design"
        )
        self.report_button.clicked.connect(self.choose_report)
        header.addWidget(self.report_button)
        outer.addLayout(header)

        self.flow = QWidget()
        column = QVBoxLayout(self.flow)
        column.setContentsMargins(0, 0, 0, 0)
        self.flow_layout = QHBoxLayout()
        self.flow_layout.setContentsMargins(0, 0, 0, 0)
        self.flow_layout.setSpacing(4)
        column.addLayout(self.flow_layout)
        # Below the flow: what the project file keeps of each area, and when it last changed.
        self.kept_label = QLabel()
        self.kept_label.setWordWrap(True)
        self.kept_label.setTextFormat(Qt.TextFormat.RichText)
        self.kept_label.setContentsMargins(2, 10, 2, 0)
        column.addWidget(self.kept_label)
        # The report's text (without pictures), so the project's results read at a glance.
        self.preview = QTextBrowser()
        self.preview.setOpenLinks(False)
        self.preview.setMinimumHeight(160)
        column.addWidget(self.preview, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.flow)
        outer.addWidget(scroll, 1)
        self.hint = QLabel(
            "Each step shows what this project holds there; click a step to go where it is "
            "done. The project keeps every area: open a project (File > Open project) and each "
            "area comes back as you left it."
        )
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #555;")
        outer.addWidget(self.hint)
        self.refresh()

    # ------------------------------------------------------------------------------------------
    def steps(self) -> list[CampaignStep]:
        libraries, areas = self._inputs()
        return campaign_steps(libraries, areas)

    def refresh(self) -> None:
        """Count again what each step holds and redraw the cards."""
        try:
            libraries, areas = self._inputs()
            steps = campaign_steps(libraries, areas)
        except Exception as error:  # an area's state must not break the overview
            self.context.notifier.show_error(f"The campaign overview could not be drawn: {error}")
            return
        self._show_kept(libraries, areas)
        path = self._project_path()
        try:
            preview = campaign_report_html(
                Path(path).name if path else "unsaved project",
                libraries,
                areas,
                molecules=10,
                pictures=False,
                flow=False,
            )
        except Exception as error:  # the cards still show; say why the text does not
            preview = f"<p>The report preview could not be made: {error}</p>"
        # Qt's rich text ignores the stylesheet's borders: cells get padding from the document.
        self.preview.document().setDefaultStyleSheet("td, th { padding: 2px 6px; }")
        self.preview.setHtml(preview)
        while self.flow_layout.count():
            item = self.flow_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.cards = []
        for number, step in enumerate(steps, start=1):
            if number > 1:
                arrow = QLabel("→")
                arrow.setStyleSheet("font-size: 18px; color: #777;")
                arrow.setAlignment(Qt.AlignmentFlag.AlignCenter)
                self.flow_layout.addWidget(arrow)
            card = StepCard(step, number)
            card.open_requested.connect(self._open_step)
            self.cards.append(card)
            self.flow_layout.addWidget(card, 1)
        path = self._project_path()
        started = sum(step.started for step in steps)
        if path is None:
            where = "No project open: File > New project (or Save project as…) keeps this work."
        else:
            where = f"Project {Path(path).name}."
        self.heading.setText(
            f"<b>Campaign</b> — from disease data to the trial that would test the winner. "
            f"{where} {started} of {len(steps)} steps started."
        )

    def refresh_soon(self) -> None:
        """Count again shortly, if shown (what the project holds changed; a burst of changes
        gives one count, and a hidden overview counts when it is shown)."""
        if self.isVisible():
            self._refresh_timer.start()

    def _show_kept(self, libraries, areas) -> None:
        rows = [f"Libraries: {len(libraries)} open"]
        for key in ("models", "proteins", "expression", "trials"):
            record = areas.get(key)
            if record is None or not (record.state or record.tables):
                rows.append(f"{AREA_TITLES[key]}: nothing yet")
                continue
            tables = [name for name, table in record.tables.items() if table is not None]
            what = f"{len(tables)} table{'s' if len(tables) != 1 else ''}" if tables else "settings"
            when = _when(record.modified)
            rows.append(f"{AREA_TITLES[key]}: {what}" + (f", last change {when}" if when else ""))
        saved = (
            "The project file keeps all of this and saves every few seconds"
            if self._project_path() is not None
            else "Nothing is kept yet: File > Save project as… keeps all of this"
        )
        self.kept_label.setText(f"<b>In this project</b> — {saved}.<br>" + " · ".join(rows))

    def _open_step(self, area: str) -> None:
        self.area_requested.emit(area)
        self.context.notifier.show_status(
            f"Campaign → {AREA_TITLES.get(area, area)}: the step's work is done there."
        )

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()

    # ------------------------------------------------------------------------------------------
    def choose_report(self) -> None:
        path = self._project_path()
        start = str(Path(path).with_suffix(".html")) if path else "campaign.html"
        target, _ = QFileDialog.getSaveFileName(
            self, "Campaign report", start, "HTML report (*.html)"
        )
        if target:
            if not target.lower().endswith((".html", ".htm")):
                target += ".html"
            self.write_report(Path(target))

    def write_report(self, target: Path):
        """Write the campaign report to ``target`` in the engine; returns the job's handle."""
        libraries, areas = self._inputs()
        path = self._project_path()
        name = Path(path).name if path else "unsaved project"
        handle = self.context.engine.submit(
            _write_report,
            target,
            name,
            list(libraries),
            dict(areas),
            title=f"Campaign report {target.name}",
        )
        self._report_job = handle
        handle.finished.connect(partial(self._on_report_written, target))
        handle.failed.connect(
            lambda message: self.context.notifier.show_error(
                f"The campaign report was not written: {message}"
            )
        )
        return handle

    def _on_report_written(self, target: Path, _result: object) -> None:
        self.context.notifier.show_status(f"Wrote the campaign report to {target}", 15000)


__all__ = ["CampaignOverview", "StepCard"]

"""The jobs panel and status-bar indicator follow the engine; Cancel buttons cancel."""

from __future__ import annotations

import time

from core.jobs import CANCELLED, FAILED, FINISHED, RUNNING, check_cancelled
from ui.jobs.panel import JobsIndicator, JobsPanel


def steps(n, *, progress, is_cancelled):
    for i in range(n):
        check_cancelled(is_cancelled)
        time.sleep(0.01)
        progress((i + 1) / n, f"step {i + 1} of {n}")
    return n


def broken(*, progress, is_cancelled):
    raise OSError("disk full")


def test_rows_follow_job_states(qtbot, engine):
    panel = JobsPanel(engine)
    indicator = JobsIndicator(engine)
    qtbot.addWidget(panel)
    qtbot.addWidget(indicator)
    assert indicator.button.text() == "No jobs running"
    long_job = engine.submit(steps, 1000, title="Long").id
    queued_job = engine.submit(steps, 1, title="Queued").id
    qtbot.waitUntil(lambda: panel.rows[long_job].state == RUNNING, timeout=5000)
    qtbot.waitUntil(lambda: indicator.button.text() == "1 job running, 1 queued", timeout=2000)
    qtbot.waitUntil(lambda: panel.rows[long_job].progress_bar.value() > 0, timeout=5000)
    assert panel.rows[long_job].state_label.text().startswith("step ")

    panel.rows[long_job].cancel_button.click()
    qtbot.waitUntil(lambda: panel.rows[queued_job].state == FINISHED, timeout=5000)
    assert panel.rows[long_job].state == CANCELLED
    assert panel.rows[long_job].state_label.text() == "Cancelled"
    assert panel.rows[queued_job].state_label.text().startswith("Done in")
    # The indicator's slot is a separate queued call after the panel's.
    qtbot.waitUntil(lambda: indicator.button.text() == "No jobs running", timeout=2000)

    failed = engine.submit(broken, title="Write").id
    qtbot.waitUntil(lambda: panel.rows[failed].state == FAILED, timeout=5000)
    assert panel.rows[failed].state_label.text() == "Failed: disk full"

    panel.clear_finished()
    assert panel.rows == {}
    assert engine.jobs() == []


def test_cancel_all(qtbot, engine):
    panel = JobsPanel(engine)
    qtbot.addWidget(panel)
    ids = [engine.submit(steps, 1000, title=f"job {i}").id for i in range(3)]
    qtbot.waitUntil(lambda: panel.rows[ids[0]].state == RUNNING, timeout=5000)
    panel.cancel_all_button.click()
    qtbot.waitUntil(lambda: all(panel.rows[i].state == CANCELLED for i in ids), timeout=2000)


def test_the_indicator_says_when_jobs_share_the_processor(qtbot, engine):
    from core.jobs import LONG_LANE

    indicator = JobsIndicator(engine)
    qtbot.addWidget(indicator)
    long_job = engine.submit(steps, 1000, title="Train", lane=LONG_LANE).id
    short_job = engine.submit(steps, 1000, title="Score").id
    qtbot.waitUntil(lambda: indicator.button.text() == "2 jobs running at once", timeout=5000)
    assert "share" in indicator.button.toolTip()
    engine.cancel(long_job)
    qtbot.waitUntil(lambda: indicator.button.text() == "1 job running", timeout=5000)
    assert indicator.button.toolTip() == "Show the jobs panel"
    engine.cancel(short_job)
    qtbot.waitUntil(lambda: indicator.button.text() == "No jobs running", timeout=5000)
    assert indicator.button.toolTip() == "Show the jobs panel"

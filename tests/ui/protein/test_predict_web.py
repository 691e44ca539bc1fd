"""The Predict tab's web fold (ESM Atlas) and weights download, against a loopback stand-in of
the services (tests/esm_services.py): the web option asks before the sequence leaves the computer
and does nothing on "No"; the download button runs an engine job and goes when done."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox


def _esm_services():
    spec = importlib.util.spec_from_file_location(
        "esm_services", Path(__file__).parents[2] / "esm_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services_module = _esm_services()


@pytest.fixture
def services(monkeypatch, tmp_path):
    with services_module.EsmServices(monkeypatch, tmp_path / "hf-cache") as running:
        yield running


@pytest.fixture
def panel(make_panel, services):
    """A Proteins panel made once the loopback ESM services are up."""
    return make_panel()


@pytest.fixture
def answers(monkeypatch):
    """QMessageBox.question answered from this list; the questions asked are recorded."""
    asked: list[tuple[str, str]] = []
    replies: list[QMessageBox.StandardButton] = []

    def question(parent, title, text, buttons=None, default=None):
        asked.append((title, text))
        assert default == QMessageBox.StandardButton.No  # Enter alone sends nothing
        return replies.pop(0)

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked, replies


def test_the_web_option_asks_first_and_sends_nothing_on_no(panel, services, answers):
    asked, replies = answers
    replies.append(QMessageBox.StandardButton.No)
    panel.predict_tab.sequence_edit.setPlainText("MKTA")
    panel.predict_tab.web_button.click()
    assert len(asked) == 1
    title, text = asked[0]
    assert "ESM Atlas" in title
    assert "127.0.0.1" in text and "leaves this computer" in text and "4 residues" in text
    assert services.requests == []  # nothing sent
    assert panel.jobs.running("predict") is None  # nothing started
    assert "stayed on this computer" in panel.predict_tab.predict_label.text()
    assert panel.structure is None


def test_on_yes_the_web_fold_opens_coloured_by_plddt(panel, qtbot, services, answers):
    asked, replies = answers
    replies.append(QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(panel.structure_changed, timeout=30_000):
        assert panel.predict_online("MKTA") is not None
    assert [r[3] for r in services.requests] == [b"MKTA"]
    assert panel.structure_view.scene.color_scheme == "plddt"
    assert "Mean pLDDT 77.1 on the ESM Atlas web service" in panel.predict_tab.predict_label.text()
    # asked again next time: no consent is remembered
    replies.append(QMessageBox.StandardButton.No)
    assert panel.predict_online("MKTA") is None
    assert len(asked) == 2 and len(services.requests) == 1


def test_a_long_sequence_is_refused_before_asking(panel, services, answers):
    asked, _ = answers
    assert panel.predict_online("A" * 401) is None
    assert asked == [] and services.requests == []
    assert "at most 400" in panel.predict_tab.predict_label.text()


def test_a_server_error_reaches_the_tab_in_one_line(panel, qtbot, services, answers, notifier):
    _, replies = answers
    replies.append(QMessageBox.StandardButton.Yes)
    services.fold_status = 500
    job = panel.predict_online("MKTA")
    with qtbot.waitSignal(job.failed, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: "HTTP 500" in panel.predict_tab.predict_label.text(), timeout=5000)
    assert "\n" not in panel.predict_tab.predict_label.text()


def test_download_button_shows_size_runs_a_job_and_goes_when_done(panel, qtbot, services):
    tab = panel.predict_tab
    assert not tab.download_button.isHidden()  # the tab itself is not on top
    assert tab.download_button.text() == "Download ESMFold weights (8.45 GB)…"
    services.cut_after["pytorch_model.bin"] = 100_000
    job = panel.download_esm_weights()
    assert tab.download_button.text() == "Cancel download"
    with qtbot.waitSignal(job.failed, timeout=30_000):
        pass
    qtbot.waitUntil(lambda: tab.download_button.text().startswith("Resume"), timeout=5000)
    assert "100 kB of 8.45 GB" in tab.download_button.text()
    assert "part is kept" in tab.predict_label.text()

    with qtbot.waitSignal(panel.jobs.ended, timeout=30_000):
        tab.download_button.click()  # resumes
    qtbot.waitUntil(lambda: tab.download_button.isHidden(), timeout=5000)
    assert "ESMFold weights downloaded to" in tab.predict_label.text()
    from core.protein.esm_weights import cached_snapshot

    assert cached_snapshot() is not None
    assert tab.folding_inputs("MKTA") is not None  # the weights are found now


def test_the_button_cancels_a_running_download_and_the_next_click_resumes(panel, qtbot, services):
    tab = panel.predict_tab
    weights = services_module.WEIGHTS * 8  # 2.4 MB: more than one read
    services.files["pytorch_model.bin"] = weights
    services.hold_after["pytorch_model.bin"] = 100_000
    panel.download_esm_weights()
    qtbot.waitUntil(
        lambda: any(p.endswith("pytorch_model.bin") for p in services.paths()), timeout=60_000
    )
    with qtbot.waitSignal(panel.jobs.ended, timeout=60_000) as ended:
        tab.download_button.click()  # "Cancel download"
        services.release.set()
    assert ended.args == ["esm-weights", "cancelled"]
    qtbot.waitUntil(lambda: tab.download_button.text().startswith("Resume"), timeout=30_000)
    from core.protein.esm_weights import cached_snapshot, weights_status

    kept = weights_status().partial_bytes
    assert 0 < kept < len(weights) and cached_snapshot() is None

    tab.download_button.click()  # resumes from the part kept
    qtbot.waitUntil(lambda: tab.download_button.isHidden(), timeout=60_000)
    ranges = [h.get("Range") for _, p, h, _ in services.requests if p.endswith("model.bin")]
    assert ranges == [None, f"bytes={kept}-"]
    assert (cached_snapshot() / "pytorch_model.bin").read_bytes() == weights


def test_the_predict_tab_fits_a_1366x768_screen(panel):
    hint = panel.predict_tab.minimumSizeHint()
    assert hint.width() <= 360 and hint.height() <= 600

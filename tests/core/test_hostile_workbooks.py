"""Workbooks read outside the compound readers (expression count tables, trial tables) get the
same checks: a damaged or random zip, and a zip bomb, are one clear error naming the file."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from core.chem import readers
from core.expression.data import ExpressionInputError, read_table
from core.trials import TrialDataError
from core.trials.data import read_trial_table

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "bad_inputs" / "xlsx"

READERS = [
    pytest.param(read_table, ExpressionInputError, id="expression"),
    pytest.param(read_trial_table, TrialDataError, id="trials"),
]


@pytest.mark.parametrize(("read", "error"), READERS)
@pytest.mark.parametrize("name", ["random_parts.xlsx", "truncated.xlsx", "no_worksheet.xlsx"])
def test_broken_workbooks_are_one_error_naming_the_file(tmp_path, read, error, name):
    path = tmp_path / f"counts_{name}"
    shutil.copy(CORPUS / name, path)
    with pytest.raises(error) as caught:
        read(path)
    assert path.name in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("read", "error"), READERS)
def test_a_zip_bomb_is_refused_before_it_is_opened(tmp_path, monkeypatch, read, error):
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"A" * 3_000_000)
    # Same logic as a 1 GB bomb, at a size a test writes in milliseconds.
    monkeypatch.setattr(readers, "XLSX_RATIO_MIN_BYTES", 1_000_000)

    def never(*_args, **_kwargs):
        raise AssertionError("openpyxl was asked to open a zip bomb")

    monkeypatch.setattr("pandas.read_excel", never)
    with pytest.raises(error, match="zip bomb"):
        read(path)

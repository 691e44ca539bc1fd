"""load_library: one row per record in input order, errors kept, duplicates, extra columns, workers,
cancel and progress."""

from __future__ import annotations

import itertools
import math
import multiprocessing
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

import core.chem.library as library_module
from core.chem.descriptors import describe
from core.chem.library import (
    CRASHED_RECORD_ERROR,
    DUPLICATE_COLUMN,
    LIBRARY_COLUMNS,
    PARALLEL_THRESHOLD,
    Library,
    LoadOptions,
    load_library,
    parse_record,
    process_records,
    props_table,
)
from core.chem.properties import PROPERTY_COLUMNS, compute_properties
from core.chem.readers import LibraryReadError, RawRecord, ReadOptions
from core.chem.standardize import StandardizeOptions, Standardizer
from core.jobs import JobCancelled
from core.parallel import WorkerCrashed

# A cyclic 24-mer of leucine: 192 heavy atoms, about 10 ms per molecule, like a large peptide drug.
CYCLIC_PEPTIDE = "N1[C@@H](CC(C)C)C(=O)" + "N[C@@H](CC(C)C)C(=O)" * 22 + "N[C@@H](CC(C)C)C1=O"

MIXED_SMI = """\
CCO ethanol
C1CC unclosed
CC(C)(C)(C)(C)C pentavalent
OCC ethanol-again
CC(=O)[O-].[Na+] sodium-acetate
c1cccc1 bad-aromatic
CC(=O)O acetic-acid
c1ccccc1 benzene
C(O)C ethanol-third
"""


def expected_row(smiles: str) -> dict:
    mol = Standardizer().standardize(Chem.MolFromSmiles(smiles))
    return {
        "canonical_smiles": Chem.MolToSmiles(mol),
        "inchikey": Chem.MolToInchiKey(mol),
        **compute_properties(mol),
    }


def assert_no_children():
    assert multiprocessing.active_children() == []


class CancelLater:
    """``is_cancelled`` that turns true ``delay`` seconds after the first progress above 0."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.turned_true_at: float | None = None
        self.fractions: list[float] = []

    def progress(self, fraction: float, message: str = "") -> None:
        self.fractions.append(fraction)
        if self.turned_true_at is None and fraction > 0:
            self.turned_true_at = time.monotonic() + self.delay

    def __call__(self) -> bool:
        return self.turned_true_at is not None and time.monotonic() >= self.turned_true_at


# ----------------------------------------------------------------------------------------------
# Rows, errors, duplicates


@pytest.fixture
def mixed_library(write_text) -> Library:
    return load_library(write_text("mixed.smi", MIXED_SMI), LoadOptions(workers=1))


def test_rows_keep_input_order_and_every_record(mixed_library):
    table = mixed_library.table
    assert list(table.columns) == [*LIBRARY_COLUMNS, DUPLICATE_COLUMN]
    assert list(table.index) == list(range(9))
    assert list(table["name"]) == [
        "ethanol",
        "unclosed",
        "pentavalent",
        "ethanol-again",
        "sodium-acetate",
        "bad-aromatic",
        "acetic-acid",
        "benzene",
        "ethanol-third",
    ]
    assert list(table["smiles"]) == [line.split()[0] for line in MIXED_SMI.splitlines()]
    assert list(table["valid"]) == [True, False, False, True, True, False, True, True, True]
    assert list(table["canonical_smiles"]) == [
        "CCO",
        "",
        "",
        "CCO",
        "CC(=O)O",
        "",
        "CC(=O)O",
        "c1ccccc1",
        "CCO",
    ]


def test_error_texts(mixed_library):
    errors = list(mixed_library.table["error"])
    assert errors[1] == "invalid SMILES: syntax error"
    assert errors[2] == (
        "invalid chemistry: Explicit valence for atom # 1 C, 6, is greater than permitted"
    )
    assert errors[5] == "invalid chemistry: Can't kekulize mol.  Unkekulized atoms: 0 1 2 3 4"
    assert [errors[i] for i in (0, 3, 4, 6, 7, 8)] == [""] * 6


def test_counts_and_summary(mixed_library):
    assert (mixed_library.n_records, mixed_library.n_valid, mixed_library.n_invalid) == (9, 6, 3)
    assert mixed_library.n_duplicates == 3
    assert mixed_library.summary() == "9 records: 6 valid, 3 invalid, 3 duplicates"
    assert mixed_library.extra_columns == []
    assert mixed_library.source.name == "mixed.smi"


def test_duplicates_name_the_first_occurrence(mixed_library):
    assert list(mixed_library.table[DUPLICATE_COLUMN]) == [
        "",
        "",
        "",
        "ethanol",
        "",
        "",
        "sodium-acetate",
        "",
        "ethanol",
    ]


def test_values_equal_standardizer_and_properties(mixed_library):
    table = mixed_library.table
    for row, smiles in ((0, "CCO"), (4, "CC(=O)[O-].[Na+]"), (7, "c1ccccc1")):
        expected = expected_row(smiles)
        assert table.loc[row, "canonical_smiles"] == expected["canonical_smiles"]
        assert table.loc[row, "inchikey"] == expected["inchikey"]
        for name in PROPERTY_COLUMNS:
            assert table.loc[row, name] == expected[name], name
    assert table.loc[0, "inchikey"] == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"


def test_invalid_rows_have_no_values(mixed_library):
    invalid = mixed_library.table[~mixed_library.table["valid"]]
    assert list(invalid["inchikey"]) == ["", "", ""]
    for name in PROPERTY_COLUMNS:
        assert invalid[name].isna().all(), name


def test_column_types(mixed_library):
    table = mixed_library.table
    for name in ("mw", "clogp", "tpsa", "qed"):
        assert table[name].dtype == np.float64, name
    for name in ("hbd", "hba", "rotb"):
        assert table[name].dtype == pd.Int64Dtype(), name
    assert table["valid"].dtype == bool


def test_profile_columns_equal_describe(write_text):
    path = write_text(
        "profile.smi",
        "O=C1NC(=S)SC1=Cc1ccccc1 rhodanine\n"
        f"{CYCLIC_PEPTIDE} peptide\n"
        "C1CC unclosed\n"
        "CC(=O)[O-].[Na+] sodium-acetate\n",
    )
    table = load_library(path, LoadOptions(workers=1)).table
    for row, smiles in (
        (0, "O=C1NC(=S)SC1=Cc1ccccc1"),
        (1, CYCLIC_PEPTIDE),
        (3, "CC(=O)[O-].[Na+]"),
    ):
        card = describe(Standardizer().standardize(Chem.MolFromSmiles(smiles)))
        assert table.loc[row, "formula"] == card.formula
        assert table.loc[row, "sa_score"] == card.sa_score
        assert table.loc[row, "fsp3"] == card.fsp3
        assert table.loc[row, "lipinski_violations"] == card.lipinski_violations
        assert table.loc[row, "alerts"] == card.alerts_text
    assert table.loc[0, "alerts"].startswith("PAINS_A:ene_rhod_A(235);")
    assert table.loc[1, "lipinski_violations"] == 4  # MW, cLogP, HBD and HBA out of range
    assert list(table["formula"]) == ["C10H7NOS2", "C144H264N24O24", "", "C2H4O2"]
    assert table.loc[3, "alerts"] == ""
    # The invalid row: nothing computed.
    assert table.loc[2, "alerts"] == ""
    assert math.isnan(table.loc[2, "sa_score"]) and math.isnan(table.loc[2, "fsp3"])
    assert table["lipinski_violations"].isna().tolist() == [False, False, True, False]
    assert table["lipinski_violations"].dtype == pd.Int64Dtype()
    assert table["sa_score"].dtype == np.float64 and table["fsp3"].dtype == np.float64


def test_props_table_has_exactly_the_library_columns(mixed_library):
    props = props_table(mixed_library)
    assert tuple(props.columns) == LIBRARY_COLUMNS
    assert LIBRARY_COLUMNS == (
        "name",
        "smiles",
        "canonical_smiles",
        "inchikey",
        "mw",
        "clogp",
        "tpsa",
        "hbd",
        "hba",
        "rotb",
        "qed",
        "formula",
        "sa_score",
        "fsp3",
        "lipinski_violations",
        "alerts",
        "valid",
        "error",
    )
    assert LIBRARY_COLUMNS[4:11] == PROPERTY_COLUMNS
    pd.testing.assert_frame_equal(props, mixed_library.table[list(LIBRARY_COLUMNS)])
    props.loc[0, "name"] = "changed"
    assert mixed_library.table.loc[0, "name"] == "ethanol"


def test_all_invalid_file(write_text):
    library = load_library(write_text("bad.smi", "C1CC a\nxyz b\n"), LoadOptions(workers=1))
    assert (library.n_records, library.n_valid, library.n_invalid, library.n_duplicates) == (
        2,
        0,
        2,
        0,
    )
    assert list(library.table["error"]) == ["invalid SMILES: syntax error"] * 2
    assert library.summary() == "2 records: 0 valid, 2 invalid"


def test_named_smiles_column_of_invalid_values_gives_invalid_rows(write_text):
    library = load_library(write_text("bad.csv", "smiles,name\nxyz!,a\nC1CC,b\n"))
    assert list(library.table["name"]) == ["a", "b"]
    assert list(library.table["error"]) == ["invalid SMILES: syntax error"] * 2


def test_chembl_file(chembl_path, chembl_entries, chembl_mols):
    fractions: list[float] = []
    library = load_library(
        chembl_path, LoadOptions(workers=1), progress=lambda f, m="": fractions.append(f)
    )
    assert_progress(fractions)
    table = library.table
    assert list(table["name"]) == [name for _, name in chembl_entries]
    assert list(table["smiles"]) == [smiles for smiles, _ in chembl_entries]
    assert (library.n_valid, library.n_duplicates) == (1017, 0)
    standardizer = Standardizer()
    standardized = [standardizer.standardize(mol) for mol in chembl_mols]
    assert list(table["canonical_smiles"]) == [Chem.MolToSmiles(mol) for mol in standardized]
    assert list(table["inchikey"]) == [Chem.MolToInchiKey(mol) for mol in standardized]
    for row in (0, 500, 1016):
        expected = compute_properties(standardized[row])
        assert {name: table.loc[row, name] for name in PROPERTY_COLUMNS} == expected


def test_standardize_options_are_used(write_text):
    path = write_text("salt.smi", "CC(=O)[O-].[Na+] acetate\nc1ccccc1C(=O)O.Cl benzoic\n")
    default = load_library(path, LoadOptions(workers=1))
    assert list(default.table["canonical_smiles"]) == ["CC(=O)O", "O=C(O)c1ccccc1"]
    kept = load_library(path, LoadOptions(standardize=StandardizeOptions(largest_fragment=False)))
    assert list(kept.table["canonical_smiles"]) == ["CC(=O)[O-].[Na+]", "Cl.O=C(O)c1ccccc1"]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("name", "text"), [("big.smi", "{}\n"), ("big.csv", "smiles\n{}\n")])
def test_ten_megabyte_line_gives_one_invalid_row(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text.format("C" * 10_000_000))
    library = load_library(path)
    assert library.n_records == 1
    assert list(library.table["error"]) == [
        "SMILES too long (10,000,000 characters; the limit is 10,000)"
    ]
    assert list(library.table["valid"]) == [False]


def test_unreadable_file_raises_before_work(tmp_path):
    with pytest.raises(LibraryReadError, match="no such file"):
        load_library(tmp_path / "missing.sdf", LoadOptions(workers=2))
    assert_no_children()


# ----------------------------------------------------------------------------------------------
# Per-record parsing


def test_parse_record_reasons():
    assert parse_record(RawRecord(0, "a", "CCO"))[1] == ""
    assert parse_record(RawRecord(0, "a", "CCO", error="kept reason")) == (None, "kept reason")
    assert parse_record(RawRecord(0, "a", "C1CC")) == (None, "invalid SMILES: syntax error")
    empty = Chem.MolToMolBlock(Chem.Mol())
    assert parse_record(RawRecord(0, "a", empty, kind="molblock")) == (
        None,
        "empty molecule (no atoms)",
    )
    garbage = "x\n\n\n 99 99  0  0  0  0  0  0  0  0999 V2000\nM  END\n"
    assert parse_record(RawRecord(0, "a", garbage, kind="molblock")) == (
        None,
        "broken SDF record: RDKit cannot read the molblock",
    )


def test_process_records_columns():
    result = process_records([RawRecord(5, "a", "CCO"), RawRecord(6, "b", "C1CC")])
    assert list(result) == ["index", *LIBRARY_COLUMNS, "extra"]
    assert result["index"] == [5, 6]
    assert result["valid"] == [True, False]
    assert math.isnan(result["mw"][1])


# ----------------------------------------------------------------------------------------------
# SDF and table inputs


def _sdf_block(smiles: str, name: str, tags: dict[str, str]) -> str:
    mol = Chem.MolFromSmiles(smiles)
    mol.SetProp("_Name", name)
    text = Chem.MolToMolBlock(mol)
    for key, value in tags.items():
        text += f">  <{key}>\n{value}\n\n"
    return text + "$$$$\n"


def test_sdf_broken_record_between_good_ones(tmp_path):
    path = tmp_path / "b.sdf"
    path.write_text(
        _sdf_block("CCO", "first", {"pIC50": "5.5", "mw": "46"})
        + "broken\nno atoms block here\n$$$$\n"
        + "x\n\n\n 99 99  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\n"
        + _sdf_block("c1ccccc1", "last", {"pIC50": "6", "mw": "78"})
    )
    library = load_library(path)
    table = library.table
    assert list(table["name"]) == ["first", "broken", "x", "last"]
    assert list(table["valid"]) == [True, False, False, True]
    assert list(table["error"]) == [
        "",
        "broken SDF record: no 'M  END' line",
        "broken SDF record: RDKit cannot read the molblock",
        "",
    ]
    assert list(table["canonical_smiles"]) == ["CCO", "", "", "c1ccccc1"]
    # Structures read from SDF have no input SMILES.
    assert list(table["smiles"]) == ["", "", "", ""]
    assert library.extra_columns == ["pIC50", "mw (input)"]
    assert table["pIC50"].tolist()[0] == 5.5 and table["pIC50"].tolist()[3] == 6.0
    assert table["pIC50"].isna().tolist() == [False, True, True, False]
    assert table["mw (input)"].dtype == np.float64


def test_sdf_with_explicit_hydrogens(tmp_path):
    mol = Chem.AddHs(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    mol.SetProp("_Name", "aspirin")
    path = tmp_path / "h.sdf"
    path.write_text(Chem.MolToMolBlock(mol) + "$$$$\n")
    table = load_library(path).table
    assert list(table["canonical_smiles"]) == ["CC(=O)Oc1ccccc1C(=O)O"]
    assert (
        table.loc[0, "mw"] == compute_properties(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))["mw"]
    )


def test_csv_extra_columns(write_text):
    path = write_text(
        "extra.csv",
        "id,smiles,pIC50,mw,series,valid,assay\n"
        "A,CCO,5.5,46.1,alpha,yes,12\n"
        "B,c1ccccc1,-1.25,78,beta,no,\n"
        "C,C1CC,7,,gamma,yes,n/a\n",
    )
    library = load_library(path)
    table = library.table
    assert library.extra_columns == ["pIC50", "mw (input)", "series", "valid (input)", "assay"]
    assert list(table.columns) == [
        *LIBRARY_COLUMNS,
        DUPLICATE_COLUMN,
        "pIC50",
        "mw (input)",
        "series",
        "valid (input)",
        "assay",
    ]
    assert table["pIC50"].dtype == np.float64
    assert table["pIC50"].tolist() == [5.5, -1.25, 7.0]
    assert table["mw (input)"].dtype == np.float64
    assert table["mw (input)"].tolist()[:2] == [46.1, 78.0]
    assert math.isnan(table["mw (input)"].tolist()[2])
    assert table["series"].tolist() == ["alpha", "beta", "gamma"]
    assert table["valid (input)"].tolist() == ["yes", "no", "yes"]
    # One value is not a number: the column stays text, as written.
    assert table["assay"].tolist() == ["12", "", "n/a"]
    # The library's own columns are untouched.
    assert table["valid"].tolist() == [True, True, False]
    assert table["name"].tolist() == ["A", "B", "C"]


def test_extra_column_clashing_twice(write_text):
    path = write_text("clash.csv", "smiles,error,error (input)\nCCO,x,y\n")
    library = load_library(path)
    assert library.extra_columns == ["error (input)", "error (input) (input)"]
    assert library.table.loc[0, "error"] == ""
    assert library.table.loc[0, "error (input)"] == "x"
    assert library.table.loc[0, "error (input) (input)"] == "y"


# ----------------------------------------------------------------------------------------------
# Worker processes, cancel and progress


@pytest.fixture(scope="module")
def big_smi(tmp_path_factory, chembl_entries):
    """About 2,500 records (the CHEMBL set repeated), enough for the worker-process path."""
    n = 2_500
    assert n >= PARALLEL_THRESHOLD
    lines = []
    for i in range(n):
        smiles, name = chembl_entries[i % len(chembl_entries)]
        lines.append(f"{smiles} {name}_{i // len(chembl_entries)}\n")
    path = tmp_path_factory.mktemp("big") / "big.smi"
    path.write_text("".join(lines))
    return path


@pytest.fixture(scope="module")
def big_serial(big_smi):
    return load_library(big_smi, LoadOptions(workers=1))


@pytest.mark.timeout(120)
def test_worker_processes_give_the_same_table(big_smi, big_serial, monkeypatch):
    pool_runs = []
    original = library_module._run_in_pool

    def spy(tasks, workers, is_cancelled):
        pool_runs.append(workers)
        yield from original(tasks, workers, is_cancelled)

    monkeypatch.setattr(library_module, "_run_in_pool", spy)
    fractions: list[float] = []
    parallel = load_library(
        big_smi, LoadOptions(workers=2), progress=lambda f, m="": fractions.append(f)
    )
    assert pool_runs == [2]
    assert_no_children()
    pd.testing.assert_frame_equal(parallel.table, big_serial.table)
    assert parallel.n_records == 2_500
    assert parallel.n_valid == 2_500
    # The set has 1017 distinct InChIKeys; every record of the repeats duplicates the first copy.
    assert parallel.n_duplicates == 2_500 - 1017
    assert parallel.table.loc[1017, DUPLICATE_COLUMN] == parallel.table.loc[0, "name"]
    assert_progress(fractions)


# A describe function that kills its worker process on records named "crash...", as a
# segmentation fault in RDKit would; written to a module that the spawned workers can import.
CRASHING_DESCRIBE = """
import os
import core.chem.library as library

def describe(task):
    records, options = task
    if any(record.name.startswith("crash") for record in records):
        os._exit(139)
    return library.process_records(records, options)

def die(task):
    os._exit(137)  # as the out-of-memory killer ends a new process
"""


@pytest.fixture
def crashing_describe(tmp_path, monkeypatch):
    (tmp_path / "crashing_describe.py").write_text(CRASHING_DESCRIBE)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers get the parent's sys.path
    import crashing_describe

    monkeypatch.setattr(library_module, "_process_task", crashing_describe.describe)
    monkeypatch.setattr(library_module, "PARALLEL_THRESHOLD", 50)
    monkeypatch.setattr(library_module, "TASK_SIZE", 8)  # 3 halvings to find a record
    yield crashing_describe
    sys.modules.pop("crashing_describe", None)


@pytest.mark.timeout(180)
def test_a_record_that_crashes_its_worker_becomes_an_invalid_row(
    write_text, chembl_entries, crashing_describe
):
    lines = [f"{smiles} m{i}" for i, (smiles, _) in enumerate(chembl_entries[:120])]
    lines[37] = "CCO crash_early"
    lines[101] = "c1ccccc1O crash_late"
    path = write_text("crashing.smi", "\n".join(lines) + "\n")
    messages: list[str] = []
    loaded = load_library(path, LoadOptions(workers=2), progress=lambda f, m="": messages.append(m))
    assert_no_children()
    assert any("finding the record that did it" in m for m in messages)
    table = loaded.table
    assert loaded.n_records == 120
    crashed = table[table["error"] == CRASHED_RECORD_ERROR]
    assert list(crashed.index) == [37, 101]
    assert list(crashed["name"]) == ["crash_early", "crash_late"]
    assert not crashed["valid"].any() and crashed["canonical_smiles"].eq("").all()
    # Every other row is described exactly as without workers, in file order.
    serial = load_library(path, LoadOptions(workers=1)).table
    others = table.drop(index=[37, 101])
    expected = serial.drop(index=[37, 101])
    pd.testing.assert_frame_equal(others, expected)


@pytest.mark.timeout(180)
def test_too_many_crashing_records_stop_the_load(
    write_text, chembl_entries, crashing_describe, monkeypatch
):
    monkeypatch.setattr(library_module, "MAX_CRASHED_RECORDS", 2)
    lines = [f"{smiles} m{i}" for i, (smiles, _) in enumerate(chembl_entries[:80])]
    for i in (5, 30, 60):
        lines[i] = f"CCO crash_{i}"
    path = write_text("crashing.smi", "\n".join(lines) + "\n")
    with pytest.raises(WorkerCrashed, match="more than 2 records crashed"):
        load_library(path, LoadOptions(workers=2))
    assert_no_children()


@pytest.mark.timeout(120)
def test_workers_that_cannot_start_stop_the_load_at_once(
    write_text, chembl_entries, crashing_describe, monkeypatch
):
    monkeypatch.setattr(library_module, "_process_task", crashing_describe.die)
    lines = [f"{smiles} m{i}" for i, (smiles, _) in enumerate(chembl_entries[:80])]
    path = write_text("any.smi", "\n".join(lines) + "\n")
    started = time.monotonic()
    with pytest.raises(WorkerCrashed, match="end before describing anything"):
        load_library(path, LoadOptions(workers=2))
    assert time.monotonic() - started < 30  # not every record of the first tasks tried alone
    assert_no_children()


def assert_progress(fractions: list[float]) -> None:
    assert fractions[0] == 0.0
    assert fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert all(b >= a for a, b in itertools.pairwise(fractions)), fractions
    assert len(fractions) >= 4


def test_progress_on_an_xlsx_without_estimate(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["smiles"])
    for _ in range(30):
        workbook.active.append(["CCO"])
    workbook.save(tmp_path / "a.xlsx")
    fractions: list[float] = []
    load_library(tmp_path / "a.xlsx", progress=lambda f, m="": fractions.append(f))
    assert_progress(fractions)


@pytest.mark.timeout(60)
def test_cancel_serial_path_is_prompt(write_text):
    path = write_text("peptides.smi", "".join(f"{CYCLIC_PEPTIDE} p{i}\n" for i in range(520)))
    cancel = CancelLater(delay=0.1)
    with pytest.raises(JobCancelled):
        try:
            load_library(
                path, LoadOptions(workers=1), progress=cancel.progress, is_cancelled=cancel
            )
        finally:
            raised_at = time.monotonic()
    assert cancel.turned_true_at is not None
    assert cancel.fractions[-1] < 1.0  # stopped before the end: functional
    # Under 1 s on an idle machine; 10x for a busy 2-core CI runner (not a timing test).
    assert raised_at - cancel.turned_true_at < 10.0


@pytest.mark.timeout(60)
def test_cancel_worker_path_is_prompt(big_smi):
    cancel = CancelLater(delay=0.1)
    with pytest.raises(JobCancelled):
        try:
            load_library(
                big_smi, LoadOptions(workers=2), progress=cancel.progress, is_cancelled=cancel
            )
        finally:
            raised_at = time.monotonic()
    assert cancel.fractions[-1] < 1.0  # stopped before the end: functional
    # Under 1 s on an idle machine; 10x for a busy 2-core CI runner (not a timing test).
    assert raised_at - cancel.turned_true_at < 10.0
    assert_no_children()


@pytest.mark.timeout(60)
def test_cancel_while_workers_start(big_smi):
    fractions: list[float] = []
    event = threading.Event()
    timer = threading.Timer(0.3, event.set)
    started = time.monotonic()
    timer.start()
    try:
        with pytest.raises(JobCancelled):
            try:
                load_library(
                    big_smi,
                    LoadOptions(workers=2),
                    progress=lambda f, m="": fractions.append(f),
                    is_cancelled=event.is_set,
                )
            finally:
                raised_at = time.monotonic()
    finally:
        timer.cancel()
    assert not fractions or fractions[-1] < 1.0  # functional: the load did not run to the end
    # Under 1 s on an idle machine; 10x for a busy 2-core CI runner (not a timing test).
    assert raised_at - (started + 0.3) < 10.0
    assert_no_children()


def test_cancel_before_start(chembl_path):
    with pytest.raises(JobCancelled):
        load_library(chembl_path, LoadOptions(workers=1), is_cancelled=lambda: True)


def test_chunk_size_does_not_change_the_table(write_text):
    path = write_text("mixed.smi", MIXED_SMI)
    small = load_library(path, LoadOptions(read=ReadOptions(chunk_size=2), workers=1))
    large = load_library(path, LoadOptions(workers=1))
    pd.testing.assert_frame_equal(small.table, large.table)


def test_large_files_give_previews_of_their_first_rows(write_text, monkeypatch):
    import core.chem.library as library_module
    from core.chem.library import LoadOptions, load_library

    smiles = [f"C{'C' * (i % 30)}O" for i in range(70)] + ["not a smiles"]
    path = write_text("big.smi", "".join(f"{s} m{i}\n" for i, s in enumerate(smiles)))
    monkeypatch.setattr(library_module, "PREVIEW_MIN_RECORDS", 50)
    monkeypatch.setattr(library_module, "PREVIEW_FIRST", 8)
    monkeypatch.setattr(library_module, "PREVIEW_MAX", 40)
    previews = []
    library = load_library(path, LoadOptions(workers=1), on_preview=previews.append)
    sizes = [len(p.table) for p in previews]
    # At 8 rows, then each doubling up to the cap; never the whole file.
    assert sizes == [8, 16, 32]
    full = library.table
    for preview in previews:
        n = len(preview.table)
        assert preview.table["canonical_smiles"].tolist() == full["canonical_smiles"][:n].tolist()
        # Duplicates are marked among the preview's rows as in the full table's first rows.
        assert preview.table["duplicate_of"].tolist() == full["duplicate_of"][:n].tolist()
    assert len(full) == len(smiles)
    # Small files (and callers without a callback) get none.
    monkeypatch.setattr(library_module, "PREVIEW_MIN_RECORDS", 10_000)
    previews.clear()
    load_library(path, LoadOptions(workers=1), on_preview=previews.append)
    assert previews == []


def test_assembly_in_chunks_gives_the_same_table(write_text, monkeypatch):
    import core.chem.library as library_module

    path = write_text("mixed.smi", MIXED_SMI)
    whole = load_library(path, LoadOptions(workers=1)).table
    monkeypatch.setattr(library_module, "_ASSEMBLY_CHUNK", 3)  # several chunks per column
    chunked = load_library(path, LoadOptions(workers=1)).table
    pd.testing.assert_frame_equal(chunked, whole)
    assert str(whole["hbd"].dtype) == "Int64" and whole["valid"].dtype == bool

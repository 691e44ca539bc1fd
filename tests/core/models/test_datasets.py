"""Assay tables: read, validated with clear messages, invalid SMILES counted, content hashed."""

from __future__ import annotations

import numpy as np
import pytest

from core.models.datasets import load_assay_table

GOOD = [
    "CCO", "CCN", "CCC", "c1ccccc1", "c1ccncc1", "CC(=O)O", "CCCl", "CCBr", "C1CCCCC1", "CCOC",
    "CC(C)O", "CCCN", "OCCO", "NCCN", "CC#N", "CS", "CCS", "c1ccoc1", "c1ccsc1", "CC(C)(C)O",
]  # fmt: skip


def _csv(rows: list[tuple[str, ...]], header: str = "smiles,active,pic50") -> str:
    return header + "\n" + "\n".join(",".join(r) for r in rows) + "\n"


def test_reads_csv_and_drops_invalid_smiles_with_reasons(write_text):
    rows = [(s, str(i % 2), f"{5 + i / 10:.1f}") for i, s in enumerate(GOOD)]
    rows.insert(3, ("C1CC", "1", "6.0"))  # unclosed ring
    rows.insert(7, ("not_a_smiles", "0", "5.0"))
    path = write_text("assay.csv", _csv(rows))
    data = load_assay_table(path, "smiles", ["active", "pic50"], "regression")
    assert len(data) == 20 and data.targets.shape == (20, 2)
    assert data.smiles_column == "smiles"
    assert load_assay_table(path, None, ["pic50"], "regression").smiles_column == "smiles"
    assert data.smiles == tuple(GOOD)
    assert [(d.row, d.reason) for d in data.dropped] == [
        (3, "RDKit cannot parse the SMILES"),
        (7, "RDKit cannot parse the SMILES"),
    ]
    assert "2 of 22 rows dropped" in data.summary()
    assert len(data.data_hash) == 64
    # The hash depends on content, not on how the SMILES are written.
    rewritten = [("OCC" if r[0] == "CCO" else r[0], *r[1:]) for r in rows]
    again = load_assay_table(
        write_text("b.csv", _csv(rewritten)), "smiles", ["active", "pic50"], "regression"
    )
    assert again.data_hash == data.data_hash
    changed = load_assay_table(path, "smiles", ["pic50"], "regression")
    assert changed.data_hash != data.data_hash


def test_classification_maps_two_values_and_says_so(write_text):
    rows = [
        (s, "active" if i % 2 else "inactive", str(10 * (i % 2) + 5)) for i, s in enumerate(GOOD)
    ]
    path = write_text("a.tsv", _csv(rows).replace(",", "\t"))
    data = load_assay_table(path, "smiles", ["active", "pic50"], "classification")
    assert data.targets[:, 0].tolist() == [float(i % 2) for i in range(20)]
    assert data.targets[:, 1].tolist() == [float(i % 2) for i in range(20)]
    assert any("5 and 15 mapped to 0 and 1" in note for note in data.notes)
    assert any("active=1" in note and "inactive=0" in note for note in data.notes)


def test_missing_cells_are_nan_and_empty_rows_dropped(write_text):
    rows = [(s, str(i % 2), "" if i < 5 else "6.1") for i, s in enumerate(GOOD)]
    rows.append(("CCCCO", "", ""))
    data = load_assay_table(
        write_text("a.csv", _csv(rows)),
        "smiles",
        ["active", "pic50"],
        "regression",
    )
    assert np.isnan(data.targets[:5, 1]).all() and not np.isnan(data.targets[5:, 1]).any()
    assert [d.reason for d in data.dropped] == ["no target value"]


@pytest.mark.parametrize(
    ("rows", "targets", "task", "message"),
    [
        (
            [(s, "1", "5") for s in GOOD],
            ["IC50"],
            "regression",
            r"no column 'IC50'\. Columns: active, pic50",
        ),
        (
            [(s, "1", "n.d." if i % 4 == 0 else "5") for i, s in enumerate(GOOD)],
            ["pic50"],
            "regression",
            r"5 values are not numbers, e\.g\. 'n\.d\.'",
        ),
        ([(s, "1", "5") for s in GOOD], ["active"], "classification", r"only one class \(1\)"),
        (
            [(s, str(i % 3), "5") for i, s in enumerate(GOOD)],
            ["active"],
            "classification",
            "found 3 distinct values",
        ),
        (
            [(s, str(i % 2), "5") for i, s in enumerate(GOOD[:8])],
            ["active"],
            "classification",
            "8 usable molecules, at least 20",
        ),
        ([(s, "1", "5") for s in GOOD], ["active"], "ranking", "task must be"),
    ],
)
def test_bad_input_messages(write_text, rows, targets, task, message):
    path = write_text("bad.csv", _csv(rows))
    with pytest.raises(ValueError, match=message):
        load_assay_table(path, "smiles", targets, task)


def test_missing_smiles_column_lists_columns(write_text):
    path = write_text("bad.csv", _csv([(s, "1", "5") for s in GOOD]))
    with pytest.raises(ValueError, match=r"no column 'structure'.*Columns: smiles, active, pic50"):
        load_assay_table(path, "structure", ["active"], "regression")


def test_reads_sdf_structures_and_tags(tmp_path):
    from rdkit import Chem

    path = tmp_path / "a.sdf"
    writer = Chem.SDWriter(str(path))
    for i, smiles in enumerate(GOOD):
        mol = Chem.MolFromSmiles(smiles)
        mol.SetProp("logS", f"{-i / 3:.2f}")
        writer.write(mol)
    writer.close()
    data = load_assay_table(path, None, ["logS"], "regression")
    assert len(data) == 20
    assert data.smiles[3] == Chem.MolToSmiles(Chem.MolFromSmiles(GOOD[3]))
    assert data.targets[3, 0] == pytest.approx(-1.0)


def test_freewilson_activities(tmp_path, chembl_entries):
    """RDKit's CHEMBL set: SMILES joined with their measured potency, as a chemist would export it."""
    import csv

    import rdkit

    act = {}
    act_path = rdkit.__path__[0] + "/Contrib/FreeWilson/data/CHEMBL2321810_act.csv"
    with open(act_path, encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            act[row["Name"]] = row["Act"]
    path = tmp_path / "chembl.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "SMILES", "Act"])
        for smiles, name in chembl_entries:
            writer.writerow([name, smiles, act.get(name, "")])
    data = load_assay_table(path, "SMILES", ["Act"], "regression")
    assert len(data) + len(data.dropped) == len(chembl_entries)
    assert np.nanmin(data.targets) > 4.0 and np.nanmax(data.targets) < 9.5


# ------------------------------------------------------------------------------------------------
# Assay values as chemists have them: censored, in units, measured more than once


def _assay(write_text, cells: list[str], header: str = "smiles,IC50", name: str = "ic50.csv"):
    """A table of GOOD's molecules, one cell (or comma-joined cells) each."""
    lines = [f"{s},{c}" for s, c in zip(GOOD, cells, strict=False)]
    return write_text(name, header + "\n" + "\n".join(lines) + "\n")


def test_concentrations_become_pxc50_and_censored_values_are_left_out(write_text):
    cells = ["5 nM", ">10 µM", "<1 nM", "1 uM", "0.1 µM", "1e-7 M", "> 10000 nM"] + ["50 nM"] * 13
    path = _assay(write_text, cells)
    data = load_assay_table(path, "smiles", ["IC50"], "regression", min_molecules=5)
    record = data.record
    assert data.target_names == ("pIC50",)  # the trained values are p-values: named so
    assert data.smiles[0] == "CCO" and data.targets[0, 0] == pytest.approx(8.30, abs=0.005)
    assert data.targets[1:4, 0] == pytest.approx([6.0, 7.0, 7.0])  # rows 3, 4, 5 of the file
    assert data.rows[:4] == (0, 3, 4, 5)
    # Censored: kept aside, in p units with the bound turned round (>10 µM is pXC50 < 5).
    assert [(c.row, c.qualifier, round(c.value, 2), c.text) for c in record.censored] == [
        (1, "<", 5.0, ">10 µM"),
        (2, ">", 9.0, "<1 nM"),
        (6, "<", 5.0, "> 10000 nM"),
    ]
    assert [d.reason for d in data.dropped] == ["censored value only (left out)"] * 3
    assert len(data) == 17 and record.molecules == 17 and record.rows_read == 20
    (target,) = record.targets
    assert (target.exact, target.censored_above, target.censored_below) == (17, 1, 2)
    assert target.converted == 20 and target.units == "mixed"
    assert dict(target.unit_counts) == {"nM": 16, "uM": 3, "M": 1}
    assert record.dropped == (("censored value only (left out)", 3),)
    text = record.text()
    assert "'IC50' -> 'pIC50'" in text and "converted to pXC50" in text
    assert "Censored values: 3 (1 '>', 2 '<'" in text and "left out of training and metrics" in text
    assert "3 censored values (>, <) left out" in data.summary()


def test_replicates_are_merged_with_their_spread(write_text):
    cells = [f"{5 + i / 10:.1f}" for i in range(20)]
    table = list(zip(GOOD, cells, strict=True))
    # Ethanol measured twice (7.0, then 7.4 written as OCC), benzene twice (5.3, 9.0).
    table[0] = ("CCO", "7.0")
    table += [("OCC", "7.4"), ("c1ccccc1", "9.0")]
    path = write_text("p.csv", "smiles,pIC50\n" + "\n".join(f"{s},{v}" for s, v in table) + "\n")
    data = load_assay_table(path, "smiles", ["pIC50"], "regression")
    assert len(data) == 20 and data.record.replicate_rows_merged == 2
    assert data.targets[0, 0] == pytest.approx(7.2)
    assert data.targets[3, 0] == pytest.approx((5.3 + 9.0) / 2)
    ethanol, benzene = data.record.replicates
    assert (ethanol.smiles, ethanol.rows, ethanol.n) == ("CCO", (0, 20), 2)
    assert ethanol.sd == pytest.approx(0.28, abs=0.005) and not ethanol.disagree
    assert ethanol.inchikey == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"
    assert benzene.disagree and benzene.values == (5.3, 9.0)
    (warning,) = data.record.warnings
    assert "1 molecule with replicates of 'pIC50'" in warning and "5.30, 9.00" in warning
    assert "more than 1 log unit" in warning
    text = data.record.text()
    assert "2 molecules measured more than once (n 2)" in text and "SD median" in text
    assert "2 replicate rows merged into 2 molecules" in data.summary()
    # Unmerged, every row stays (for data hashed before merging).
    kept = load_assay_table(path, "smiles", ["pIC50"], "regression", merge_replicates=False)
    assert len(kept) == 22 and kept.record.replicates == ()


def test_p_values_are_untouched(write_text):
    values = [f"{4 + i / 4:.2f}" for i in range(20)]
    path = _assay(write_text, values, header="smiles,pKi")
    data = load_assay_table(path, "smiles", ["pKi"], "regression")
    assert data.target_names == ("pKi",)
    assert data.targets[:, 0].tolist() == [float(v) for v in values]
    (target,) = data.record.targets
    assert target.units == "p" and target.converted == 0
    assert "p-values, used as they are (a p-value by its column name)" in data.record.text()
    # A column without any hint is used as given, whatever the caller's units "auto" guessed.
    plain = load_assay_table(_assay(write_text, values, "smiles,Act"), None, ["Act"], "regression")
    assert plain.targets[:, 0].tolist() == [float(v) for v in values]
    assert plain.record.targets[0].units == "as given" and plain.record.warnings == ()


def test_units_said_by_the_caller_a_unit_column_or_the_name(write_text):
    bare = [f"{10 ** (i % 4)}" for i in range(20)]  # 1, 10, 100, 1000
    expected = [9.0, 8.0, 7.0, 6.0] * 5
    path = _assay(write_text, bare)
    # "IC50" is a concentration, but in what unit? Refused rather than guessed.
    with pytest.raises(ValueError, match=r"'IC50' looks like a concentration but no unit"):
        load_assay_table(path, "smiles", ["IC50"], "regression")
    said = load_assay_table(path, "smiles", ["IC50"], "regression", units="nM")
    assert said.targets[:, 0] == pytest.approx(expected)
    assert said.record.targets[0].unit_source == "as chosen"
    named = load_assay_table(
        _assay(write_text, bare, "smiles,IC50 (nM)"), "smiles", ["IC50 (nM)"], "regression"
    )
    assert named.targets[:, 0] == pytest.approx(expected) and named.target_names == ("pIC50",)
    assert named.record.targets[0].unit_source == "unit from the column name"
    # One column of numbers, the units beside it, mixed (ChEMBL's Standard Value/Units/Relation).
    units = ["nM", "uM"] * 10
    relation = ["'='"] * 19 + ["'>'"]
    lines = [f"{u},{r}" for u, r in zip(units, relation, strict=True)]
    cells = [f"{v},{extra}" for v, extra in zip(bare, lines, strict=True)]
    chembl = _assay(write_text, cells, "smiles,Standard Value,Standard Units,Standard Relation")
    data = load_assay_table(chembl, "smiles", ["Standard Value"], "regression", min_molecules=5)
    assert data.target_names == ("Standard Value (pXC50)",)
    assert data.targets[:4, 0] == pytest.approx([9.0, 5.0, 7.0, 3.0])
    assert data.record.targets[0].unit_source == "unit column 'Standard Units'"
    assert dict(data.record.targets[0].unit_counts) == {"nM": 10, "uM": 10}
    assert [(c.row, c.qualifier) for c in data.record.censored] == [(19, "<")]
    assert any("column 'Standard Relation'" in note for note in data.notes)


def test_mixed_units_without_a_fallback_are_refused_and_strange_units_dropped(write_text):
    cells = ["10 nM" if i % 2 else "10" for i in range(20)]
    with pytest.raises(ValueError, match=r"10 values carry a unit \(e\.g\. '10 nM'\) and 10 do"):
        load_assay_table(
            _assay(write_text, cells, "smiles,value"), "smiles", ["value"], "regression"
        )
    # The bare ones said to be µM: each value in its own unit.
    data = load_assay_table(
        _assay(write_text, cells, "smiles,value"), "smiles", ["value"], "regression", units="uM"
    )
    assert data.targets[:2, 0] == pytest.approx([5.0, 8.0])
    # A unit that is no concentration: the row is dropped, saying why.
    cells = ["5 ug/mL"] + ["10 nM"] * 19
    data = load_assay_table(
        _assay(write_text, cells), "smiles", ["IC50"], "regression", min_molecules=5
    )
    assert [(d.row, d.reason) for d in data.dropped] == [
        (0, "unit 'ug/mL' is no concentration DrugDesk converts")
    ]
    assert data.record.targets[0].unusable == 1


def test_numbers_said_to_be_p_values_that_cannot_be_are_refused(write_text):
    path = _assay(write_text, [str(100 * (i + 1)) for i in range(20)], "smiles,pIC50")
    with pytest.raises(ValueError, match=r"cannot be p-values; say their concentration unit"):
        load_assay_table(path, "smiles", ["pIC50"], "regression")
    with pytest.raises(ValueError, match="cannot be p-values"):
        load_assay_table(path, "smiles", ["pIC50"], "regression", units="p")


def test_classification_replicates_take_the_majority_and_ties_are_left_out(write_text):
    labels = [str(i % 2) for i in range(20)]
    table = list(zip(GOOD, labels, strict=True))
    table += [("OCC", "1"), ("OCC", "1"), ("NCC", "0")]  # ethanol 0,1,1 -> 1; ethylamine 1,0 tie
    path = write_text("c.csv", "smiles,active\n" + "\n".join(f"{s},{v}" for s, v in table) + "\n")
    data = load_assay_table(path, "smiles", ["active"], "classification", min_molecules=5)
    assert len(data) == 19 and data.targets[0, 0] == 1.0
    assert "CCN" not in data.smiles
    assert [d.reason for d in data.dropped] == ["replicate classes tie"] * 2
    assert {g.smiles: g.values for g in data.record.replicates} == {
        "CCO": (0.0, 1.0, 1.0),
        "CCN": (1.0, 0.0),
    }
    assert "2 molecules with replicates of 'active' in both classes" in data.record.warnings[0]


def test_preview_says_what_training_would_do_without_raising(write_text):
    from core.models.datasets import preview_assay

    path = _assay(write_text, ["5 nM"] * 8 + [">10 µM"] * 12)
    record = preview_assay(path, "smiles", ["IC50"], "regression")
    assert record.problem == (
        "ic50.csv: 8 usable molecules, at least 20 needed (20 rows read, 12 dropped)"
    )
    assert record.text().startswith("Cannot train: ic50.csv: 8 usable molecules")
    assert record.n_censored == 12 and record.molecules == 8
    bad = preview_assay(path, "smiles", ["Ki"], "regression")
    assert bad.problem.startswith("ic50.csv: no column 'Ki'") and bad.molecules == 0


def test_assay_columns_count_censored_and_unit_cells_as_numbers(write_text):
    from core.models.datasets import assay_columns

    path = _assay(write_text, [">10 µM", "5 nM", "7.2"] * 6 + ["", "n.d."])
    assert "IC50" not in assay_columns(path).numeric_columns  # "n.d." is no number
    path = _assay(write_text, [">10 µM", "5 nM", "7.2"] * 6 + ["", "<3"], name="b.csv")
    assert assay_columns(path).numeric_columns == ("IC50",)

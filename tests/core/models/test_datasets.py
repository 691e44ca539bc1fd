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

"""``drugdesk predict`` says where each molecule lies relative to the model's training molecules:
``nearest_train_similarity`` and ``in_domain`` (one pair, whatever the number of targets), empty
when the model stores no domain, and a malformed stored domain refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from app.cli import main
from core.models.domain import FINGERPRINTS_FILE, load_domain, unpack_fingerprints

ROOT = Path(__file__).resolve().parents[2]
POTENCY = ROOT / "resources" / "models" / "potency-chembl2321810"
RDKIT_DATA = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data"

DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "bortezomib": "CC(C)C[C@@H](NC(=O)[C@H](Cc1ccccc1)NC(=O)c1cnccn1)B(O)O",
    "broken": "C1CC",
}


def _input(tmp_path: Path) -> tuple[Path, list[str]]:
    """Three series members from RDKit's CHEMBL2321810 file, three drugs, one broken SMILES,
    and a column that already has the name of an added one."""
    series = pd.read_csv(
        RDKIT_DATA / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    ).iloc[[0, 400, 800]]
    smiles = [*series["smiles"], *DRUGS.values()]
    names = [*series["Name"], *DRUGS]
    path = tmp_path / "input.csv"
    pd.DataFrame({"smiles": smiles, "name": names, "in_domain": "yes"}).to_csv(path, index=False)
    return path, smiles


def _rdkit_nearest(smiles: list[str], words: np.ndarray) -> list[float]:
    """RDKit's own BulkTanimotoSimilarity maximum against the stored training bits."""
    train = []
    for row in words.view(np.uint8):
        bits = np.unpackbits(row)
        fp = DataStructs.ExplicitBitVect(2048)
        fp.SetBitsFromList(np.flatnonzero(bits).tolist())
        train.append(fp)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return [
        max(
            DataStructs.BulkTanimotoSimilarity(
                generator.GetFingerprint(Chem.MolFromSmiles(s)), train
            )
        )
        for s in smiles
    ]


def test_predict_adds_nearest_training_similarity_and_in_domain(tmp_path, capsys):
    source, smiles = _input(tmp_path)
    output = tmp_path / "out.csv"
    assert main(["predict", str(POTENCY), str(source), "--output", str(output)]) == 0
    table = pd.read_csv(output)
    assert list(table.columns[-2:]) == ["nearest_train_similarity", "in_domain"]
    assert "in_domain (input)" in table.columns  # the input's own column kept, renamed
    domain = load_domain(POTENCY)
    readable = [s for s in smiles if s != "C1CC"]
    expected = _rdkit_nearest(readable, domain.words)
    np.testing.assert_allclose(
        table["nearest_train_similarity"][table["name"] != "broken"], expected, atol=1e-12
    )
    flags = table.set_index("name")["in_domain"]
    # The series' own molecules are in domain; the marketed drugs are not.
    assert flags.iloc[:3].tolist() == [True, True, True]
    assert flags[["aspirin", "caffeine", "bortezomib"]].tolist() == [False, False, False]
    broken = table[table["name"] == "broken"].iloc[0]
    assert pd.isna(broken["Act"]) and pd.isna(broken["nearest_train_similarity"])
    assert pd.isna(broken["in_domain"])
    err = capsys.readouterr().err
    assert "3 of 6 predicted molecules are outside the model's domain" in err


def test_a_model_without_a_stored_domain_predicts_with_the_domain_unknown(tmp_path, capsys):
    old = tmp_path / "old-model"
    shutil.copytree(POTENCY, old)
    card = json.loads((old / "card.json").read_text())
    del card["domain"]
    (old / "card.json").write_text(json.dumps(card))
    (old / FINGERPRINTS_FILE).unlink()
    source, _ = _input(tmp_path)
    output = tmp_path / "out.csv"
    assert main(["predict", str(old), str(source), "--output", str(output)]) == 0
    table = pd.read_csv(output)
    assert table["Act"].notna().sum() == 6
    assert table["nearest_train_similarity"].isna().all() and table["in_domain"].isna().all()
    assert "Applicability domain unknown" in capsys.readouterr().err


def test_a_malformed_stored_domain_is_refused(tmp_path, capsys):
    broken = tmp_path / "broken-model"
    shutil.copytree(POTENCY, broken)
    np.save(broken / FINGERPRINTS_FILE, np.zeros((5, 7)))
    source, _ = _input(tmp_path)
    output = tmp_path / "out.csv"
    assert main(["predict", str(broken), str(source), "--output", str(output)]) == 1
    assert "not packed ECFP4 fingerprints" in capsys.readouterr().err
    assert not output.exists()


@pytest.mark.usefixtures("one_torch_thread")
def test_several_targets_share_one_pair_of_domain_columns(pretrain_tiny, tmp_path):
    from core.models import transformer as tf
    from core.models.domain import fit_domain

    smiles = [
        "CCO",
        "CCN",
        "CCC",
        "CCCl",
        "c1ccccc1",
        "c1ccncc1",
        "CC(=O)O",
        "CCOC",
        "CCCO",
        "OCCO",
    ]
    targets = np.stack([[s.count("C") for s in smiles], [len(s) for s in smiles]], 1).astype(float)
    model = tmp_path / "two-targets"
    tf.finetune(
        pretrain_tiny(smiles),
        smiles,
        targets,
        "regression",
        np.arange(6),
        np.arange(6, 10),
        tf.FinetuneOptions(epochs=1, batch_size=4),
        target_names=["carbons", "length"],
        output_dir=model,
        device="cpu",
    )
    fit_domain(model, smiles, np.arange(6), np.arange(6, 10))
    source = tmp_path / "in.smi"
    source.write_text("CCO ethanol\nCC(=O)Nc1ccc(O)cc1 paracetamol\n")
    output = tmp_path / "out.csv"
    assert main(["predict", str(model), str(source), "--output", str(output)]) == 0
    table = pd.read_csv(output)
    added = [c for c in table.columns if c not in ("name", "smiles")]
    assert added == [
        "carbons",
        "carbons_lower",
        "carbons_upper",
        "length",
        "length_lower",
        "length_upper",
        "nearest_train_similarity",
        "in_domain",
    ]
    assert table["nearest_train_similarity"].iloc[0] == 1.0  # ethanol was trained on
    words, _ = unpack_fingerprints(np.load(model / FINGERPRINTS_FILE, allow_pickle=False))
    np.testing.assert_allclose(
        table["nearest_train_similarity"], _rdkit_nearest(table["smiles"].tolist(), words)
    )

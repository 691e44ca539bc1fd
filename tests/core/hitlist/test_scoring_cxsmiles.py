"""Records read as CXSMILES keep their extension in canonical_smiles (enhanced stereo, labels);
models and ADMET, trained on plain SMILES, are given the SMILES without it."""

from __future__ import annotations

import numpy as np

from core.chem.readers import strip_cxsmiles_extension
from core.hitlist.scoring import ScoreCache, _fill


def test_strip_cxsmiles_extension():
    assert strip_cxsmiles_extension("C[C@H](N)C(=O)O |&1:1|") == "C[C@H](N)C(=O)O"
    assert strip_cxsmiles_extension("[*:1]CC |$_R1;;$|") == "[*:1]CC"
    assert strip_cxsmiles_extension("CCO") == "CCO"
    assert strip_cxsmiles_extension("") == ""


def test_models_get_plain_smiles_and_the_cache_keeps_the_whole_text():
    seen: list[str] = []

    def compute(batch: list[str], _progress=None) -> np.ndarray:
        seen.extend(batch)
        return np.array([[float(len(text))] for text in batch])

    cache = ScoreCache()
    smiles = np.array(["C[C@H](N)C(=O)O |&1:1|", "CCO", ""], dtype=object)
    values, computed = _fill(smiles, "model", 1, compute, cache, "test", lambda *a: None, None)
    assert sorted(seen) == sorted(["C[C@H](N)C(=O)O", "CCO"])
    assert computed == 2
    assert values[0, 0] == len("C[C@H](N)C(=O)O") and values[1, 0] == 3
    assert np.isnan(values[2, 0])
    assert "C[C@H](N)C(=O)O |&1:1|" in cache.get("model")

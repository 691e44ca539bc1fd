"""core.chem.screen: necessary conditions that rule patterns out before they are matched."""

from __future__ import annotations

from rdkit import Chem

from core.chem.screen import PatternScreen, _element_conditions


def test_element_conditions_of_a_pattern():
    pattern = Chem.MolFromSmarts("[F,Cl,Br,I][#6;!$(c=O)][C&H1]c[N,n;!H0]")
    conditions = _element_conditions(pattern)
    # Three atoms can only be carbon; one only a halogen; one only nitrogen; none for "$(…)".
    assert conditions == {
        frozenset({6}): 3,
        frozenset({9, 17, 35, 53}): 1,
        frozenset({7}): 1,
    }
    assert _element_conditions(Chem.MolFromSmarts("[!#6]~[$(C=O)]")) == {}


def test_candidates_keep_every_pattern_that_matches():
    smarts = ["c1ccccc1", "[F,Cl,Br,I]", "C(=O)[OH]", "[#7]", "S", "[$(C=O)]", "[!#6]"]
    patterns = [Chem.MolFromSmarts(s) for s in smarts] + [None]
    screen = PatternScreen(patterns)
    assert len(screen) == len(patterns) and not screen.screened[-1]
    for smiles in ["CC(=O)Oc1ccccc1C(=O)O", "ClCCl", "CCN", "C", "OCCS", "c1ccncc1"]:
        mol = Chem.MolFromSmiles(smiles)
        candidates = set(screen.candidates(mol).tolist())
        matching = {i for i, p in enumerate(patterns[:-1]) if mol.HasSubstructMatch(p)}
        assert matching <= candidates, smiles  # never rules out a match
        assert len(patterns) - 1 in candidates  # an unscreenable pattern is always a candidate
    methane = screen.candidates(Chem.MolFromSmiles("C")).tolist()
    assert 0 not in methane and 1 not in methane and 4 not in methane  # no ring, halogen, S

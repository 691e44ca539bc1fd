"""core.chem.screen: necessary conditions that rule patterns out before they are matched."""

from __future__ import annotations

from rdkit import Chem

from core.chem.screen import PatternScreen, _element_conditions, recursive_smarts


def test_element_conditions_of_a_pattern():
    pattern = Chem.MolFromSmarts("[F,Cl,Br,I][#6;!$(c=O)][C&H1]c[N,n;!H0]")
    conditions = _element_conditions(pattern)
    # Three atoms can only be carbon; one only a halogen; one only nitrogen; none for "!$(…)".
    assert conditions == {
        frozenset({6}): 3,
        frozenset({9, 17, 35, 53}): 1,
        frozenset({7}): 1,
    }
    # A recursive SMARTS matches with its first atom on the atom: "[$(C=O)]" is a carbon.
    assert _element_conditions(Chem.MolFromSmarts("[!#6]~[$(C=O)]")) == {frozenset({6}): 1}
    assert _element_conditions(Chem.MolFromSmarts("[$([#44]),$([Rh])]")) == {frozenset({44, 45}): 1}
    assert _element_conditions(Chem.MolFromSmarts("[!$(C=O)]")) == {}
    assert _element_conditions(Chem.MolFromSmarts("[$(C=O),N]")) == {frozenset({6, 7}): 1}


def test_recursive_smarts_outermost_in_order():
    assert recursive_smarts("[C;$(C=O),$(C#N)]") == ["C=O", "C#N"]
    assert recursive_smarts("[$(a1aaa([$(N(=O)=O),$([N+](=O)[O-])])a1);!$(C-N)]") == [
        "a1aaa([$(N(=O)=O),$([N+](=O)[O-])])a1",
        "C-N",
    ]
    assert recursive_smarts("[C&H1]") == []


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


def test_recursive_patterns_screened_by_what_they_require():
    smarts = [
        "[$([#44]),$([#45])]",  # a metal: the first atoms' elements
        "[C&!R]([$(C#N),$(S(=O)=O)])=C",  # a nitrile or a sulfone on a vinyl carbon
        "[$(N(=O)=O)]c",  # a nitro group on an aromatic carbon
        "[!$(C=O)]",  # negated: nothing known
        "[C;$(C(F)F),$(CCl)]",  # a geminal difluoride or a chloride
    ]
    screen = PatternScreen([Chem.MolFromSmarts(s) for s in smarts])
    molecules = [
        "CCO",
        "C=C(C#N)C",
        "C=CS(C)(=O)=O",
        "O=[N+]([O-])c1ccccc1",
        "CC(F)(F)C",
        "CCCl",
        "[Rh]",
        "CC=C",
        "O=Cc1ccccc1",
    ]
    for smiles in molecules:
        mol = Chem.MolFromSmiles(smiles)
        candidates = set(screen.candidates(mol).tolist())
        matching = {i for i, s in enumerate(smarts) if mol.HasSubstructMatch(Chem.MolFromSmarts(s))}
        assert matching <= candidates, smiles
    assert screen.candidates(Chem.MolFromSmiles("CCO")).tolist() == [3]
    assert screen.candidates(Chem.MolFromSmiles("CC=C")).tolist() == [3]
    assert 1 in screen.candidates(Chem.MolFromSmiles("C=C(C#N)C"))
    assert 2 not in screen.candidates(Chem.MolFromSmiles("O=Cc1ccccc1"))  # no nitro
    assert 4 not in screen.candidates(Chem.MolFromSmiles("CCO"))  # no halogen


def test_double_and_triple_bonds_screened_by_their_ends():
    smarts = [
        "C#[C;!$(C-N)]",  # a carbon-carbon triple bond
        "[C&H2]=[C]C(=O)O",  # a vinyl group on an acid: C=C and C=O
        "[N,O]=[N,O]",  # N=N, N=O or O=O
        "C=O",
        "c:c",  # aromatic: no bond condition
    ]
    screen = PatternScreen([Chem.MolFromSmarts(s) for s in smarts])
    molecules = {
        "CC#CC": {0},
        "CC#N": set(),  # a triple bond, but not between carbons
        "C=CC(=O)O": {1, 3},
        "CC(=O)O": {3},  # C=O alone: no C=C
        "CN=NC": {2},
        "CC(=O)OC(=O)C": {3},
        "c1ccccc1": {4},
        "O=[N+]([O-])c1ccccc1": {2, 4},
        "C#CC=CC(=O)O": {0, 1, 3},
    }
    for smiles, expected in molecules.items():
        mol = Chem.MolFromSmiles(smiles)
        candidates = set(screen.candidates(mol).tolist())
        matching = {i for i, s in enumerate(smarts) if mol.HasSubstructMatch(Chem.MolFromSmarts(s))}
        assert matching <= candidates, smiles
        # Each pattern without its bonds is ruled out (fingerprints may rule out more).
        assert candidates <= expected | matching, smiles


def test_charged_pattern_atoms_need_charged_atoms():
    smarts = [
        "[o&+,O&+]",  # an oxonium: charged whichever element
        "[N,n;H0;+].[N,n;H0;+]",  # two quaternary nitrogens: two charged atoms
        "[!+0]",  # any charge
        "[$([N+]),$([O-])]C",  # charged through its recursive patterns
        "[N;+0]",  # uncharged: no condition
        "[N,+]",  # a nitrogen or a cation: no condition
        "[!$([N+])]",  # negated: no condition
    ]
    screen = PatternScreen([Chem.MolFromSmarts(s) for s in smarts])
    assert screen.charged_needed[: len(smarts)].tolist() == [1, 2, 1, 1, 0, 0, 0]
    molecules = {
        "CCOCC": {4, 5, 6},
        "CC[N+](C)(C)C": {2, 3, 4, 5, 6},
        "C[N+](C)(C)CC[N+](C)(C)C": {1, 2, 3, 4, 5, 6},
        "C[O+](C)C": {0, 2, 3, 5, 6},
    }
    for smiles, expected in molecules.items():
        mol = Chem.MolFromSmiles(smiles)
        candidates = set(screen.candidates(mol).tolist())
        matching = {i for i, s in enumerate(smarts) if mol.HasSubstructMatch(Chem.MolFromSmarts(s))}
        assert matching <= candidates, smiles
        assert candidates <= expected, smiles


def test_an_alternative_of_elements_or_a_recursive_pattern():
    # A halide, or a sulfonate ester through its recursive pattern: either a Cl/Br/I atom or
    # the sulfonate must be present (the atom's elements alone tell nothing: the O is common).
    smarts = ["[C&H2][Cl,Br,I,$(OS(=O)(=O)C)]", "[C&H2][Cl,$(O)]"]
    screen = PatternScreen([Chem.MolFromSmarts(s) for s in smarts])
    molecules = {
        "CCOC(=O)C": set(),  # oxygen, but neither a halide nor a sulfonate
        "CCCl": {0},
        "CCOS(=O)(=O)C": {0},
        "CCBr": {0},
    }
    for smiles, expected in molecules.items():
        mol = Chem.MolFromSmiles(smiles)
        candidates = set(screen.candidates(mol).tolist())
        matching = {i for i, s in enumerate(smarts) if mol.HasSubstructMatch(Chem.MolFromSmarts(s))}
        assert matching <= candidates, smiles
        assert candidates - {1} == expected, smiles  # "[Cl,$(O)]": any O will do


def test_single_bonds_between_heteroatoms_screened():
    smarts = ["[N&X3]-[N&X3]", "[O,S]-[O,S]", "C-N"]  # C-N: everywhere, no condition
    screen = PatternScreen([Chem.MolFromSmarts(s) for s in smarts])
    molecules = {
        "CNNC": {0, 2},
        "c1cn[nH]c1": set(),  # an aromatic N-N bond is no single bond
        "CC(=O)N=NC": {2},  # a double N=N bond either
        "COOC": {1},
        "CSSC": {1},
        "CS(=O)(=O)C": set(),
    }
    for smiles, expected in molecules.items():
        mol = Chem.MolFromSmiles(smiles)
        candidates = set(screen.candidates(mol).tolist())
        matching = {i for i, s in enumerate(smarts) if mol.HasSubstructMatch(Chem.MolFromSmarts(s))}
        assert matching <= candidates, smiles
        assert candidates - {2} <= expected, smiles

"""core.chem.atom_screen: each pattern atom with its neighbours, checked against a molecule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rdkit
from rdkit import Chem, RDLogger
from rdkit.Chem import rdMolDescriptors

from core.chem import screen as screen_module
from core.chem.atom_screen import (
    MAYBE,
    NO,
    YES,
    StarTables,
    atom_program,
    bond_program,
    invariant_hash,
    invariant_table,
    molecule_graph,
)
from core.chem.screen import PatternScreen

NCI_SMI = Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"

# Charges, isotopes, explicit hydrogens, metals, rings, radicals, dummy atoms.
VARIED = [
    "CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1",
    "C[N+](C)(C)CC(=O)[O-]",
    "[13CH3]C(=O)[2H]",
    "[Na+].[Cl-]",
    "O=[N+]([O-])c1ccc(cc1)[I]",
    "[Cu+2].[O-]C(=O)C",
    "C1CCCCCCCCCCC1",
    "[CH3]",
    "*c1ccccc1",
    "[125I]c1ccccc1",
    "[Fe]",
    "C[S@@](=O)c1ccccc1",
]


@pytest.fixture(scope="module")
def nci_mols() -> list[Chem.Mol]:
    """Every 5th molecule of the NCI set RDKit ships: metals, salts, charges, isotopes."""
    RDLogger.DisableLog("rdApp.*")
    try:
        lines = NCI_SMI.read_text().splitlines()[::5]
        mols = [Chem.MolFromSmiles(line.split()[0]) for line in lines if line.strip()]
    finally:
        RDLogger.EnableLog("rdApp.*")
    return [mol for mol in mols if mol is not None]


def _varied() -> list[Chem.Mol]:
    mols = [Chem.MolFromSmiles(s) for s in VARIED]
    assert all(m is not None for m in mols)
    return mols + [Chem.AddHs(m) for m in mols]


def _components(atom: Chem.Atom) -> list[int]:
    table = Chem.GetPeriodicTable()
    delta = int(atom.GetMass() - table.GetAtomicWeight(atom.GetAtomicNum()))
    found = [
        atom.GetAtomicNum(),
        atom.GetTotalDegree(),
        atom.GetTotalNumHs(True),
        atom.GetFormalCharge(),
        delta,
    ]
    return [*found, 1] if atom.IsInRing() else found


def test_the_invariant_hash_is_rdkits(nci_mols):
    atoms = 0
    for mol in [*_varied(), *nci_mols[:300]]:
        rdkit_hashes = list(rdMolDescriptors.GetConnectivityInvariants(mol, True))
        for atom, expected in zip(mol.GetAtoms(), rdkit_hashes, strict=True):
            components = np.array([_components(atom)], dtype=np.int64).astype(np.uint32)
            assert int(invariant_hash(components)[0]) == expected, Chem.MolToSmiles(mol)
            atoms += 1
    assert atoms > 4000


def test_the_table_reads_every_atom_back():
    table = invariant_table()
    assert np.all(np.diff(table.keys) > 0)  # sorted, each key once
    for mol in _varied():
        hashes = rdMolDescriptors.GetConnectivityInvariants(mol, True)
        for atom, key in zip(mol.GetAtoms(), hashes, strict=True):
            at = np.searchsorted(table.keys, key)
            assert table.keys[at] == key
            element, degree, hydrogens, charge, ring = table.atoms[at].tolist()
            assert element >= 0, "a hash two plausible atoms share"
            assert (element, degree, hydrogens, charge, ring) == (
                atom.GetAtomicNum(),
                atom.GetTotalDegree(),
                atom.GetTotalNumHs(True),
                atom.GetFormalCharge(),
                int(atom.IsInRing()),
            )
    # 759 of 1.56 million hashes are shared by two combinations (their atoms are never read),
    # none of them a plausible organic atom: carbon with seven connections, Cl with 4 H…
    shared = int((table.atoms[:, 0] < 0).sum())
    assert 0 < shared < 1000


def _answer(program, features) -> int:
    """A plain-Python evaluation of a program (the kernel's reference)."""
    from core.chem import _screen_kernels

    ops = np.array([op for op, _a, _b in program], dtype=np.int32)
    a = np.array([x for _o, x, _b in program], dtype=np.int32)
    b = np.array([x for _o, _a, x in program], dtype=np.int32)
    stack = np.empty(len(program) + 1, dtype=np.int64)
    return int(_screen_kernels.evaluate(0, len(program), ops, a, b, features, stack))


ATOM_QUERIES = [
    "c",
    "[c&!H0]",
    "[#6&!H0&!H1]",
    "[N&X3&R0,N&X4&R0,O&R0,S&X2&R0]",
    "[C&H1,C&H2;r9,r10,r11]",
    "[!#6;!#1]",
    "[n;!H0,$(n-[#6&!H0&!H1])]",
    "[O,S;D1]",
    "[N+]",
    "[!+0]",
    "[A]",
    "[R2]",
    "[!R]",
    "[$(C=O),$(C#N)]",
    "[!$(C=O)]",
    "[#7;a]",
    "*",
    "[v3]",
    "[x2]",
    "[C;$([C&H2]-[Cl,Br,I])]",
]


def test_an_atom_ruled_out_never_matches_and_a_sure_atom_always_does(nci_mols):
    """Three-valued answers against RDKit's own one-atom matches, over varied atoms."""
    from core.chem import _screen_kernels

    table = invariant_table()
    counts = {NO: 0, MAYBE: 0, YES: 0}
    for smarts in ATOM_QUERIES:
        query = Chem.MolFromSmarts(smarts)
        program = atom_program(query.GetAtomWithIdx(0))
        for mol in [*_varied(), *nci_mols[:200]]:
            graph = molecule_graph(mol)
            if graph is None:
                continue
            ok, features, *_rest = _screen_kernels.read_molecule(
                graph.invariants,
                graph.aromatic,
                graph.orders,
                table.keys,
                table.atoms,
                table.lookup_keys,
                table.lookup_rows,
            )
            if not ok:
                continue
            matched = {m[0] for m in mol.GetSubstructMatches(query, maxMatches=100_000)}
            for index in range(mol.GetNumAtoms()):
                answer = _answer(program, features[index])
                counts[answer] += 1
                if answer == NO:
                    assert index not in matched, (smarts, Chem.MolToSmiles(mol), index)
                if answer == YES:
                    assert index in matched, (smarts, Chem.MolToSmiles(mol), index)
    assert counts[NO] > 2 * counts[MAYBE] > 0 and counts[YES] > 1000


def test_bond_programs():
    single, double, aromatic = 1, 2, 12
    cases = {
        "C-C": {single: YES, double: NO, aromatic: NO},
        "CC": {single: YES, double: NO, aromatic: YES},  # single or aromatic
        "C=,:C": {single: NO, double: YES, aromatic: YES},
        "C~C": {single: YES, double: YES, aromatic: YES},
        "C!@C": {single: MAYBE, double: MAYBE, aromatic: MAYBE},  # ring bonds: not read
        "C!-C": {single: NO, double: YES, aromatic: YES},
    }
    for smarts, expected in cases.items():
        program = bond_program(Chem.MolFromSmarts(smarts).GetBondWithIdx(0))
        for code, answer in expected.items():
            assert _answer(program, np.array([code, 0, 0, 0, 0, 0, 0, 0])) == answer, smarts


def test_molecules_with_other_bonds_are_not_read():
    dative = Chem.MolFromSmiles("[NH3]->[Cu+2]")
    assert dative is not None and molecule_graph(dative) is None
    assert molecule_graph(Chem.MolFromSmiles("c1ccccc1C=O")) is not None


def test_stars_are_shared_and_most_demanding_first():
    patterns = [Chem.MolFromSmarts(s) for s in ("cc(C)c", "c(C)(c)c", "C=O")]
    stars = StarTables([*patterns, None])
    # The first two are the same query: their stars are the same rows.
    first = stars.pattern_star_list[stars.pattern_first[0] :][: stars.pattern_stars[0]]
    second = stars.pattern_star_list[stars.pattern_first[1] :][: stars.pattern_stars[1]]
    assert sorted(first.tolist()) == sorted(second.tolist())
    assert stars.star_count[first[0]] == 3  # the atom with three neighbours first
    assert stars.pattern_stars[3] == 0  # nothing known: never ruled out


def _matching(mol: Chem.Mol, patterns) -> set[int]:
    return {i for i, p in enumerate(patterns) if mol.HasSubstructMatch(p)}


def test_stars_rule_out_what_molecule_wide_conditions_leave(nci_mols):
    """The catalog's patterns and QED's on the NCI molecules: every match kept, fewer left."""
    from core.chem.alerts import _alert_screen

    entries, screen = _alert_screen()
    if screen_module._kernels() is None:
        pytest.skip("numba is not usable here: the screen runs without the atom check")
    from core.chem.qed import QED_ALERTS

    patterns = [None] * len(entries) + list(QED_ALERTS)
    with_atoms = without = 0
    for mol in nci_mols:
        atoms = set(screen.candidates(mol).tolist())
        wide = set(screen.candidates(mol, atoms=False).tolist())
        assert atoms <= wide
        for index in wide - atoms:  # every pattern the stars ruled out does not match
            if index < len(entries):
                assert not entries[index].HasFilterMatch(mol), (Chem.MolToSmiles(mol), index)
            else:
                assert not mol.HasSubstructMatch(patterns[index]), Chem.MolToSmiles(mol)
        with_atoms += len(atoms)
        without += len(wide)
    assert with_atoms < without / 2


def test_small_patterns_screened_by_their_atoms():
    smarts = [
        "[c&!H0]:[c&!H0]:c-[N&H2]",  # an aniline with two free ring positions
        "[C&H2]([O,N])[O,N]",  # an aminal or acetal CH2
        "[C&X4&R0](F)(F)F",  # a trifluoromethyl outside rings
        "[#6;R]=[#8]",  # a ring carbonyl
    ]
    patterns = [Chem.MolFromSmarts(s) for s in smarts]
    screen = PatternScreen(patterns)
    if screen_module._kernels() is None:
        pytest.skip("numba is not usable here")
    molecules = {
        "Nc1ccccc1": {0},
        "Nc1c(C)cc(C)cc1C": set(),  # no two adjacent ring CH next to the amine's carbon
        "OCO": {1},
        "OC(C)O": set(),  # CH, not CH2
        "FC(F)(F)C": {2},
        "FC1(F)CC1": set(),
        "O=C1CCCC1": {3},
        "CC(=O)C": set(),
    }
    for smiles, expected in molecules.items():
        mol = Chem.MolFromSmiles(smiles)
        found = set(screen.candidates(mol).tolist())
        assert _matching(mol, patterns) <= found, smiles
        assert found == expected, smiles


def test_without_numba_the_molecule_wide_screen_answers(monkeypatch):
    patterns = [Chem.MolFromSmarts(s) for s in ("[C&H2]([O,N])[O,N]", "c1ccccc1")]
    screen = PatternScreen(patterns)
    monkeypatch.setattr(screen_module, "_kernel_module", None)
    monkeypatch.setattr(screen_module, "_kernel_failed", True)
    mol = Chem.MolFromSmiles("OC(C)O")
    assert screen.candidates(mol).tolist() == screen.candidates(mol, atoms=False).tolist() == [0]


def test_a_kernel_that_fails_leaves_the_numpy_screen(monkeypatch, caplog):
    patterns = [Chem.MolFromSmarts(s) for s in ("[C&H2]([O,N])[O,N]", "c1ccccc1")]
    screen = PatternScreen(patterns)

    class Broken:
        @staticmethod
        def candidates(*_args):
            raise RuntimeError("cannot compile here")

    monkeypatch.setattr(screen_module, "_kernel_module", Broken)
    monkeypatch.setattr(screen_module, "_kernel_failed", False)
    mol = Chem.MolFromSmiles("OCO")
    assert screen.candidates(mol).tolist() == [0]
    assert screen_module._kernel_failed and screen_module._kernel_module is None
    assert "numba kernel failed" in caplog.text


def test_compile_kernels_screens_a_molecule_with_the_kernel():
    if screen_module._kernels() is None:
        pytest.skip("numba is not usable here")
    assert screen_module.compile_kernels()

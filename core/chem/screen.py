"""Which substructure patterns a molecule cannot contain, known before any pattern is run.

Matching hundreds of SMARTS patterns against every molecule of a library (structural alerts, QED's
alert list) costs most of the time of describing it, and most patterns match nothing. Two cheap
necessary conditions rule most of them out first, as RDKit's SubstructLibrary screens its
queries:

- the pattern's ``PatternFingerprint`` bits must all be set in the molecule's (RDKit designs
  pattern fingerprints so that a substructure's bits are a subset of the molecule's);
- for each set of elements some pattern atoms are limited to, the molecule must have at least as
  many atoms of those elements.

Recursive SMARTS (``[$(C=O),$(C#N)]``, most of the costly alert patterns) add a third: a pattern
atom that must match one of several recursive patterns needs at least one of them in the molecule,
and each of those is screened the same way (its own fingerprint and elements). Its first atom also
limits the element of the pattern atom (``[$([#44]),$([#45])]`` is ruthenium or rhodium).

A fourth counts double and triple bonds: each ``=`` or ``#`` bond of a pattern needs a bond of
that order in the molecule between atoms of the elements its ends allow (``C#[C;!$(C-N)]`` needs
a carbon-carbon triple bond), which rules out most Michael acceptors and acetylenes at once.
Single bonds (``-``) count the same way where both ends are heteroatoms (``N-N``, ``O-O``,
``S-S``): a bond to carbon is in every molecule.

A fifth counts charged atoms: a pattern atom that must carry a formal charge (``[N+]``,
``[o&+,O&+]``, ``[!+0]``) needs a charged atom in the molecule, and most library molecules have none.

A sixth looks at atoms rather than the whole molecule (:mod:`core.chem.atom_screen`): each
pattern atom with its neighbours must fit some atom of the molecule and its neighbours, element,
aromaticity, hydrogens, degree, charge and ring membership included. It leaves about 24 of the
102 patterns the first five leave a typical library molecule (MOSES), where numba runs; without
numba the first five screen alone, in numpy (:meth:`PatternScreen.candidates` with
``atoms=False``, also the tests' reference).

A pattern passing all of them may match; one failing any cannot. Callers then match the
candidates as they would have matched every pattern, so the results are the same, only faster.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
from rdkit import Chem, DataStructs

from core.chem.atom_screen import StarTables, children, invariant_table, molecule_graph

_log = logging.getLogger(__name__)

# Pattern fingerprints of this size: the screen's false-positive rate hardly improves above it.
SCREEN_BITS = 2048


def fingerprint_words(mol: Chem.Mol) -> np.ndarray:
    """The molecule's pattern fingerprint as 64-bit words."""
    fingerprint = Chem.PatternFingerprint(mol, fpSize=SCREEN_BITS)
    return np.frombuffer(DataStructs.BitVectToBinaryText(fingerprint), dtype=np.uint64)


def _describe(atom: Chem.Atom) -> list[tuple[int, str]]:
    """``Atom.DescribeQuery()`` as (depth, text) lines."""
    lines = atom.DescribeQuery().splitlines()
    return [(len(line) - len(line.lstrip(" ")), line.strip()) for line in lines if line.strip()]


def recursive_smarts(atom_smarts: str) -> list[str]:
    """The recursive SMARTS of one query atom's SMARTS (``"[C;$(C=O),$(C#N)]"`` gives
    ``["C=O", "C#N"]``), outermost only, in the order written: the order of the
    ``RecursiveStructure`` nodes of ``Atom.DescribeQuery()``."""
    found = []
    at = 0
    while (start := atom_smarts.find("$(", at)) >= 0:
        depth = 0
        for end in range(start + 1, len(atom_smarts)):
            depth += {"(": 1, ")": -1}.get(atom_smarts[end], 0)
            if depth == 0:
                break
        else:
            raise ValueError(f"unbalanced recursive SMARTS in {atom_smarts!r}")
        found.append(atom_smarts[start + 2 : end])
        at = end + 1
    return found


class _QueryAtom:
    """One query atom's description with its recursive SMARTS, each a screened sub-pattern:
    ``recursive[k]`` belongs to the k-th ``RecursiveStructure`` line."""

    def __init__(
        self,
        atom: Chem.Atom,
        recursive: list[_SubPattern],
        element_pattern: Callable[[frozenset[int]], _SubPattern] | None = None,
    ) -> None:
        self.description = _describe(atom)
        self.recursive = recursive
        self.element_pattern = element_pattern
        rows = [i for i, (_d, text) in enumerate(self.description) if _is_recursive(text)]
        if len(rows) != len(recursive):
            raise ValueError("recursive SMARTS and query description disagree")
        self.recursive_at = dict(zip(rows, recursive, strict=True))

    def children(self, at: int) -> list[int]:
        return children(self.description, at)

    def elements(self, at: int = 0) -> frozenset[int] | None:
        """The atomic numbers the query atom can have; None when not restricted."""
        _depth, text = self.description[at]
        words = text.split()
        kind = words[0]
        if kind in ("AtomAtomicNum", "AtomType") and len(words) >= 4 and words[2] == "=":
            if words[3] != "val":  # "!= val": negated
                return None
            value = int(words[1])
            # An AtomType query's value is the atomic number, plus 1000 when aromatic.
            return frozenset({value % 1000 if kind == "AtomType" else value})
        if _is_recursive(text):
            # A recursive SMARTS matches with its first atom on this atom.
            return None if "not" in words else self.recursive_at[at].root_elements
        if kind in ("AtomAnd", "AtomOr") and len(words) == 1:
            children = [self.elements(index) for index in self.children(at)]
            if not children:
                return None
            if kind == "AtomAnd":
                known = [c for c in children if c is not None]
                return frozenset.intersection(*known) if known else None
            if any(c is None for c in children):
                return None
            return frozenset().union(*children)
        return None

    def charged(self, at: int = 0) -> bool:
        """Whether the query atom can only match an atom with a formal charge."""
        _depth, text = self.description[at]
        words = text.split()
        kind = words[0]
        if kind in _CHARGE_QUERIES and len(words) == 4 and words[3] == "val":
            # "AtomFormalCharge 1 = val": +1; "AtomFormalCharge 0 != val": anything but 0.
            value = int(words[1])
            return value != 0 if words[2] == "=" else value == 0 and words[2] == "!="
        if _is_recursive(text):
            return "not" not in words and self.recursive_at[at].root_charged
        if kind in ("AtomAnd", "AtomOr") and len(words) == 1:
            children = [self.charged(index) for index in self.children(at)]
            if not children:
                return False
            return any(children) if kind == "AtomAnd" else all(children)
        return False

    def required(self, at: int = 0) -> list[frozenset[_SubPattern]]:
        """What the molecule must contain for this atom to match, as clauses that must all
        hold, each satisfied by any one of its sub-patterns (an empty list: nothing known)."""
        _depth, text = self.description[at]
        words = text.split()
        if _is_recursive(text):
            return [] if "not" in words else [frozenset({self.recursive_at[at]})]
        if words[0] in ("AtomAnd", "AtomOr") and len(words) == 1:
            children = [self.required(index) for index in self.children(at)]
            if words[0] == "AtomAnd":
                return [clause for child in children for clause in child]
            if not children or not any(children):
                return []
            # (a and b) or c implies a or c: one clause of each alternative is enough. An
            # alternative limited to elements (the Cl of "[Cl,$(OS(=O)=O)]") is present when an
            # atom of those elements is: a one-atom sub-pattern.
            literals = []
            for index, child in zip(self.children(at), children, strict=True):
                if child:
                    literals.append(child[0])
                    continue
                elements = self.elements(index)
                if not elements or self.element_pattern is None:
                    return []
                literals.append(frozenset({self.element_pattern(elements)}))
            return [frozenset().union(*literals)]
        return []


# "AtomNegativeFormalCharge k" is a charge of -k.
_CHARGE_QUERIES = ("AtomFormalCharge", "AtomNegativeFormalCharge")


def _element_smarts(elements: frozenset[int]) -> str:
    """A one-atom SMARTS matching any atom of ``elements``."""
    return "[" + ",".join(f"#{z}" for z in sorted(elements)) + "]"


def _is_recursive(text: str) -> bool:
    return text.startswith("RecursiveStructure")


class _SubPattern:
    """A recursive SMARTS inside a pattern, screened like a pattern; shared by its text."""

    def __init__(self, smarts: str, index: int) -> None:
        self.smarts = smarts
        self.index = index
        self.pattern = Chem.MolFromSmarts(smarts)
        if self.pattern is None or self.pattern.GetNumAtoms() == 0:
            raise ValueError(f"unreadable recursive SMARTS {smarts!r}")
        self.root_elements: frozenset[int] | None = None
        self.root_charged = False


class _Analysis:
    """Element limits and required sub-patterns of the patterns of one screen."""

    def __init__(self) -> None:
        self.subpatterns: dict[str, _SubPattern] = {}
        self.order: list[_SubPattern] = []

    def subpattern(self, smarts: str, first_index: int) -> _SubPattern:
        sub = self.subpatterns.get(smarts)
        if sub is None:
            sub = _SubPattern(smarts, first_index + len(self.order))
            self.subpatterns[smarts] = sub
            self.order.append(sub)
            atoms = self.atoms(sub.pattern, first_index)
            sub.root_elements = atoms[0].elements() if atoms[0] is not None else None
            sub.root_charged = atoms[0] is not None and atoms[0].charged()
        return sub

    def atoms(self, pattern: Chem.Mol, first_index: int) -> list[_QueryAtom | None]:
        """Each atom as a :class:`_QueryAtom`; None for a plain (non-query) atom."""
        found: list[_QueryAtom | None] = []
        for atom in pattern.GetAtoms():
            if not atom.HasQuery():
                found.append(None)
                continue
            inner = recursive_smarts(atom.GetSmarts())
            found.append(
                _QueryAtom(
                    atom,
                    [self.subpattern(s, first_index) for s in inner],
                    lambda elements: self.subpattern(_element_smarts(elements), first_index),
                )
            )
        return found

    def conditions(
        self, pattern: Chem.Mol, first_index: int
    ) -> tuple[dict[frozenset[int], int], list[frozenset[_SubPattern]], dict[_BondKey, int], int]:
        """The pattern's element conditions (see :func:`_element_conditions`), required
        sub-patterns, bond conditions (for each double or triple bond with the elements its
        ends allow, None for any: how many such bonds) and how many of its atoms must be charged
        (distinct atoms of the molecule, each with a formal charge)."""
        limits = []
        atom_elements: list[frozenset[int] | None] = []
        required: list[frozenset[_SubPattern]] = []
        charged = 0
        for atom, query in zip(pattern.GetAtoms(), self.atoms(pattern, first_index), strict=True):
            if query is None:
                elements = frozenset({atom.GetAtomicNum()})
            else:
                elements = query.elements() if query.description else None
                required += query.required() if query.description else []
                charged += bool(query.description) and query.charged()
            atom_elements.append(elements or None)
            if elements:
                limits.append(elements)
        counts = {limit: sum(other <= limit for other in limits) for limit in set(limits)}
        bonds: dict[_BondKey, int] = {}
        for bond in pattern.GetBonds():
            order = _BOND_ORDERS.get(bond.DescribeQuery().strip()) if bond.HasQuery() else None
            if order is None:
                continue
            begin = atom_elements[bond.GetBeginAtomIdx()]
            end = atom_elements[bond.GetEndAtomIdx()]
            if order == 1 and not (begin and end and 6 not in begin and 6 not in end):
                continue  # single bonds: only between heteroatoms (a C-X bond is everywhere)
            ends = sorted(
                (atom_elements[bond.GetBeginAtomIdx()], atom_elements[bond.GetEndAtomIdx()]),
                key=lambda elements: sorted(elements) if elements is not None else [-1],
            )
            key = (order, ends[0], ends[1])
            bonds[key] = bonds.get(key, 0) + 1
        return counts, list(dict.fromkeys(required)), bonds, charged


_BondKey = tuple[int, frozenset[int] | None, frozenset[int] | None]
# A bond query that is exactly one order (SMARTS "=" and "#"); RDKit's aromatic perception makes
# every other double bond of a sanitised molecule AROMATIC, which "=" does not match either.
_BOND_ORDERS = {"BondOrder 1 = val": 1, "BondOrder 2 = val": 2, "BondOrder 3 = val": 3}
_BOND_QUERIES = {
    1: Chem.MolFromSmarts("[!#6]-[!#6]"),
    2: Chem.MolFromSmarts("*=*"),
    3: Chem.MolFromSmarts("*#*"),
}
_MAX_ELEMENT = 128


def _element_conditions(pattern: Chem.Mol) -> dict[frozenset[int], int]:
    """For each element set some pattern atom is limited to: how many pattern atoms are limited
    to a subset of it. A match maps those atoms to distinct atoms of the molecule, all with an
    element in the set, so the molecule needs at least that many such atoms."""
    return _Analysis().conditions(pattern, 0)[0]


class PatternScreen:
    """Necessary conditions for each of a list of patterns.

    ``patterns`` are SMARTS query molecules, each required to be present; ``None`` marks one that
    cannot be screened (it is always a candidate). The recursive SMARTS inside them are screened
    too, as entries after the patterns. Element conditions are rows of ``sets``: a molecule passes
    row ``k`` when it has at least ``needed[k]`` atoms whose element is in ``sets[k]`` (over
    ``elements``); row ``k`` belongs to entry ``owner[k]``. Required sub-patterns are clauses:
    clause ``c`` of entry ``clause_owner[c]`` holds when any entry ``literal_entry[j]`` with
    ``literal_clause[j] == c`` may occur.
    """

    def __init__(self, patterns: Sequence[Chem.Mol | None]) -> None:
        count = len(patterns)
        analysis = _Analysis()
        bits: list[np.ndarray] = []
        screened: list[bool] = []
        conditions: list[tuple[int, frozenset[int], int]] = []
        clauses: list[tuple[int, frozenset[_SubPattern]]] = []
        bond_conditions: list[tuple[int, _BondKey, int]] = []
        charged_atoms: list[int] = []

        def add(index: int, pattern: Chem.Mol | None) -> None:
            words = np.zeros(SCREEN_BITS // 64, dtype=np.uint64)
            found: dict[frozenset[int], int] = {}
            required: list[frozenset[_SubPattern]] = []
            bonds: dict[_BondKey, int] = {}
            charged = 0
            ok = False
            if pattern is not None:
                try:
                    pattern = Chem.Mol(pattern)
                    pattern.UpdatePropertyCache(strict=False)
                    words = fingerprint_words(pattern)
                    found, required, bonds, charged = analysis.conditions(pattern, count)
                    ok = True
                except (RuntimeError, ValueError):
                    pass
            bits.append(words if ok else np.zeros_like(words))
            screened.append(ok)
            charged_atoms.append(charged if ok else 0)
            if ok:
                conditions.extend((index, limit, n) for limit, n in found.items())
                clauses.extend((index, clause) for clause in required)
                bond_conditions.extend((index, key, n) for key, n in bonds.items())

        entry_patterns: list[Chem.Mol | None] = []
        for i, pattern in enumerate(patterns):
            add(i, pattern)
            entry_patterns.append(pattern)
        done = 0
        while done < len(analysis.order):  # grows while nested recursive SMARTS are found
            sub = analysis.order[done]
            assert sub.index == count + done
            add(sub.index, sub.pattern)
            entry_patterns.append(sub.pattern)
            done += 1
        self.count = count
        self.bits = np.array(bits, dtype=np.uint64).reshape(len(bits), SCREEN_BITS // 64)
        self.screened_entries = np.array(screened, dtype=bool)
        self.screened = self.screened_entries[:count]
        self.elements = np.array(
            sorted({z for _i, limit, _n in conditions for z in limit}), dtype=np.int64
        )
        column = {int(z): k for k, z in enumerate(self.elements)}
        self.sets = np.zeros((len(conditions), len(self.elements)), dtype=np.int32)
        for k, (_i, limit, _n) in enumerate(conditions):
            self.sets[k, [column[z] for z in limit]] = 1
        self.needed = np.array([n for _i, _l, n in conditions], dtype=np.int32)
        self.owner = np.array([i for i, _l, _n in conditions], dtype=np.int64)
        self.clause_owner = np.array([i for i, _c in clauses], dtype=np.int64)
        literals = [(c, sub.index) for c, (_i, clause) in enumerate(clauses) for sub in clause]
        self.literal_clause = np.array([c for c, _e in literals], dtype=np.int64)
        self.literal_entry = np.array([e for _c, e in literals], dtype=np.int64)
        # Bond conditions: row k needs bond_needed[k] bonds of order bond_order[k] with one end's
        # element allowed by bond_first[k] and the other's by bond_second[k] (over atomic numbers).
        self.bond_owner = np.array([i for i, _k, _n in bond_conditions], dtype=np.int64)
        self.bond_order = np.array([k[0] for _i, k, _n in bond_conditions], dtype=np.int64)
        self.bond_needed = np.array([n for _i, _k, n in bond_conditions], dtype=np.int64)
        # Indexed [atomic number, condition]: a molecule's bond ends pick whole rows.
        self.bond_first = np.ones((_MAX_ELEMENT, len(bond_conditions)), dtype=bool)
        self.bond_second = np.ones((_MAX_ELEMENT, len(bond_conditions)), dtype=bool)
        for row, (_i, (_order, first, second), _n) in enumerate(bond_conditions):
            for allowed, elements in ((self.bond_first, first), (self.bond_second, second)):
                if elements is not None:
                    allowed[:, row] = False
                    allowed[[z for z in elements if z < _MAX_ELEMENT], row] = True
        # Atoms each entry needs with a formal charge.
        self.charged_needed = np.array(charged_atoms, dtype=np.int64)
        self._compact(conditions, bond_conditions)
        # Each screened entry's atoms with their neighbours (core.chem.atom_screen).
        self._stars = StarTables(
            [p if ok else None for p, ok in zip(entry_patterns, screened, strict=True)]
        )

    def _compact(
        self,
        conditions: list[tuple[int, frozenset[int], int]],
        bond_conditions: list[tuple[int, _BondKey, int]],
    ) -> None:
        """The conditions as :meth:`candidates` reads them: each distinct one once (1,181
        entries of the alert screen share 845 fingerprints, 186 element and 45 bond conditions),
        so that a molecule costs a few numpy calls on small arrays."""
        # Fingerprints, words first: a reduction over the first axis runs along whole rows.
        unique_bits, inverse = np.unique(self.bits, axis=0, return_inverse=True)
        self._fingerprint_words = np.ascontiguousarray(unique_bits.T)
        self._fingerprint_rows = np.ascontiguousarray(unique_bits)  # the kernel's layout
        self._fingerprint_of = inverse.reshape(-1)
        # Element conditions: (element set, atoms needed), each once; row k of ``owner`` has
        # condition _element_condition[k]; a condition's elements as (condition, element) pairs
        # (summing with bincount is about ten times faster than an integer matrix product).
        distinct: dict[tuple[frozenset[int], int], int] = {}
        self._element_condition = np.array(
            [distinct.setdefault((limit, n), len(distinct)) for _i, limit, n in conditions],
            dtype=np.int64,
        )
        pairs = [(c, z) for (limit, _n), c in distinct.items() for z in sorted(limit)]
        self._pair_condition = np.array([c for c, _z in pairs], dtype=np.int64)
        self._pair_element = np.array([min(z, _MAX_ELEMENT - 1) for _c, z in pairs], np.int64)
        self._condition_needed = np.array([n for _limit, n in distinct], dtype=np.int64)
        # Bond conditions the same way: (order, first ends, second ends, bonds needed).
        bonds: dict[tuple, int] = {}
        keys: list[int] = []  # the first row of each distinct condition
        condition_of_row = []
        for row, (_i, (order, _first, _second), n) in enumerate(bond_conditions):
            first, second = self.bond_first[:, row].tobytes(), self.bond_second[:, row].tobytes()
            key = (order, first, second, n)
            if key not in bonds:
                bonds[key] = len(bonds)
                keys.append(row)
            condition_of_row.append(bonds[key])
        self._bond_condition = np.array(condition_of_row, dtype=np.int64)
        rows = np.array(keys, dtype=np.int64)
        self._bond_orders = self.bond_order[rows] if len(rows) else np.zeros(0, np.int64)
        self._bond_needed = self.bond_needed[rows] if len(rows) else np.zeros(0, np.int64)
        self._bond_first = np.ascontiguousarray(self.bond_first[:, rows])
        self._bond_second = np.ascontiguousarray(self.bond_second[:, rows])
        self._unscreened = ~self.screened_entries
        # For each distinct condition, the entries it belongs to as a bit set (64 entries a
        # word): a molecule's failed conditions rule out the union of their rows.
        self._element_owners = self._owner_bits(self._element_condition, self.owner, len(distinct))
        self._bond_owners = self._owner_bits(self._bond_condition, self.bond_owner, len(bonds))

    def _owner_bits(self, condition: np.ndarray, owner: np.ndarray, count: int) -> np.ndarray:
        words = (len(self.bits) + 63) // 64
        owns = np.zeros((count, words * 64), dtype=bool)
        owns[condition, owner] = True
        return np.packbits(owns, axis=1, bitorder="little").view(np.uint64)

    def __len__(self) -> int:
        return self.count

    def _bonds_present(self, mol: Chem.Mol, numbers: np.ndarray) -> np.ndarray:
        """For each distinct bond condition, whether ``mol`` has the bonds it needs."""
        orders, first, second = [], [], []
        for order, query in _BOND_QUERIES.items():
            for begin, end in mol.GetSubstructMatches(query, maxMatches=1_000_000):
                orders.append(order)
                first.append(numbers[begin])
                second.append(numbers[end])
        if not orders:
            return np.zeros(len(self._bond_needed), dtype=bool)
        order = np.array(orders)
        z1 = np.minimum(np.array(first), _MAX_ELEMENT - 1)
        z2 = np.minimum(np.array(second), _MAX_ELEMENT - 1)
        fits = (order[:, None] == self._bond_orders) & (
            (self._bond_first[z1] & self._bond_second[z2])
            | (self._bond_first[z2] & self._bond_second[z1])
        )
        return fits.sum(axis=0) >= self._bond_needed

    def candidates(self, mol: Chem.Mol, atoms: bool = True) -> np.ndarray:
        """Indices, ascending, of the patterns that may occur in ``mol`` (a sanitised molecule,
        matched as given).

        ``atoms``: check each pattern's atoms with their neighbours too (:mod:`core.chem.atom_screen`,
        where numba runs and the molecule's atoms can be read); False: the molecule-wide
        conditions only (tests compare the two)."""
        kernels = _kernels() if atoms else None
        if kernels is not None:
            try:
                found = self._kernel_candidates(kernels, mol)
            except Exception:  # a kernel that cannot compile here: the numpy path is exact
                global _kernel_failed, _kernel_module
                _kernel_failed, _kernel_module = True, None
                _log.warning("The pattern screen's numba kernel failed; screening without it")
                found = None
            if found is not None:
                return found
        return self._molecule_wide(mol)

    def _kernel_candidates(self, kernels, mol: Chem.Mol) -> np.ndarray | None:
        """:meth:`candidates` by the compiled kernel; None where it cannot read ``mol``."""
        graph = molecule_graph(mol)
        if graph is not None:
            table = _invariant_table()
            stars = self._stars
            ok, found = kernels.candidates(
                fingerprint_words(mol),
                graph.invariants,
                graph.aromatic,
                graph.orders,
                table.keys,
                table.atoms,
                table.lookup_keys,
                table.lookup_rows,
                self._fingerprint_rows,
                self._fingerprint_of,
                self._pair_condition,
                self._pair_element,
                self._condition_needed,
                self._element_condition,
                self.owner,
                self._bond_orders,
                self._bond_needed,
                self._bond_first,
                self._bond_second,
                self._bond_condition,
                self.bond_owner,
                self.charged_needed,
                self.screened_entries,
                self._unscreened,
                self.literal_clause,
                self.literal_entry,
                self.clause_owner,
                self.count,
                _MAX_ELEMENT,
                stars.pattern_first,
                stars.pattern_stars,
                stars.pattern_star_list,
                stars.stack_depth,
                # The patterns' own stars; sub-patterns (recursive SMARTS) are left to
                # the molecule-wide conditions: checking them cost more than it saved.
                self.count,
                stars.star_centre,
                stars.star_first,
                stars.star_count,
                stars.neighbour_atom,
                stars.neighbour_bond,
                stars.program_start,
                stars.program_length,
                stars.ops,
                stars.arg_a,
                stars.arg_b,
                stars.class_keys,
                stars.class_ids,
                stars.class_count,
                stars.answers,
                stars.bond_answers,
            )
            if ok:
                return found
        return None

    def _molecule_wide(self, mol: Chem.Mol) -> np.ndarray:
        """:meth:`candidates` by the molecule-wide conditions alone, in numpy."""
        missing = np.bitwise_or.reduce(self._fingerprint_words & ~fingerprint_words(mol)[:, None])
        possible = (missing == 0)[self._fingerprint_of]
        # GetAtomWithIdx: half the time of iterating over GetAtoms() in RDKit's Python wrapper.
        atom = mol.GetAtomWithIdx
        numbers = np.array(
            [atom(i).GetAtomicNum() for i in range(mol.GetNumAtoms())], dtype=np.int64
        )
        counts = np.bincount(np.minimum(numbers, _MAX_ELEMENT - 1), minlength=_MAX_ELEMENT)
        found = np.bincount(
            self._pair_condition,
            weights=counts[self._pair_element],
            minlength=len(self._condition_needed),
        )
        # The entries of every failed element or bond condition, as one bit set.
        ruled_out = np.bitwise_or.reduce(
            self._element_owners[found < self._condition_needed], axis=0
        ) | np.bitwise_or.reduce(self._bond_owners[~self._bonds_present(mol, numbers)], axis=0)
        possible &= ~np.unpackbits(ruled_out.view(np.uint8), bitorder="little")[
            : len(possible)
        ].view(bool)
        charged = len(mol.GetSubstructMatches(_CHARGED, maxMatches=1_000_000))
        possible[self.charged_needed > charged] = False
        possible |= self._unscreened
        if len(self.clause_owner):
            # Twice: a required sub-pattern's own requirements count from the second pass on.
            for _ in range(2):
                met = np.bincount(
                    self.literal_clause,
                    weights=possible[self.literal_entry],
                    minlength=len(self.clause_owner),
                )
                possible[self.clause_owner[met == 0]] = False
        return np.flatnonzero(possible[: self.count])


_CHARGED = Chem.MolFromSmarts("[!+0]")

_kernel_module = None
_kernel_failed = False
_table = None


def _kernels():
    """The compiled screen kernels (:mod:`core.chem._screen_kernels`), loaded on first use;
    None where numba is missing or fails (then the numpy code screens, without the atoms)."""
    global _kernel_module, _kernel_failed
    if _kernel_module is None and not _kernel_failed:
        try:
            from core.chem import _screen_kernels

            _kernel_module = _screen_kernels
        except Exception:  # numba missing or broken: the numpy path is exact
            _kernel_failed = True
    return _kernel_module


def _invariant_table():
    global _table
    if _table is None:
        _table = invariant_table()
    return _table


__all__ = ["SCREEN_BITS", "PatternScreen", "fingerprint_words", "recursive_smarts"]


def compile_kernels() -> bool:
    """Compile the screen's kernels into the numba cache (a few seconds, once per version), by
    screening one molecule with a small screen: the same argument types as the alert screen's.
    Returns whether the kernels work (see :mod:`core.chem.numba_warmup`)."""
    kernels = _kernels()
    if kernels is None:
        return False
    screen = PatternScreen([Chem.MolFromSmarts(s) for s in ("[C&H2]([O,N])[O,N]", "C=O", "c:n")])
    try:
        found = screen._kernel_candidates(kernels, Chem.MolFromSmiles("OCOC(=O)c1ccncc1"))
    except Exception:  # reported by the caller's exit status and the log
        _log.exception("Compiling the pattern screen's kernels failed")
        return False
    return found is not None

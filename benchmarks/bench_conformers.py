"""Median conformer-ensemble time per molecule: ``generate_conformers`` against bare RDKit calls.

Molecules: ``--n`` drug-like compounds spread evenly over RDKit's own
``Contrib/FreeWilson/data/CHEMBL2321810.smi`` (1017 ChEMBL compounds, 26-41 heavy atoms).
For each molecule, in rotating order, one process, one thread:

1. **ours**: ``core.chem.conformers.generate_conformers(mol, ConformerOptions(n_conformers=N))``
   (ETKDGv3 seed 42 one conformer at a time, MMFF94 500 iterations, energy sort, 0.5 Å heavy-atom
   RMSD pruning after optimisation with symmetry, alignment, 30 s limit);
2. **bare**: ``Chem.AddHs``, ``EmbedMultipleConfs(mol, N, ETKDGv3(randomSeed=42,
   enableSequentialRandomSeeds=True))``, ``MMFFOptimizeMoleculeConfs(maxIters=500)``: the same
   conformers, not pruned;
3. **bare, RDKit pruning**: the same with ``pruneRmsThresh=0.5`` (RDKit prunes the embeddings
   before optimisation, so it optimises fewer conformers but keeps near-duplicate minima).

Checks that every energy of ours is one of the bare run's (same conformers, same optimisation) and
exits 1 otherwise. Progress to stderr, a Markdown block to stdout.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import _common
import rdkit
from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers

from core.chem.conformers import ConformerOptions, generate_conformers

CHEMBL_SMI = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"


def drug_like_molecules(n: int) -> list[tuple[str, Chem.Mol]]:
    """``n`` (name, molecule) pairs spread evenly over the CHEMBL file."""
    entries = []
    for line in CHEMBL_SMI.read_text().splitlines():
        if line.strip():
            smiles, name = line.split(None, 1)
            entries.append((name.strip(), Chem.MolFromSmiles(smiles)))
    step = len(entries) / n
    return [entries[int(i * step)] for i in range(n)]


def bare_rdkit(mol: Chem.Mol, n_conformers: int, prune: float) -> list[float]:
    """Embed and optimise as a script would with RDKit alone; returns the MMFF94 energies."""
    molecule = Chem.AddHs(mol)
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = 42
    params.enableSequentialRandomSeeds = True
    params.pruneRmsThresh = prune
    rdDistGeom.EmbedMultipleConfs(molecule, n_conformers, params)
    results = rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(molecule, maxIters=500)
    return [energy for _, energy in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="molecules (default 100)")
    parser.add_argument("--conformers", type=int, default=10, help="conformers per molecule")
    args = parser.parse_args()

    info = _common.machine_info()
    molecules = drug_like_molecules(args.n)
    options = ConformerOptions(n_conformers=args.conformers)
    runs = {
        "ours": lambda mol: generate_conformers(mol, options),
        "bare": lambda mol: bare_rdkit(mol, args.conformers, -1.0),
        "bare_pruned": lambda mol: bare_rdkit(mol, args.conformers, 0.5),
    }
    # Warm-up: first calls load force-field tables and the like.
    for run in runs.values():
        run(molecules[0][1])

    times: dict[str, list[float]] = {name: [] for name in runs}
    kept: dict[str, list[int]] = {name: [] for name in runs}
    mismatches = 0
    order = list(runs)
    started = time.perf_counter()
    quiet = rdBase.BlockLogs()  # noqa: F841 (both sides run without RDKit's warnings)
    for i, (name, mol) in enumerate(molecules):
        results = {}
        for run_name in order[i % 3 :] + order[: i % 3]:  # rotate who goes first
            t0 = time.perf_counter()
            results[run_name] = runs[run_name](mol)
            times[run_name].append(time.perf_counter() - t0)
        ensemble = results["ours"]
        kept["ours"].append(ensemble.n_conformers)
        kept["bare"].append(len(results["bare"]))
        kept["bare_pruned"].append(len(results["bare_pruned"]))
        bare_energies = results["bare"]
        for energy in ensemble.energies_kcal_mol:
            if not any(abs(energy - other) <= 1e-6 for other in bare_energies):
                mismatches += 1
                print(f"\n{name}: energy {energy} not among the bare run's", file=sys.stderr)
        print(
            f"\r{i + 1}/{len(molecules)} {name}: ours {times['ours'][-1]:.3f} s, "
            f"bare {times['bare'][-1]:.3f} s",
            end="",
            file=sys.stderr,
            flush=True,
        )
    total = time.perf_counter() - started
    print(file=sys.stderr)
    load_end = os.getloadavg()

    median = {name: _common.median(values) for name, values in times.items()}
    ratios = [a / b for a, b in zip(times["ours"], times["bare"], strict=True)]
    rows = [
        ("`generate_conformers` (ours)", "ours"),
        ("bare RDKit, same conformers, no pruning", "bare"),
        ("bare RDKit, `pruneRmsThresh=0.5` at embedding", "bare_pruned"),
    ]
    lines = [
        f"### Conformer ensembles ({info['date']})",
        "",
        f"`{_common.command_line()}`",
        "",
        _common.machine_markdown(info),
        f"- Load average at end: {load_end[0]:.2f} (1 min); total {total:.0f} s for all runs",
        f"- {len(molecules)} molecules spread over RDKit's `CHEMBL2321810.smi`, "
        f"{args.conformers} conformers each, ETKDGv3 seed 42, MMFF94 500 iterations, one thread",
        "",
        "| run | median s/molecule | p90 s/molecule | median conformers kept |",
        "|---|---:|---:|---:|",
    ]
    for label, key in rows:
        lines.append(
            f"| {label} | {median[key]:.3f} | {_common.percentile(times[key], 90):.3f} | "
            f"{_common.median(kept[key]):g} |"
        )
    lines += [
        "",
        f"- Ratio of medians, ours / bare: **{median['ours'] / median['bare']:.2f}**; "
        f"median of per-molecule ratios: {_common.median(ratios):.2f} "
        f"(ours / bare with RDKit pruning: {median['ours'] / median['bare_pruned']:.2f})",
        f"- Every energy of ours found among the bare run's (same conformers): "
        f"{'yes' if mismatches == 0 else f'NO, {mismatches} mismatches'}",
    ]
    print("\n".join(lines))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

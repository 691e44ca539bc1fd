"""3D structures: conformer ensembles with ETKDGv3 and MMFF94, and their export.

``generate_conformers`` is an engine job (progress and cancel callbacks). It embeds conformers with
ETKDGv3 in short batches, conformer ``i`` with seed ``seed + i`` (as RDKit's ``EmbedMultipleConfs``
with ``enableSequentialRandomSeeds`` numbers them, so the conformers are the ones a bare RDKit call
makes, whatever the batches), optimises each with MMFF94 (UFF when MMFF94 has no parameters), sorts
them by energy, and drops those within ``rms_threshold`` of a lower-energy one (heavy atoms, after
the best alignment).

Cancel and the time limit are checked between batches of about :data:`BATCH_SECONDS`. A drug-like
molecule embeds and optimises in about 0.05 s per conformer, but a single ETKDG call on a
200-heavy-atom macrocycle takes several seconds and cannot be interrupted (RDKit's own ``timeout``
counts whole seconds and is only checked between stages: with ``timeout = 1`` the call still took
4.7 s). Molecules with more than :data:`ISOLATE_ABOVE_HEAVY_ATOMS` heavy atoms are therefore
embedded in a child process that is terminated at once on cancel or at the time limit; its results
are the same, conformer for conformer.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers, rdMolAlign

from core.chem.library import parse_record
from core.chem.readers import (
    MAX_SMILES_LENGTH,
    SUPPORTED_SUFFIXES,
    LibraryReadError,
    RawRecord,
    iter_record_chunks,
)
from core.fileio import atomic_output
from core.jobs import CancelCheck, JobCancelled, ProgressCallback, check_cancelled, no_progress

MAX_HEAVY_ATOMS = 250
"""Larger molecules are refused (with a message) before embedding: ETKDG's distance bounds grow
with the square of the atom count and its smoothing faster; a 5,000-atom chain took more than 6 GB
within 6 s. Cyclo-(Ala)40, 200 heavy atoms, embeds in several seconds per conformer."""

MAX_ATOMS_WITH_HYDROGENS = 500
"""The same limit counted with the hydrogens that embedding adds (a 250-carbon chain has 752)."""

ISOLATE_ABOVE_HEAVY_ATOMS = 50
"""Molecules larger than this are embedded in a child process (see the module docstring). At 50
heavy atoms one conformer takes about 0.4 s in this process; at 80, 1.3 s; at 200, 6 s."""

MAX_SYMMETRY_MATCHES = 1000
"""Symmetry-equivalent atom orders tried per RMSD (RDKit's default, a million, can take seconds per
pair for molecules with many equivalent groups)."""

CONFORMER_FORMATS = {".sdf": "sdf", ".pdb": "pdb", ".xyz": "xyz"}

SDF_TAGS = ("name", "conformer", "energy_kcal_mol", "force_field", "smiles")
"""The data tags of every record that :func:`write_sdf` writes."""

BATCH_SECONDS = 0.2
"""Target length of one embedding call: cancel waits for at most about this long."""

# How often the parent looks at a child process: cancel is answered within this (plus the
# terminate), well inside the engine's 0.5 s promise.
_POLL_S = 0.05
_MMFF, _UFF = "MMFF94", "UFF"


@dataclass(slots=True, frozen=True)
class ConformerOptions:
    """How to build a conformer ensemble."""

    n_conformers: int = 10
    """Conformers to embed (before pruning)."""
    seed: int = 42
    """ETKDG random seed of the first conformer; conformer ``i`` uses ``seed + i``."""
    rms_threshold: float = 0.5
    """Drop a conformer within this heavy-atom RMSD (Å, after alignment) of a lower-energy one;
    0 keeps all."""
    max_iterations: int = 500
    """MMFF94 (or UFF) optimisation iterations per conformer."""
    time_limit_s: float = 30.0
    """Stop embedding after this many seconds for one molecule and keep what is done."""
    optimise: bool = True
    """Optimise with the force field; otherwise report single-point energies of the embeddings."""
    n_threads: int = 1
    """Threads for embedding and optimisation; 0 uses all cores."""
    isolate: bool | None = None
    """Embed in a child process that can be stopped at once; ``None`` does so for molecules with
    more than :data:`ISOLATE_ABOVE_HEAVY_ATOMS` heavy atoms."""

    def __post_init__(self) -> None:
        if self.n_conformers < 1:
            raise ValueError("Ask for at least one conformer.")
        if self.seed < 0:
            raise ValueError("The random seed must be 0 or more (a fixed seed makes runs repeat).")
        if not self.rms_threshold >= 0:
            raise ValueError("The RMSD threshold must be 0 Å or more.")
        if self.max_iterations < 0:
            raise ValueError("Optimisation iterations must be 0 or more.")
        if not self.time_limit_s > 0:
            raise ValueError("The time limit must be more than 0 s.")
        if self.n_threads < 0:
            raise ValueError("Threads must be 0 (all cores) or more.")

    @property
    def threads(self) -> int:
        """The number of threads to use (``n_threads``, with 0 resolved to the core count)."""
        return self.n_threads or os.cpu_count() or 1


@dataclass(slots=True, frozen=True)
class ConformerEnsemble:
    """Conformers of one molecule, lowest energy first.

    ``mol`` holds explicit hydrogens and the kept conformers; ``energies_kcal_mol[i]`` belongs to
    conformer ``conformer_ids[i]`` and the energies ascend (``nan`` when no force field applies,
    then the conformers stay in embedding order).
    """

    mol: Chem.Mol
    energies_kcal_mol: tuple[float, ...]
    conformer_ids: tuple[int, ...]
    name: str = ""
    smiles: str = ""
    """Canonical SMILES of the input (without explicit hydrogens)."""
    force_field: str = ""
    """``"MMFF94"``, ``"UFF"`` or ``""`` (none had parameters)."""
    converged: tuple[bool, ...] = ()
    n_requested: int = 0
    n_attempted: int = 0
    """Embeddings tried (fewer than ``n_requested`` when the time limit stopped the run)."""
    n_embedded: int = 0
    """Embeddings that succeeded, before pruning."""
    timed_out: bool = False
    elapsed_s: float = 0.0
    message: str = ""
    """One line for the user: how many conformers, and why fewer than asked."""

    def __len__(self) -> int:
        return len(self.conformer_ids)

    @property
    def n_conformers(self) -> int:
        return len(self.conformer_ids)

    def relative_energies(self) -> tuple[float, ...]:
        """Energies above the lowest one (kcal/mol); the first is 0."""
        if not self.energies_kcal_mol:
            return ()
        lowest = self.energies_kcal_mol[0]
        return tuple(e - lowest for e in self.energies_kcal_mol)


@dataclass(slots=True, frozen=True)
class ConformerResult:
    """The outcome for one input record of :func:`generate_for_records`."""

    index: int
    name: str
    text: str
    """The record's SMILES or molblock, as read."""
    ensemble: ConformerEnsemble | None = None
    error: str = ""


# (positions or None when the embedding failed, energy, converged)
_Attempt = tuple[np.ndarray | None, float, bool]


# ----------------------------------------------------------------------------------------------
# Generation


def prepare_molecule(mol_or_smiles: Chem.Mol | str) -> Chem.Mol:
    """A sanitised copy with explicit hydrogens and no conformers; ``ValueError`` when unusable."""
    if isinstance(mol_or_smiles, str):
        text = mol_or_smiles.strip()
        if not text:
            raise ValueError("No molecule: the SMILES is empty.")
        if len(text) > MAX_SMILES_LENGTH:
            raise ValueError(f"The SMILES is too long ({len(text):,} characters).")
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(text)
        if mol is None:
            shown = text if len(text) <= 60 else text[:57] + "…"
            raise ValueError(f"Cannot read the SMILES '{shown}': RDKit cannot parse it.")
    elif isinstance(mol_or_smiles, Chem.Mol):
        mol = Chem.Mol(mol_or_smiles)
        try:
            with rdBase.BlockLogs():
                Chem.SanitizeMol(mol)
        except Exception as exc:  # RDKit raises several types; all mean "bad chemistry"
            raise ValueError(f"Invalid molecule: {str(exc).strip().splitlines()[0]}") from exc
    else:
        raise ValueError(
            f"Expected a SMILES or an RDKit molecule, not {type(mol_or_smiles).__name__}."
        )
    if mol.GetNumAtoms() == 0:
        raise ValueError("No molecule: it has no atoms.")
    mol.RemoveAllConformers()
    _check_size(mol)  # before AddHs: a huge input is refused before it costs anything
    return Chem.AddHs(mol)


def _check_size(mol: Chem.Mol) -> None:
    """``ValueError`` above :data:`MAX_HEAVY_ATOMS` heavy atoms or :data:`MAX_ATOMS_WITH_HYDROGENS`
    atoms with hydrogens (implicit ones counted, as embedding makes them explicit)."""
    heavy = mol.GetNumHeavyAtoms()
    total = mol.GetNumAtoms() + sum(atom.GetTotalNumHs() for atom in mol.GetAtoms())
    if heavy > MAX_HEAVY_ATOMS or total > MAX_ATOMS_WITH_HYDROGENS:
        raise ValueError(
            f"Too large for conformer generation: {heavy:,} heavy atoms and {total:,} atoms with "
            f"hydrogens (the limits are {MAX_HEAVY_ATOMS} and {MAX_ATOMS_WITH_HYDROGENS}); "
            "3D embedding of a molecule this size needs gigabytes of memory."
        )


def choose_force_field(mol: Chem.Mol) -> str:
    """``"MMFF94"`` when MMFF94 has parameters for every atom, else ``"UFF"`` if it has, else ``""``."""
    with rdBase.BlockLogs():
        if rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
            return _MMFF
        if rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
            return _UFF
    return ""


def _embed_parameters(options: ConformerOptions, first: int, seconds_left: float):
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = options.seed + first
    params.enableSequentialRandomSeeds = True
    params.pruneRmsThresh = -1.0  # pruned after optimisation, by energy
    params.numThreads = options.threads
    # Bounds a runaway embedding (whole seconds; RDKit checks it only between stages).
    params.timeout = max(1, math.ceil(seconds_left))
    return params


def _single_point_energy(mol: Chem.Mol, force_field: str, conf_id: int) -> float:
    if force_field == _MMFF:
        properties = rdForceFieldHelpers.MMFFGetMoleculeProperties(mol, mmffVariant=_MMFF)
        ff = rdForceFieldHelpers.MMFFGetMoleculeForceField(mol, properties, confId=conf_id)
    else:
        ff = rdForceFieldHelpers.UFFGetMoleculeForceField(mol, confId=conf_id)
    return float(ff.CalcEnergy())


def embed_batch(
    mol: Chem.Mol,
    first: int,
    count: int,
    options: ConformerOptions,
    force_field: str,
    seconds_left: float = 1e6,
) -> list[_Attempt]:
    """Embed and optimise conformers ``first`` … ``first + count - 1`` of ``mol`` (with Hs).

    The same calls as ``EmbedMultipleConfs`` + ``MMFFOptimizeMoleculeConfs`` on the whole range,
    so the results do not depend on the batch size. Returns one entry per conformer that embedded;
    failed embeddings are left out.
    """
    work = Chem.Mol(mol)
    with rdBase.BlockLogs():
        conf_ids = list(
            rdDistGeom.EmbedMultipleConfs(
                work, count, _embed_parameters(options, first, seconds_left)
            )
        )
        if not conf_ids:
            return []
        if force_field and options.optimise:
            if force_field == _MMFF:
                outcome = rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(
                    work,
                    numThreads=options.threads,
                    maxIters=options.max_iterations,
                    mmffVariant=_MMFF,
                )
            else:
                outcome = rdForceFieldHelpers.UFFOptimizeMoleculeConfs(
                    work, numThreads=options.threads, maxIters=options.max_iterations
                )
            energies = [float(energy) for _, energy in outcome]
            converged = [not_converged == 0 for not_converged, _ in outcome]
        elif force_field:
            energies = [_single_point_energy(work, force_field, c) for c in conf_ids]
            converged = [False] * len(conf_ids)
        else:
            energies = [math.nan] * len(conf_ids)
            converged = [False] * len(conf_ids)
    # MMFFOptimizeMoleculeConfs reports conformers in the molecule's order, which is conf_ids'.
    return [
        (work.GetConformer(c).GetPositions(), energy, ok)
        for c, energy, ok in zip(conf_ids, energies, converged, strict=True)
    ]


def _batch_size(
    options: ConformerOptions, done: int, seconds_per_round: float | None, seconds_left: float
) -> int:
    """Conformers for the next call: one per thread at first, then as many as fit in a short
    stretch (separate calls repeat RDKit's set-up, about 15 % of a drug-like embedding)."""
    threads = options.threads
    rounds = 1
    if seconds_per_round is not None:
        budget = min(BATCH_SECONDS, seconds_left)
        rounds = max(1, int(budget / max(seconds_per_round, 1e-4)))
    return min(options.n_conformers - done, threads * rounds)


def _embed_here(
    mol: Chem.Mol,
    options: ConformerOptions,
    force_field: str,
    deadline: float,
    is_cancelled: CancelCheck | None,
    report: Callable[[int], None],
) -> tuple[list[_Attempt], int]:
    """Embed in this process, in batches short enough for cancel and the time limit."""
    attempts: list[_Attempt] = []
    done = 0
    seconds_per_round: float | None = None
    while done < options.n_conformers:
        check_cancelled(is_cancelled)
        seconds_left = deadline - time.monotonic()
        if seconds_left <= 0:
            break
        count = _batch_size(options, done, seconds_per_round, seconds_left)
        started = time.monotonic()
        attempts.extend(embed_batch(mol, done, count, options, force_field, seconds_left))
        seconds_per_round = (time.monotonic() - started) / math.ceil(count / options.threads)
        done += count
        report(done)
    return attempts, done


def _child_main(connection, mol_binary: bytes, options: ConformerOptions, force_field: str):
    """Entry point of the child process: embed batch after batch and send each one back."""
    # Ctrl+C reaches every process of the terminal's job: the parent stops this one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        mol = Chem.Mol(mol_binary)
        done = 0
        seconds_per_round: float | None = None
        while done < options.n_conformers:
            # Batches as in this process: what a batch holds is lost when time runs out.
            count = _batch_size(options, done, seconds_per_round, options.time_limit_s)
            started = time.monotonic()
            attempts = embed_batch(mol, done, count, options, force_field, options.time_limit_s)
            seconds_per_round = (time.monotonic() - started) / math.ceil(count / options.threads)
            done += count
            connection.send(("batch", count, attempts))
        connection.send(("done", 0, []))
    except (BrokenPipeError, EOFError):
        pass  # the parent stopped listening (cancelled or out of time)
    except Exception as exc:  # sent to the parent, which raises it in the job
        connection.send(("error", 0, f"{type(exc).__name__}: {exc}"))
    finally:
        connection.close()


def _embed_isolated(
    mol: Chem.Mol,
    options: ConformerOptions,
    force_field: str,
    deadline: float,
    is_cancelled: CancelCheck | None,
    report: Callable[[int], None],
) -> tuple[list[_Attempt], int]:
    """Embed in a child process, terminated on cancel or at the deadline."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_child_main,
        args=(sender, mol.ToBinary(), options, force_field),
        name="DrugDeskConformers",
        daemon=True,
    )
    attempts: list[_Attempt] = []
    done = 0
    process.start()
    sender.close()  # the child holds its own copy; EOF then means the child has gone
    try:
        while done < options.n_conformers:
            check_cancelled(is_cancelled)
            seconds_left = deadline - time.monotonic()
            if seconds_left <= 0:
                break
            if not receiver.poll(min(_POLL_S, seconds_left)):
                continue
            try:
                kind, count, payload = receiver.recv()
            except EOFError:
                process.join(1.0)
                raise RuntimeError(
                    f"The conformer process stopped unexpectedly (exit code {process.exitcode})."
                ) from None
            if kind == "error":
                raise RuntimeError(f"Conformer generation failed: {payload}")
            if kind == "done":
                break
            attempts.extend(payload)
            done += count
            report(done)
    finally:
        receiver.close()
        if process.is_alive():
            process.terminate()
        process.join(2.0)
        if process.is_alive():
            process.kill()
            process.join()
    return attempts, done


def _symmetry_maps(heavy: Chem.Mol) -> list[list[tuple[int, int]]]:
    matches = heavy.GetSubstructMatches(
        heavy, uniquify=False, useChirality=False, maxMatches=MAX_SYMMETRY_MATCHES
    )
    return [list(enumerate(match)) for match in matches] or [
        [(i, i) for i in range(heavy.GetNumAtoms())]
    ]


def prune_by_rmsd(
    mol: Chem.Mol,
    conf_ids: Sequence[int],
    threshold: float,
    is_cancelled: CancelCheck | None = None,
) -> list[int]:
    """Keep each conformer (in the given order) unless it lies within ``threshold`` Å of one kept.

    RMSD over heavy atoms after the best alignment, symmetry-equivalent atom orders included (as
    ``rdMolAlign.GetBestRMS``). Pass the ids lowest energy first to keep the lowest of each group.
    """
    if threshold <= 0 or len(conf_ids) < 2:
        return list(conf_ids)
    heavy = Chem.RemoveHs(mol)
    probe = Chem.Mol(heavy)  # GetBestRMS moves the probe conformer; keep the reference still
    maps = _symmetry_maps(heavy)
    kept: list[int] = []
    for conf_id in conf_ids:
        check_cancelled(is_cancelled)
        if all(
            rdMolAlign.GetBestRMS(probe, heavy, prbId=conf_id, refId=other, map=maps) >= threshold
            for other in kept
        ):
            kept.append(conf_id)
    return kept


def generate_conformers(
    mol_or_smiles: Chem.Mol | str,
    options: ConformerOptions | None = None,
    *,
    name: str = "",
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> ConformerEnsemble:
    """Build a conformer ensemble: ETKDGv3 embeddings, MMFF94 optimisation, energy order, pruning.

    Parameters
    ----------
    mol_or_smiles
        An RDKit molecule (its conformers and missing hydrogens are ignored and re-made) or a SMILES.
    options
        See :class:`ConformerOptions`.
    name
        Carried into the ensemble (and the SDF records written from it).
    progress, is_cancelled
        The engine's callbacks (:mod:`core.jobs`).

    Returns
    -------
    ConformerEnsemble
        Lowest energy first. When the time limit stops the run, the conformers made so far with
        ``timed_out=True`` and a message that says so (possibly none at all).

    Raises
    ------
    ValueError
        For an empty or unreadable molecule, or when no embedding succeeded within the limit.
    core.jobs.JobCancelled
        When ``is_cancelled`` turns true (checked between conformers; a child process, for large
        molecules, is terminated at once).
    """
    options = options or ConformerOptions()
    progress = progress or no_progress
    started = time.monotonic()
    deadline = started + options.time_limit_s
    mol = prepare_molecule(mol_or_smiles)
    smiles = Chem.MolToSmiles(Chem.RemoveHs(mol))
    force_field = choose_force_field(mol)
    n = options.n_conformers
    isolate = options.isolate
    if isolate is None:
        isolate = mol.GetNumHeavyAtoms() > ISOLATE_ABOVE_HEAVY_ATOMS

    def report(done: int) -> None:
        progress(0.9 * done / n, f"Conformer {done} of {n}")

    progress(0.0, f"Embedding {n} conformers")
    embed = _embed_isolated if isolate else _embed_here
    attempts, n_attempted = embed(mol, options, force_field, deadline, is_cancelled, report)
    timed_out = n_attempted < n
    check_cancelled(is_cancelled)
    elapsed = time.monotonic() - started
    if not attempts and not timed_out:
        raise ValueError(f"RDKit could not embed {name or smiles} in 3D: all {n} attempts failed.")

    progress(0.9, "Pruning conformers")
    ensemble_mol = Chem.Mol(mol)
    for conf_id, (positions, _, _) in enumerate(attempts):
        conformer = Chem.Conformer(mol.GetNumAtoms())
        conformer.SetPositions(positions)
        conformer.Set3D(True)
        conformer.SetId(conf_id)
        ensemble_mol.AddConformer(conformer, assignId=False)
    energies = [energy for _, energy, _ in attempts]
    order = sorted(
        range(len(attempts)),
        key=lambda i: (math.isnan(energies[i]), 0.0 if math.isnan(energies[i]) else energies[i], i),
    )
    kept = prune_by_rmsd(ensemble_mol, order, options.rms_threshold, is_cancelled)

    result = Chem.Mol(mol)
    for new_id, old_id in enumerate(kept):
        conformer = Chem.Conformer(ensemble_mol.GetConformer(old_id))
        conformer.SetId(new_id)
        conformer.SetDoubleProp("energy_kcal_mol", energies[old_id])
        result.AddConformer(conformer, assignId=False)
    if len(kept) > 1:
        # One frame for all: switching conformers in a viewer shows what moved, not a spin.
        heavy_atoms = [a.GetIdx() for a in result.GetAtoms() if a.GetAtomicNum() > 1]
        rdMolAlign.AlignMolConformers(result, atomIds=heavy_atoms or None)
    ensemble = ConformerEnsemble(
        mol=result,
        energies_kcal_mol=tuple(energies[i] for i in kept),
        conformer_ids=tuple(range(len(kept))),
        name=name,
        smiles=smiles,
        force_field=force_field,
        converged=tuple(attempts[i][2] for i in kept),
        n_requested=n,
        n_attempted=n_attempted,
        n_embedded=len(attempts),
        timed_out=timed_out,
        elapsed_s=elapsed,
    )
    ensemble = _with_message(ensemble, options)
    progress(1.0, ensemble.message)
    return ensemble


def _with_message(ensemble: ConformerEnsemble, options: ConformerOptions) -> ConformerEnsemble:
    parts = []
    k, n = ensemble.n_conformers, ensemble.n_requested
    if ensemble.timed_out:
        if ensemble.n_embedded == 0:
            parts.append(
                f"Stopped at the {options.time_limit_s:g} s time limit before the first "
                "conformer was embedded; allow more time for a molecule this size"
            )
        else:
            parts.append(
                f"Stopped at the {options.time_limit_s:g} s time limit after "
                f"{ensemble.n_embedded} of {n} conformers"
            )
    failed = ensemble.n_attempted - ensemble.n_embedded
    if failed:
        parts.append(f"{failed} of {ensemble.n_attempted} embeddings failed")
    if ensemble.n_embedded:
        pruned = ensemble.n_embedded - k
        summary = f"{k} conformer{'s' if k != 1 else ''}"
        if pruned:
            summary += f" ({pruned} within {options.rms_threshold:g} Å RMSD of a lower one dropped)"
        parts.append(summary)
    if ensemble.force_field == _UFF:
        parts.append("MMFF94 has no parameters for this molecule: UFF energies")
    elif not ensemble.force_field:
        parts.append("no force field has parameters for this molecule: not optimised, no energies")
    elif not options.optimise:
        parts.append(f"not optimised ({ensemble.force_field} single-point energies)")
    parts.append(f"{ensemble.elapsed_s:.1f} s")
    message = "; ".join(parts)
    return replace(ensemble, message=message[0].upper() + message[1:])


def read_conformer_inputs(source: str | os.PathLike) -> list[RawRecord]:
    """Records from a compound file, or one record when ``source`` is a SMILES.

    An existing file is read as a file; anything else must parse as a SMILES (SMILES hold ``/``
    and ``\\`` for double-bond geometry, and may be longer than a file name may be).

    Raises
    ------
    core.chem.readers.LibraryReadError
        When the named file cannot be read, or ``source`` is neither a file nor a SMILES.
    """
    text = str(source).strip()
    if not text:
        raise LibraryReadError("No input: give a SMILES or a compound file.")
    path = Path(text)
    try:
        exists = path.exists()
    except (OSError, ValueError):  # a name too long for the file system, a NUL character
        exists = False
    if exists:
        return [record for chunk in iter_record_chunks(path) for record in chunk]
    if len(text) <= MAX_SMILES_LENGTH:
        with rdBase.BlockLogs():
            parses = Chem.MolFromSmiles(text) is not None
        if parses:
            return [RawRecord(index=0, name="mol1", text=text)]
    shown = text if len(text) <= 60 else text[:57] + "…"
    if path.suffix.lower() in SUPPORTED_SUFFIXES:
        raise LibraryReadError(f"{shown}: no such file.")
    raise LibraryReadError(
        f"'{shown}' is neither a file nor a SMILES: no such file exists and RDKit cannot parse it "
        "as a SMILES."
    )


def generate_for_records(
    records: Sequence[RawRecord],
    options: ConformerOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
) -> list[ConformerResult]:
    """Run :func:`generate_conformers` on each record; a failing record is kept with its error.

    Progress runs across the records; each molecule gets its own time limit.
    """
    options = options or ConformerOptions()
    progress = progress or no_progress
    total = max(1, len(records))
    results: list[ConformerResult] = []
    for position, record in enumerate(records):
        check_cancelled(is_cancelled)

        def report(fraction: float, message: str = "", _at: int = position, _name=record.name):
            progress((_at + max(0.0, fraction)) / total, f"{_name}: {message}")

        with rdBase.BlockLogs():  # the record's error says what RDKit would print
            mol, error = parse_record(record)
        ensemble = None
        if mol is not None:
            try:
                ensemble = generate_conformers(
                    mol, options, name=record.name, progress=report, is_cancelled=is_cancelled
                )
            except ValueError as exc:
                error = str(exc)
            except JobCancelled:
                raise
            except RuntimeError as exc:  # a child process that died (out of memory…)
                error = str(exc)
        results.append(ConformerResult(record.index, record.name, record.text, ensemble, error))
        report(1.0, error or (ensemble.message if ensemble else ""))
    return results


# ----------------------------------------------------------------------------------------------
# Writing


def conformer_format(path: str | os.PathLike) -> str:
    """``"sdf"``, ``"pdb"`` or ``"xyz"`` from the suffix; ``ValueError`` for anything else."""
    suffix = Path(path).suffix.lower()
    try:
        return CONFORMER_FORMATS[suffix]
    except KeyError:
        raise ValueError(
            f"Cannot write conformers to '{suffix or Path(path).name}': choose .sdf, .pdb or .xyz."
        ) from None


def _energy_text(energy: float) -> str:
    return "" if math.isnan(energy) else f"{energy:.4f}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def to_pdb_block(mol: Chem.Mol, conf_id: int = -1) -> str:
    """PDB text of one conformer, hydrogens and CONECT records included."""
    return Chem.MolToPDBBlock(mol, confId=conf_id)


def to_xyz_block(mol: Chem.Mol, conf_id: int = -1, comment: str | None = None) -> str:
    """XYZ text of one conformer (atom count, comment line, ``symbol x y z`` per atom)."""
    block = Chem.MolToXYZBlock(mol, confId=conf_id)
    if comment is not None:
        lines = block.split("\n")
        lines[1] = _one_line(comment)
        block = "\n".join(lines)
    return block


def _select(ensemble: ConformerEnsemble, indices: Iterable[int] | None) -> list[int]:
    chosen = list(range(ensemble.n_conformers)) if indices is None else list(indices)
    for index in chosen:
        if not 0 <= index < ensemble.n_conformers:
            raise ValueError(
                f"No conformer #{index + 1}: the ensemble has {ensemble.n_conformers}."
            )
    return chosen


def _sdf_text(ensemble: ConformerEnsemble, indices: list[int]) -> str:
    """SDF records of these conformers of ``ensemble``, as text.

    RDKit's SDWriter does not report a failed write (on a full disk it leaves an empty file and
    no error): it writes into memory here, and a Python file object writes the text and reports.
    """
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    writer.SetProps(list(SDF_TAGS))  # in this order; a tag a record lacks is left out
    mol = Chem.Mol(ensemble.mol)
    mol.SetProp("_Name", _one_line(ensemble.name))
    mol.SetProp("name", _one_line(ensemble.name))
    mol.SetProp("force_field", ensemble.force_field)
    mol.SetProp("smiles", ensemble.smiles)
    try:
        for index in indices:
            mol.SetProp("conformer", str(index + 1))
            energy = _energy_text(ensemble.energies_kcal_mol[index])
            if energy:
                mol.SetProp("energy_kcal_mol", energy)
            elif mol.HasProp("energy_kcal_mol"):
                mol.ClearProp("energy_kcal_mol")
            writer.write(mol, confId=ensemble.conformer_ids[index])
    finally:
        writer.close()
    return buffer.getvalue()


def write_sdf(ensembles: Iterable[ConformerEnsemble], path: str | os.PathLike) -> int:
    """Write every conformer of every ensemble as one SDF record (3D, hydrogens included).

    Tags: ``name``, ``conformer`` (1 = lowest energy), ``energy_kcal_mol`` (absent when no force
    field applied), ``force_field``, ``smiles``. Atomic (:func:`core.fileio.atomic_output`): a
    failure (a full disk) raises :class:`core.fileio.OutputError` and leaves an old file as it was.
    Returns the number of records written.
    """
    written = 0
    with atomic_output(path, "w", encoding="utf-8", newline="\n") as handle:
        for ensemble in ensembles:
            indices = _select(ensemble, None)
            handle.write(_sdf_text(ensemble, indices))
            written += len(indices)
    return written


def write_conformers(
    ensemble: ConformerEnsemble,
    path: str | os.PathLike,
    indices: Iterable[int] | None = None,
) -> int:
    """Write conformers of ``ensemble`` (all, or these positions in energy order) by suffix.

    ``.sdf``: one record each; ``.pdb``: one MODEL each; ``.xyz``: one frame each. Atomic, as
    :func:`write_sdf`. Returns the number of conformers written.
    """
    fmt = conformer_format(path)
    chosen = _select(ensemble, indices)
    if not chosen:
        raise ValueError("No conformers to write.")
    if fmt == "sdf":
        text, encoding = _sdf_text(ensemble, chosen), "utf-8"
    else:
        text = _pdb_text(ensemble, chosen) if fmt == "pdb" else _xyz_text(ensemble, chosen)
        encoding = "ascii"
    with atomic_output(path, "w", encoding=encoding, errors="replace", newline="\n") as handle:
        handle.write(text)
    return len(chosen)


def write_conformer(ensemble: ConformerEnsemble, index: int, path: str | os.PathLike) -> Path:
    """Write conformer ``index`` (0 = lowest energy) to ``path`` (.sdf, .pdb or .xyz)."""
    write_conformers(ensemble, path, [index])
    return Path(path)


def _pdb_text(ensemble: ConformerEnsemble, indices: list[int]) -> str:
    mol = Chem.Mol(ensemble.mol)
    mol.SetProp("_Name", _one_line(ensemble.name)[:70])
    remarks = [
        f"REMARK   1 CONFORMER {i + 1} ENERGY {_energy_text(ensemble.energies_kcal_mol[i]) or 'NONE'}"
        f" KCAL/MOL {ensemble.force_field}".rstrip()
        for i in indices
    ]
    if len(indices) == 1:
        body = to_pdb_block(mol, ensemble.conformer_ids[indices[0]])
    else:
        subset = Chem.Mol(mol)
        subset.RemoveAllConformers()
        for new_id, index in enumerate(indices):
            conformer = Chem.Conformer(mol.GetConformer(ensemble.conformer_ids[index]))
            conformer.SetId(new_id)
            subset.AddConformer(conformer, assignId=False)
        body = to_pdb_block(subset, -1)  # several conformers: one MODEL each
    return "\n".join(remarks) + "\n" + body


def _xyz_text(ensemble: ConformerEnsemble, indices: list[int]) -> str:
    frames = []
    for index in indices:
        energy = _energy_text(ensemble.energies_kcal_mol[index])
        comment = f"{ensemble.name or ensemble.smiles} conformer {index + 1}"
        if energy:
            comment += f" energy_kcal_mol={energy} {ensemble.force_field}"
        frames.append(to_xyz_block(ensemble.mol, ensemble.conformer_ids[index], comment))
    return "".join(block if block.endswith("\n") else block + "\n" for block in frames)

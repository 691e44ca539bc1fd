"""Conformer ensembles: 3D, the same molecule, energy order, pruning, limits, cancel and export."""

from __future__ import annotations

import errno
import math
import os
import time

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers, rdMolAlign

from core.chem.conformers import (
    SDF_TAGS,
    ConformerOptions,
    generate_conformers,
    generate_for_records,
    read_conformer_inputs,
    to_pdb_block,
    to_xyz_block,
    write_conformer,
    write_conformers,
    write_sdf,
)
from core.chem.export import ExportError
from core.chem.readers import LibraryReadError, RawRecord
from core.jobs import JobCancelled

# A stereocentre and a trans double bond: embedding must keep both.
STEREO_SMILES = "C/C=C/C(=O)N[C@@H](C)c1ccc(O)cc1"
FLEXIBLE_SMILES = "CCCCCCOc1ccccc1"
# Cyclo-(L-Ala)40: one ring of 200 heavy atoms; one ETKDG embedding takes several seconds.
MACROCYCLE_SMILES = "N1[C@@H](C)C(=O)" + "N[C@@H](C)C(=O)" * 38 + "N[C@@H](C)C1=O"


def _canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


@pytest.fixture(scope="module")
def ensemble():
    return generate_conformers(STEREO_SMILES, ConformerOptions(n_conformers=8), name="amide")


def test_conformers_are_3d_with_hydrogens(ensemble):
    mol = ensemble.mol
    assert ensemble.n_conformers >= 2
    assert mol.GetNumConformers() == ensemble.n_conformers == len(ensemble.energies_kcal_mol)
    assert list(ensemble.conformer_ids) == [c.GetId() for c in mol.GetConformers()]
    assert mol.GetNumAtoms() == Chem.AddHs(Chem.MolFromSmiles(STEREO_SMILES)).GetNumAtoms()
    heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    for conf_id in ensemble.conformer_ids:
        conformer = mol.GetConformer(conf_id)
        assert conformer.Is3D()
        positions = conformer.GetPositions()[heavy]
        # Not flat: the heavy atoms spread along the third principal axis too.
        singular_values = np.linalg.svd(positions - positions.mean(axis=0), compute_uv=False)
        assert singular_values[2] > 1.0


def test_embedding_keeps_the_molecule_and_its_stereo(ensemble):
    assert ensemble.smiles == _canonical(STEREO_SMILES)
    assert Chem.MolToSmiles(Chem.RemoveHs(ensemble.mol)) == _canonical(STEREO_SMILES)
    for conf_id in ensemble.conformer_ids:
        # Stereo read back from the coordinates, not from the input's flags.
        copy = Chem.Mol(ensemble.mol, confId=conf_id)
        for atom in copy.GetAtoms():
            atom.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
        for bond in copy.GetBonds():
            bond.SetStereo(Chem.BondStereo.STEREONONE)
        Chem.AssignStereochemistryFrom3D(copy, confId=conf_id)
        assert Chem.MolToSmiles(Chem.RemoveHs(copy)) == _canonical(STEREO_SMILES)


def test_energies_ascend_and_are_the_mmff94_energies_of_the_conformers(ensemble):
    energies = ensemble.energies_kcal_mol
    assert ensemble.force_field == "MMFF94"
    assert all(math.isfinite(e) for e in energies)
    assert list(energies) == sorted(energies)
    assert ensemble.relative_energies()[0] == 0.0
    properties = rdForceFieldHelpers.MMFFGetMoleculeProperties(ensemble.mol)
    for conf_id, energy in zip(ensemble.conformer_ids, energies, strict=True):
        ff = rdForceFieldHelpers.MMFFGetMoleculeForceField(ensemble.mol, properties, confId=conf_id)
        assert ff.CalcEnergy() == pytest.approx(energy, abs=1e-6)
        assert ensemble.mol.GetConformer(conf_id).GetDoubleProp("energy_kcal_mol") == energy


def test_same_conformers_as_a_bare_rdkit_call_with_the_same_settings():
    ours = generate_conformers(FLEXIBLE_SMILES, ConformerOptions(n_conformers=6, rms_threshold=0))
    mol = Chem.AddHs(Chem.MolFromSmiles(FLEXIBLE_SMILES))
    params = rdDistGeom.ETKDGv3()
    params.randomSeed = 42
    params.enableSequentialRandomSeeds = True
    assert len(rdDistGeom.EmbedMultipleConfs(mol, 6, params)) == 6
    bare = rdForceFieldHelpers.MMFFOptimizeMoleculeConfs(mol, maxIters=500)
    assert ours.n_conformers == 6
    assert ours.energies_kcal_mol == pytest.approx(sorted(e for _, e in bare), abs=1e-9)


def test_results_do_not_depend_on_threads_or_the_child_process():
    options = ConformerOptions(n_conformers=4, rms_threshold=0)
    here = generate_conformers(FLEXIBLE_SMILES, options)
    threaded = generate_conformers(
        FLEXIBLE_SMILES, ConformerOptions(n_conformers=4, rms_threshold=0, n_threads=2)
    )
    isolated = generate_conformers(
        FLEXIBLE_SMILES, ConformerOptions(n_conformers=4, rms_threshold=0, isolate=True)
    )
    assert threaded.energies_kcal_mol == here.energies_kcal_mol
    assert isolated.energies_kcal_mol == here.energies_kcal_mol
    for other in (threaded, isolated):
        for conf_id in here.conformer_ids:
            np.testing.assert_allclose(
                other.mol.GetConformer(conf_id).GetPositions(),
                here.mol.GetConformer(conf_id).GetPositions(),
                atol=1e-9,
            )


def test_pruning_drops_conformers_close_to_a_lower_energy_one():
    everything = generate_conformers(
        "CCCCC(C)O", ConformerOptions(n_conformers=20, rms_threshold=0)
    )
    pruned = generate_conformers("CCCCC(C)O", ConformerOptions(n_conformers=20, rms_threshold=0.5))
    assert everything.n_conformers == 20
    assert 1 <= pruned.n_conformers < everything.n_conformers
    assert pruned.energies_kcal_mol[0] == pytest.approx(everything.energies_kcal_mol[0])
    assert "dropped" in pruned.message
    heavy = Chem.RemoveHs(pruned.mol)
    for i in pruned.conformer_ids:
        for j in pruned.conformer_ids:
            if i < j:
                assert rdMolAlign.GetBestRMS(Chem.Mol(heavy), heavy, prbId=j, refId=i) >= 0.5


def test_runs_repeat_with_the_same_seed():
    first = generate_conformers(FLEXIBLE_SMILES, ConformerOptions(n_conformers=3))
    second = generate_conformers(FLEXIBLE_SMILES, ConformerOptions(n_conformers=3))
    assert first.energies_kcal_mol == second.energies_kcal_mol
    np.testing.assert_array_equal(
        first.mol.GetConformer(0).GetPositions(), second.mol.GetConformer(0).GetPositions()
    )


def test_uff_when_mmff94_has_no_parameters():
    ensemble = generate_conformers("[B-](F)(F)(F)F", ConformerOptions(n_conformers=2))
    assert ensemble.force_field == "UFF"
    assert "UFF" in ensemble.message
    assert ensemble.n_conformers >= 1


@pytest.mark.parametrize("bad", ["", "   ", "C1CC(", "not a smiles", Chem.Mol(), None])
def test_invalid_input_raises_a_clear_value_error(bad):
    with pytest.raises(ValueError, match=r"(?i)smiles|molecule|atoms"):
        generate_conformers(bad)


@pytest.mark.parametrize(
    "options",
    [{"n_conformers": 0}, {"time_limit_s": 0}, {"rms_threshold": -1}, {"seed": -1}],
)
def test_bad_options_are_refused(options):
    with pytest.raises(ValueError):
        ConformerOptions(**options)


@pytest.mark.slow
def test_macrocycle_stops_at_the_time_limit_and_says_so():
    limit = 2.0
    started = time.monotonic()
    ensemble = generate_conformers(MACROCYCLE_SMILES, ConformerOptions(time_limit_s=limit))
    elapsed = time.monotonic() - started
    # Functional: the run stopped before trying every embedding (ten take tens of seconds). The
    # clock only catches a limit ignored outright, with room for a busy 2-core machine (10x).
    assert ensemble.timed_out
    assert ensemble.n_attempted < ensemble.n_requested == 10
    assert ensemble.n_conformers < 10
    assert elapsed < 10 * limit
    assert "2 s time limit" in ensemble.message


@pytest.mark.slow
@pytest.mark.parametrize(
    ("smiles", "options"),
    [
        (MACROCYCLE_SMILES, ConformerOptions(time_limit_s=60)),  # child process
        (FLEXIBLE_SMILES, ConformerOptions(n_conformers=1000, time_limit_s=60)),  # in process
    ],
    ids=["macrocycle", "drug-like"],
)
def test_cancel_stops_promptly(smiles, options):
    cancel_at = time.monotonic() + 1.0
    with pytest.raises(JobCancelled):  # raised: the run did not go on to its 60 s limit
        generate_conformers(smiles, options, is_cancelled=lambda: time.monotonic() >= cancel_at)
    # Within 0.5 s on an idle machine; 10x that for a busy 2-core CI runner (the promptness
    # itself is measured in benchmarks, not asserted here).
    assert 0.0 <= time.monotonic() - cancel_at < 5.0


def test_cancel_before_start():
    with pytest.raises(JobCancelled):
        generate_conformers(FLEXIBLE_SMILES, is_cancelled=lambda: True)


# ----------------------------------------------------------------------------------------------
# Many records (the command line)


def test_generate_for_records_keeps_errors_and_order():
    records = [
        RawRecord(0, "hexyl", FLEXIBLE_SMILES),
        RawRecord(1, "broken", "C1CC("),
        RawRecord(2, "amide", STEREO_SMILES),
    ]
    reports: list[float] = []
    results = generate_for_records(
        records,
        ConformerOptions(n_conformers=3),
        progress=lambda fraction, message="": reports.append(fraction),
    )
    assert [r.name for r in results] == ["hexyl", "broken", "amide"]
    assert results[0].ensemble is not None and results[0].error == ""
    assert results[1].ensemble is None and "SMILES" in results[1].error
    assert results[2].ensemble is not None and results[2].ensemble.name == "amide"
    assert reports == sorted(reports)
    assert reports[-1] == pytest.approx(1.0)


def test_read_conformer_inputs_from_a_smiles_or_a_file(write_text):
    assert [r.text for r in read_conformer_inputs("CCO")] == ["CCO"]
    path = write_text("two.smi", "CCO ethanol\nc1ccccc1 benzene\n")
    assert [r.name for r in read_conformer_inputs(path)] == ["ethanol", "benzene"]
    assert [r.name for r in read_conformer_inputs(str(path))] == ["ethanol", "benzene"]
    with pytest.raises(LibraryReadError):
        read_conformer_inputs(path.parent / "missing.smi")


def test_read_conformer_inputs_takes_slashes_and_long_text_as_smiles(write_text, monkeypatch):
    # '/' and '\\' give a double bond's geometry: no file exists, so it is a SMILES.
    assert [r.text for r in read_conformer_inputs("C/C=C/c1ccccc1")] == ["C/C=C/c1ccccc1"]
    assert [r.text for r in read_conformer_inputs("F/C=C\\F")] == ["F/C=C\\F"]
    long_smiles = "C" * 300  # longer than a file name may be: no OSError (ENAMETOOLONG)
    assert [r.text for r in read_conformer_inputs(long_smiles)] == [long_smiles]
    # An existing file wins over a SMILES of the same spelling (and says why it cannot be read).
    path = write_text("CCO", "c1ccccc1 benzene\n")
    monkeypatch.chdir(path.parent)
    with pytest.raises(LibraryReadError, match="CCO: unsupported file type"):
        read_conformer_inputs("CCO")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("C1CC(", "neither a file nor a SMILES"),
        ("x" * 5000, "neither a file nor a SMILES"),
        ("results/mols.sdf", "no such file"),
        ("   ", "No input"),
    ],
)
def test_read_conformer_inputs_says_what_is_wrong(given, message):
    with pytest.raises(LibraryReadError, match=message):
        read_conformer_inputs(given)


def test_molecules_above_the_size_limit_are_refused_before_embedding():
    from core.chem.conformers import MAX_ATOMS_WITH_HYDROGENS, MAX_HEAVY_ATOMS

    assert (MAX_HEAVY_ATOMS, MAX_ATOMS_WITH_HYDROGENS) == (250, 500)
    with pytest.raises(ValueError, match="5,000 heavy atoms and 15,002 atoms with hydrogens"):
        generate_conformers("C" * 5000)  # took > 6 GB within 6 s before the limit
    # 170 carbons: under the heavy-atom limit, over the one with hydrogens (512 atoms).
    with pytest.raises(ValueError, match="170 heavy atoms and 512 atoms"):
        generate_conformers(Chem.MolFromSmiles("C" * 170))
    results = generate_for_records(
        [RawRecord(0, "chain", "C" * 260), RawRecord(1, "ethanol", "CCO")],
        ConformerOptions(n_conformers=1),
    )
    assert "Too large for conformer generation" in results[0].error
    assert results[0].ensemble is None and results[1].ensemble is not None


# ----------------------------------------------------------------------------------------------
# Writing


def test_sdf_round_trip_keeps_hydrogens_coordinates_and_energy_tags(ensemble, tmp_path):
    other = generate_conformers("CCO", ConformerOptions(n_conformers=2), name="ethanol")
    path = tmp_path / "out.sdf"
    written = write_sdf([ensemble, other], path)
    assert written == ensemble.n_conformers + other.n_conformers
    records = list(Chem.SDMolSupplier(str(path), removeHs=False))
    assert len(records) == written and all(r is not None for r in records)
    for index, record in enumerate(records[: ensemble.n_conformers]):
        assert set(SDF_TAGS) <= set(record.GetPropNames())
        assert record.GetProp("_Name") == "amide"
        assert record.GetProp("name") == "amide"
        assert record.GetProp("conformer") == str(index + 1)
        assert record.GetProp("smiles") == ensemble.smiles
        assert record.GetProp("force_field") == "MMFF94"
        assert float(record.GetProp("energy_kcal_mol")) == pytest.approx(
            ensemble.energies_kcal_mol[index], abs=1e-4
        )
        assert record.GetNumAtoms() == ensemble.mol.GetNumAtoms()
        assert record.GetConformer().Is3D()
        np.testing.assert_allclose(
            record.GetConformer().GetPositions(),
            ensemble.mol.GetConformer(ensemble.conformer_ids[index]).GetPositions(),
            atol=1e-4,
        )
    assert records[-1].GetProp("name") == "ethanol"


def test_pdb_and_xyz_of_one_conformer_parse(ensemble, tmp_path):
    n_atoms = ensemble.mol.GetNumAtoms()
    pdb = Chem.MolFromPDBBlock(to_pdb_block(ensemble.mol, 1), removeHs=False)
    assert pdb is not None and pdb.GetNumAtoms() == n_atoms
    xyz = to_xyz_block(ensemble.mol, 1, comment="amide #2").splitlines()
    assert int(xyz[0]) == n_atoms and xyz[1] == "amide #2" and len(xyz) == n_atoms + 2
    assert xyz[2].split()[0] in {"C", "N", "O", "H"}

    write_conformer(ensemble, 1, tmp_path / "one.pdb")
    from_file = Chem.MolFromPDBFile(str(tmp_path / "one.pdb"), removeHs=False)
    assert from_file.GetNumAtoms() == n_atoms
    np.testing.assert_allclose(
        from_file.GetConformer().GetPositions(),
        ensemble.mol.GetConformer(1).GetPositions(),
        atol=1e-3,
    )
    write_conformer(ensemble, 0, tmp_path / "one.xyz")
    lines = (tmp_path / "one.xyz").read_text().splitlines()
    assert int(lines[0]) == n_atoms and "energy_kcal_mol=" in lines[1]
    write_conformer(ensemble, 0, tmp_path / "one.sdf")
    assert len(list(Chem.SDMolSupplier(str(tmp_path / "one.sdf"), removeHs=False))) == 1


def test_write_conformers_all_as_pdb_models_and_xyz_frames(ensemble, tmp_path):
    k, n_atoms = ensemble.n_conformers, ensemble.mol.GetNumAtoms()
    assert write_conformers(ensemble, tmp_path / "all.pdb") == k
    text = (tmp_path / "all.pdb").read_text()
    assert text.count("\nMODEL") + text.startswith("MODEL") == k
    write_conformers(ensemble, tmp_path / "all.xyz")
    assert (tmp_path / "all.xyz").read_text().splitlines().count(str(n_atoms)) == k


def test_write_refuses_unknown_suffix_and_bad_index_and_keeps_old_file(ensemble, tmp_path):
    with pytest.raises(ValueError, match=r"\.sdf, \.pdb or \.xyz"):
        write_conformer(ensemble, 0, tmp_path / "out.mol2")
    with pytest.raises(ValueError, match="No conformer"):
        write_conformer(ensemble, ensemble.n_conformers, tmp_path / "out.xyz")
    with pytest.raises(ExportError):
        write_sdf([ensemble], tmp_path / "missing-folder" / "out.sdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".sdf", ".pdb", ".xyz"])
def test_full_disk_is_reported_and_keeps_the_old_file(ensemble, tmp_path, monkeypatch, suffix):
    target = tmp_path / f"old{suffix}"
    target.write_text("old conformers\n")

    def full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ExportError, match=rf"old\{suffix}: no space left on device$"):
        write_conformers(ensemble, target)
    if suffix == ".sdf":
        with pytest.raises(ExportError, match=r"no space left on device$"):
            write_sdf([ensemble], target)
    assert target.read_text() == "old conformers\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"old{suffix}"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_sdf_to_a_full_device_is_an_error_not_a_success(ensemble):
    # RDKit's SDWriter wrote nothing and raised nothing here: the command said it had succeeded.
    with pytest.raises(ExportError, match=r"^Cannot write /dev/full: no space left on device$"):
        write_sdf([ensemble], "/dev/full")

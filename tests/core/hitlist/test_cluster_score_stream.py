"""The streamed hit list of ``score --cluster`` (issue 18): written from the parts one part (or
one batch per part) at a time, it equals the file written from the joined table byte for byte
(workbooks: cell for cell; reports: but their date), with repeats across parts, input columns
typed over the whole file, rows lacking a profile's value, invalid rows, ``--top`` and
``--ranked-only``, and a model's predictions. Parts come from the workers' own function, with
no cluster."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from rdkit import Chem

from core.chem.cluster_parts import PartWork, read_parts, run_part_records
from core.chem.readers import ReadOptions, iter_record_chunks
from core.chem.standardize import StandardizeOptions
from core.hitlist.cluster_score import _join, score_part, write_scored_parts
from core.hitlist.desirability import Criterion, DesirabilityProfile
from core.hitlist.hit_list_file import write_hit_list
from core.hitlist.presets import preset
from core.hitlist.scoring import ScoringRequest, score_library

DATA = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data"
TRAIN = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "OCCO", "CCBr"] * 2
# Potency (Act, missing for some rows: "no value for Act") and weight.
POTENT = DesirabilityProfile(
    "potent",
    (
        Criterion("Act", good=8.0, bad=5.0, label="potent"),
        Criterion("mw", good=350.0, bad=550.0, label="small"),
    ),
)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    """262 rows: 200 ChEMBL molecules with potency (some missing), a column numeric in the
    first part only (text over the file), a numeric column, an invalid SMILES, a name clash
    (``mw``), then 60 of them again (repeats in other parts) and one more repeat of a nameless
    row."""
    smiles = pd.read_csv(
        DATA / "CHEMBL2321810.smi", sep=r"\s+", header=None, names=["smiles", "Name"]
    )
    table = smiles.merge(pd.read_csv(DATA / "CHEMBL2321810_act.csv"), on="Name").head(200)
    table["Act"] = table["Act"].astype(object)
    table.loc[table.index % 9 == 4, "Act"] = ""
    table["assay"] = [str(i) if i < 30 else ("n.d." if i % 5 == 0 else str(i)) for i in range(200)]
    table["batch"] = range(200)
    table["mw"] = "clash"
    table["Name"] = table["Name"].astype(str)
    table.loc[3, "Name"] = ""  # a nameless first copy (the reader names it by its row)
    broken = pd.DataFrame({"smiles": ["C1CC"], "Name": ["broken"], "Act": [1.0], "assay": ["1"]})
    table = pd.concat([table, broken, table.head(60), table.iloc[[3]]], ignore_index=True)
    path = tmp_path_factory.mktemp("lib") / "library.csv"
    table.to_csv(path, index=False)
    return path


def _parts(library: Path, folder: Path, models=(), cuts=(0, 37, 120, 199, 201, 240)):
    records = [r for chunk in iter_record_chunks(library, ReadOptions()) for r in chunk]
    bounds = [*cuts, len(records)]
    folder.mkdir()
    work = PartWork(score_part, (StandardizeOptions(), tuple(map(str, models)), False, "cpu"))
    tallies = [
        run_part_records(records[a:b], work, str(folder), n)[2]
        for n, (a, b) in enumerate(itertools.pairwise(bounds))
    ]
    return tallies, len(records)


def _before(folder, tallies, library, request, out, **options):
    """What ``score --cluster`` wrote until the parts were streamed: the joined table."""
    frames = read_parts(folder, len(tallies))
    joined, cache, described = _join(frames, tallies, library, request)
    result = score_library(joined.table, request, cache, described=described)
    return write_hit_list(joined.table, result, request.profile, out, **options), result


def _cells(path: Path) -> list[tuple]:
    return [tuple(c.value for c in row) for row in load_workbook(path).active.iter_rows()]


def _same_file(before: Path, after: Path) -> None:
    if before.suffix == ".xlsx":
        assert _cells(after) == _cells(before)
        assert len(load_workbook(after).active._images) == len(load_workbook(before).active._images)
    elif before.suffix == ".html":
        undated = re.compile(rb"Created [0-9-]+ [0-9:]+ UTC")
        assert undated.sub(b"", after.read_bytes()) == undated.sub(b"", before.read_bytes())
    else:
        assert after.read_bytes() == before.read_bytes()


@pytest.fixture(scope="module")
def scored(library, tmp_path_factory):
    folder = tmp_path_factory.mktemp("score") / "out.csv.parts"
    return folder, *_parts(library, folder)


CASES = [
    ("oral", "csv", {}),
    ("oral", "tsv", {}),
    ("oral", "sdf", {}),
    ("oral", "xlsx", {}),
    ("oral", "html", {}),
    ("potent", "csv", {}),
    ("potent", "csv", {"top": 25}),
    ("potent", "csv", {"ranked_only": True}),
    ("potent", "html", {"top": 7}),
    ("cns", "csv", {}),  # the basic pKa, estimated here part by part
]


@pytest.mark.parametrize(("profile", "fmt", "options"), CASES)
def test_the_streamed_hit_list_is_the_joined_one(scored, library, profile, fmt, options, tmp_path):
    folder, tallies, n_records = scored
    request = ScoringRequest(POTENT if profile == "potent" else preset(profile))
    before, after = tmp_path / f"before.{fmt}", tmp_path / f"after.{fmt}"
    title = "Hit list: library.csv"
    wrote, result = _before(folder, tallies, library, request, before, title=title, **options)
    done = write_scored_parts(
        folder, len(tallies), n_records, tallies, request, after, title=title, **options
    )
    _same_file(before, after)
    assert done.describe().replace(str(after), "OUT") == wrote.describe().replace(
        str(before), "OUT"
    )
    assert (done.n_unscored, done.n_duplicates) == (wrote.n_unscored, result.n_duplicates)
    invalid = wrote.table[~wrote.table["valid"]].head(10)
    assert list(done.invalid_examples) == list(zip(invalid["name"], invalid["error"], strict=True))
    if profile == "potent" and not options:
        problems = pd.read_csv(after, keep_default_na=False)["problem"]
        assert problems.str.startswith("repeats ").sum() == 61
        assert (problems == "no value for Act").sum() > 10
    # Run files are the parts folder's and go with it; nothing else was left beside the output.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([before.name, after.name])


def test_a_model_s_predictions_stream_too(library, tmp_path, make_tiny_regression_model):
    model = make_tiny_regression_model(tmp_path / "model", TRAIN)
    folder = tmp_path / "out.parts"
    tallies, n_records = _parts(library, folder, models=(model,))
    profile = DesirabilityProfile("logS", (Criterion("logS", good=3.0, bad=0.0),))
    request = ScoringRequest(profile, (model,))
    before, after = tmp_path / "before.csv", tmp_path / "after.csv"
    _before(folder, tallies, library, request, before)
    write_scored_parts(folder, len(tallies), n_records, tallies, request, after)
    _same_file(before, after)
    assert "logS" in pd.read_csv(after).columns


def test_a_missing_part_leaves_the_output_as_it_was(scored, tmp_path):
    from core.cluster import ClusterError

    folder, tallies, n_records = scored
    out = tmp_path / "kept.csv"
    out.write_text("old\n")
    request = ScoringRequest(preset("oral"))
    with pytest.raises(ClusterError, match="missing"):
        write_scored_parts(
            folder, len(tallies) + 1, n_records, [*tallies, tallies[0]], request, out
        )
    with pytest.raises(ClusterError, match="records were read; nothing written"):
        write_scored_parts(
            folder, len(tallies), n_records + 1, tallies, request, out, source_name="x"
        )
    assert out.read_text() == "old\n"

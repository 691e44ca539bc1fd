"""Streaming the cluster parts back (issue 18): ``props`` writes its parts one after another
with the bytes the joined table gave (a workbook: the same cells), a sorted k-way merge of the
parts is one global order, and the merge holds about a batch per part, never the whole table.
Parts are written by the workers' own function (``run_part_records``), with no cluster."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from rdkit import Chem

from core.chem.cluster_parts import (
    PartWork,
    concat_parts,
    iter_parts,
    merge_sorted_parts,
    read_parts,
    run_part_records,
)
from core.chem.cluster_props import describe_records, write_props_parts
from core.chem.cluster_search import SearchRequest, iter_merged_hits, merge_hits, search_part
from core.chem.export import XLSX_MAX_ROWS, ExportError, export_table, export_table_stream
from core.chem.library import LoadOptions, load_library, props_table
from core.chem.readers import iter_record_chunks
from core.chem.standardize import StandardizeOptions
from core.cluster import ClusterError
from core.jobs import JobCancelled

CHEMBL = Path(Chem.__file__).parent.parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
FORMATS = ("csv", "tsv", "sdf", "xlsx")


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    """320 records (200 ChEMBL, a part of invalid ones only, 100 repeats: duplicates across
    parts) described as parts of uneven sizes, and the single-machine ``props`` table."""
    lines = CHEMBL.read_text().splitlines()
    bad = ["C1CC broken", "xyz? bad", "=C odd", "C(C nope"] * 5
    root = tmp_path_factory.mktemp("merge")
    source = root / "lib.smi"
    source.write_text("\n".join([*lines[:200], *bad, *lines[:100]]) + "\n")
    records = [r for chunk in iter_record_chunks(source) for r in chunk]
    folder = root / "out.parts"
    folder.mkdir()
    work = PartWork(describe_records, (StandardizeOptions(),))
    bounds = [0, 7, 120, 200, 220, 221, 300, len(records)]  # part 3: invalid records only
    for number, (a, b) in enumerate(itertools.pairwise(bounds)):
        run_part_records(records[a:b], work, str(folder), number)
    single = props_table(load_library(source, LoadOptions(workers=1)))
    return folder, len(bounds) - 1, len(records), single, records, bounds


def _cells(path: Path) -> list[tuple]:
    sheet = load_workbook(path, read_only=False).active
    return [tuple(cell.value for cell in row) for row in sheet.iter_rows()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_props_parts_streamed_equal_the_joined_table_written_at_once(described, fmt, tmp_path):
    folder, n_parts, n_records, single, _, _ = described
    joined = concat_parts(read_parts(folder, n_parts), single.iloc[:0])
    pd.testing.assert_frame_equal(joined, single)  # the parts are the single-machine table
    before, after = tmp_path / f"before.{fmt}", tmp_path / f"after.{fmt}"
    export_table(joined, before)  # what props --cluster wrote until the parts were streamed
    summary = write_props_parts(folder, n_parts, n_records, after, "lib.smi")
    assert summary == "320 records: 300 valid, 20 invalid, 100 duplicates"
    if fmt == "xlsx":
        assert _cells(after) == _cells(before)
        book = load_workbook(after).active
        assert book.freeze_panes == "A2" and book["A1"].font.b
        assert (
            book.column_dimensions["D"].width
            == load_workbook(before).active.column_dimensions["D"].width
        )
    else:
        assert after.read_bytes() == before.read_bytes()


def test_a_missing_part_or_a_cancel_leaves_the_output_as_it_was(described, tmp_path):
    folder, n_parts, n_records, *_ = described
    out = tmp_path / "kept.csv"
    out.write_text("old\n")
    with pytest.raises(ClusterError, match="part 7 is missing"):
        write_props_parts(folder, 10, n_records, out)
    with pytest.raises(ClusterError, match="the parts hold 320 rows, 321 records were read"):
        write_props_parts(folder, n_parts, n_records + 1, out, "lib.smi")
    calls = itertools.count()
    with pytest.raises(JobCancelled):
        write_props_parts(folder, n_parts, n_records, out, is_cancelled=lambda: next(calls) > 3)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.csv"]  # no temporary left


def test_a_workbook_over_the_sheet_limit_is_refused_before_a_row_is_read(tmp_path, monkeypatch):
    from core.chem import export

    out = tmp_path / "big.xlsx"
    with pytest.raises(ExportError, match=r"1,048,576 rows do not fit in a workbook sheet"):
        write_props_parts(tmp_path / "no-parts-needed", 0, XLSX_MAX_ROWS, out)
    write_props_parts(tmp_path / "no-parts-needed", 0, 0, tmp_path / "none.xlsx")  # fits
    # A stream that turns out longer than a sheet: refused as the row after the limit comes.
    monkeypatch.setattr(export, "XLSX_MAX_ROWS", 10)
    frames = (pd.DataFrame({"x": np.arange(n)}) for n in (9, 1))
    with pytest.raises(ExportError, match="more than 9 rows do not fit in a workbook sheet"):
        export_table_stream(frames, out, pd.DataFrame({"x": np.zeros(0, np.int64)}))
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["none.xlsx"]


def test_an_empty_stream_writes_the_header(tmp_path):
    empty = pd.DataFrame({"a": pd.Series([], dtype=object), "b": np.zeros(0)})
    export_table_stream(iter(()), tmp_path / "s.csv", empty)
    export_table(empty, tmp_path / "t.csv")
    assert (tmp_path / "s.csv").read_bytes() == (tmp_path / "t.csv").read_bytes() == b'"a","b"\n'


def test_parts_come_back_with_the_joined_dtypes_and_positions(tmp_path):
    """A column that is empty in one part and text in another is ``object`` in both, and every
    part is indexed by its rows' positions in the joined table."""
    pd.DataFrame({"t": [None, None], "v": [1.0, 2.0]}).to_parquet(tmp_path / "part-00000.parquet")
    pd.DataFrame({"t": ["a"], "v": [3.0]}).to_parquet(tmp_path / "part-00001.parquet")
    frames = list(iter_parts(tmp_path, 2))
    joined = concat_parts(read_parts(tmp_path, 2), pd.DataFrame())
    pd.testing.assert_frame_equal(pd.concat(frames), joined)
    assert [list(f.index) for f in frames] == [[0, 1], [2]]


def _sorted_parts(folder: Path, n_parts: int, rows: int, seed: int = 0) -> pd.DataFrame:
    """``n_parts`` parts of ``rows`` rows each, every part sorted by (-score, row), with ties
    between parts; returns the whole table sorted the same way."""
    rng = np.random.default_rng(seed)
    frames = []
    for number in range(n_parts):
        row = np.arange(number * rows, (number + 1) * rows, dtype=np.int64)
        frame = pd.DataFrame(
            {
                "row": row,
                "score": rng.integers(0, 50, rows) / 50.0,  # many ties
                "name": [f"m{r}" for r in row],
                "count": pd.array(rng.integers(0, 9, rows), dtype="Int64"),
            }
        )
        frame = frame.sort_values(["score", "row"], ascending=[False, True], ignore_index=True)
        frame.to_parquet(folder / f"part-{number:05d}.parquet", index=False)
        frames.append(frame)
    whole = pd.concat(frames, ignore_index=True)
    return whole.sort_values(["score", "row"], ascending=[False, True], ignore_index=True)


def _rank_key(batch) -> list[tuple]:
    score = batch.column("score").to_numpy(zero_copy_only=False)
    return list(zip((-score).tolist(), batch.column("row").to_pylist(), strict=True))


def test_the_k_way_merge_is_the_global_order(tmp_path, monkeypatch):
    from core.chem import cluster_parts

    monkeypatch.setattr(cluster_parts, "MERGE_ROWS_IN_MEMORY", 200)  # batches of 100 rows out
    whole = _sorted_parts(tmp_path, 7, 300)
    merged = list(merge_sorted_parts(tmp_path, 7, _rank_key, batch_rows=64))
    assert [len(m) for m in merged] == [100] * 21
    pd.testing.assert_frame_equal(pd.concat(merged, ignore_index=True), whole)
    top = pd.concat(merge_sorted_parts(tmp_path, 7, _rank_key, limit=150), ignore_index=True)
    pd.testing.assert_frame_equal(top, whole.head(150))


def test_more_parts_than_files_open_at_once_merge_in_groups(tmp_path, monkeypatch):
    from core.chem import cluster_parts

    monkeypatch.setattr(cluster_parts, "MAX_OPEN_FILES", 3)  # 7 parts: groups of 3, 3, 1
    whole = _sorted_parts(tmp_path, 7, 300, seed=2)
    merged = pd.concat(merge_sorted_parts(tmp_path, 7, _rank_key), ignore_index=True)
    pd.testing.assert_frame_equal(merged, whole)
    top = pd.concat(merge_sorted_parts(tmp_path, 7, _rank_key, limit=50), ignore_index=True)
    pd.testing.assert_frame_equal(top, whole.head(50))
    assert len(list(tmp_path.iterdir())) == 7  # the groups' files are gone


def test_the_merge_holds_about_two_parts_of_forty_never_the_table(tmp_path):
    """40 parts of 5,000 rows merged: the Arrow memory the merge holds is a few parts' worth,
    never the table's 40: a batch of every part (one part's rows), the batch being gathered
    (another), and each open part's reader (about 4 KB a column: three of these narrow parts'
    worth here, a few MB for 256 open parts of real rows, the most a merge opens). Every batch
    that comes out is in order after the one before. (Reading a batch of a part written in one
    row group decodes the whole row group: the merge rewrites such parts in row groups of its
    batches first; held whole, the 40 row groups would be 40 parts' worth.)"""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_parts, rows = 40, 5000
    _sorted_parts(tmp_path, n_parts, rows, seed=1)
    part_bytes = pq.read_table(tmp_path / "part-00000.parquet").nbytes
    held = pa.total_allocated_bytes()
    peak = 0
    last = None
    total = 0
    for batch in merge_sorted_parts(tmp_path, n_parts, _rank_key):
        first = (-batch["score"].iloc[0], batch["row"].iloc[0])
        assert last is None or last < first
        last = (-batch["score"].iloc[-1], batch["row"].iloc[-1])
        total += len(batch)
        peak = max(peak, pa.total_allocated_bytes() - held)
    assert total == n_parts * rows
    assert part_bytes < peak < 5 * part_bytes, (peak / part_bytes, part_bytes)
    assert len(list(tmp_path.iterdir())) == n_parts  # the rewritten parts are gone


def test_props_parts_are_written_one_at_a_time(described, tmp_path, monkeypatch):
    """``write_props_parts`` never holds more than one part (and the one being written)."""
    import weakref

    from core.chem import cluster_parts

    folder, n_parts, n_records, *_ = described
    alive: list = []
    most = 0
    real = pd.read_parquet

    def reading(*args, **kwargs):
        nonlocal most
        frame = real(*args, **kwargs)
        most = max(most, sum(ref() is not None for ref in alive))
        alive.append(weakref.ref(frame))
        return frame

    monkeypatch.setattr(cluster_parts.pd, "read_parquet", reading)
    write_props_parts(folder, n_parts, n_records, tmp_path / "one.csv")
    assert len(alive) == n_parts and most <= 1


QUERY = "O=S(=O)(Nc1cccs1)c2ccc(Oc3ccccc3c4ccccc4)c(c2)C#N"  # the first record
SEARCHES = {
    "threshold": SearchRequest(similar=QUERY, threshold=0.5),
    "top-k": SearchRequest(similar=QUERY, top_k=40),
    "substructure": SearchRequest(substructure="c1ncccc1"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", SEARCHES)
def test_search_hits_streamed_equal_the_merged_table_written_at_once(
    described, kind, fmt, tmp_path
):
    _, _, _, _, records, bounds = described
    request = SEARCHES[kind]
    folder = tmp_path / "hits.parts"
    folder.mkdir()
    work = PartWork(search_part, (request,), one_row_per_record=False)
    for number, (a, b) in enumerate(itertools.pairwise(bounds)):
        run_part_records(records[a:b], work, str(folder), number)
    merged = merge_hits(read_parts(folder, len(bounds) - 1), request)
    assert len(merged) > 20 and merged["row"].is_unique  # a part of invalid records only too
    if kind == "top-k":
        assert len(merged) == 40
    before, after = tmp_path / f"before.{fmt}", tmp_path / f"after.{fmt}"
    export_table(merged, before, smiles_column="smiles")
    streamed = iter_merged_hits(folder, len(bounds) - 1, request)
    export_table_stream(streamed, after, merged.iloc[:0], smiles_column="smiles")
    if fmt == "xlsx":
        assert _cells(after) == _cells(before)
    else:
        assert after.read_bytes() == before.read_bytes()

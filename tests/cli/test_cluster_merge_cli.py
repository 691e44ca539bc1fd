"""``props --cluster`` into a workbook (issue 18): a file with more records than a sheet holds
is refused in one line before any cluster starts, and nothing is written."""

from __future__ import annotations

from app.cli import main


def test_a_workbook_too_small_for_the_file_is_refused_before_the_cluster_starts(
    tmp_path, capsys, monkeypatch
):
    from core import cluster

    def no_cluster(*_args, **_kwargs):
        raise AssertionError("a cluster was started")

    monkeypatch.setattr(cluster, "connect", no_cluster)
    big = tmp_path / "big.smi"
    big.write_bytes(b"C\n" * 1_100_000)
    out = tmp_path / "out.xlsx"
    code = main(["props", str(big), "-o", str(out), "--cluster", "local:1"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert err.splitlines() == [
        f"drugdesk props: error: Cannot write {out}: about 1,100,000 rows do not fit in a "
        "workbook sheet (at most 1,048,575 under its header): write .csv, .tsv or .sdf instead"
    ]
    assert not out.exists()

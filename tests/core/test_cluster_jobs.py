"""The cluster jobs the window runs (issue 18, Preferences → Compute, File > On the cluster): a
connection test counts the workers; the properties, hit list and search hits of a file computed
on a cluster equal what ``drugdesk props|score|search`` writes on this machine; a bad address,
query or output is refused before anything starts, and a job that fails writes nothing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.cli import main
from core.chem.cluster_search import SearchRequest
from core.chem.search import SearchError
from core.cluster import ClusterAddressError
from core.cluster_jobs import (
    check_cluster,
    props_file_on_cluster,
    score_file_on_cluster,
    search_file_on_cluster,
)

SMILES = [
    "CCO ethanol",
    "c1ccccc1O phenol",
    "CC(=O)Nc1ccc(O)cc1 paracetamol",
    "not_a_smiles broken",
    "CN1C=NC2=C1C(=O)N(C(=O)N2C)C caffeine",
    "O=C(O)c1ccccc1OC(C)=O aspirin",
] * 5


def test_connection_test_counts_the_workers():
    info = check_cluster("local:1")
    assert info.workers == 1 and info.threads == 1
    assert info.describe().startswith("local:1: 1 worker, 1 thread")


def test_properties_on_a_local_cluster_equal_this_machines(tmp_path):
    library = tmp_path / "lib.smi"
    library.write_text("\n".join(SMILES) + "\n")
    here = tmp_path / "here.csv"
    assert main(["props", str(library), "-o", str(here)]) == 0
    there = tmp_path / "cluster.csv"
    messages = []
    summary = props_file_on_cluster(
        "local:1",
        library,
        there,
        partition_size=7,
        progress=lambda _fraction, message: messages.append(message),
    )
    pd.testing.assert_frame_equal(pd.read_csv(there), pd.read_csv(here))
    assert "Written to cluster.csv by 1 workers" in summary
    assert any(message.startswith("local:1 (1 worker): ") for message in messages)


def test_a_bad_address_is_refused_before_connecting(tmp_path):
    with pytest.raises(ClusterAddressError, match="expected tcp://HOST:PORT"):
        props_file_on_cluster("http://example.org", tmp_path / "x.smi", tmp_path / "o.csv")
    assert not (tmp_path / "o.csv").exists()


# ----------------------------------------------------------------------------------------------
# Score and search (File > On the cluster): one cluster of two workers for the module, reached
# by its tcp:// address as a scheduler the user runs would be.

TRAIN = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCl", "c1ccncc1", "OCCO", "CCBr"] * 2


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, make_tiny_regression_model):
    return make_tiny_regression_model(tmp_path_factory.mktemp("cluster_jobs"), TRAIN)


@pytest.fixture
def library(tmp_path):
    path = tmp_path / "lib.smi"
    path.write_text("\n".join(SMILES) + "\n")
    return path


@pytest.mark.slow  # about 20 s: torch starts in the model host and in both workers
def test_a_hit_list_scored_on_a_cluster_equals_drugdesk_score(
    capsys, scheduler, model_dir, library, tmp_path
):
    here = tmp_path / "here.csv"
    assert main(["score", str(library), "--model", str(model_dir), "-o", str(here)]) == 0
    there = tmp_path / "there.csv"
    messages = []
    summary = score_file_on_cluster(
        scheduler,
        library,
        there,
        [model_dir],
        partition_size=7,
        progress=lambda _fraction, message: messages.append(message),
    )
    want = pd.read_csv(here, keep_default_na=False)
    got = pd.read_csv(there, keep_default_na=False)
    assert len(got) == len(SMILES) and "logS" in got.columns
    # Every column exact but the model's: its batches hold the part's molecules, not the file's.
    pd.testing.assert_frame_equal(got.drop(columns="logS"), want.drop(columns="logS"))
    valid = want["logS"] != ""
    np.testing.assert_allclose(
        got["logS"][valid].astype(float), want["logS"][valid].astype(float), rtol=1e-6
    )
    ranked = int((want["rank"] != "").sum())
    assert (summary.rows, summary.hits, summary.records, summary.workers) == (30, ranked, 30, 2)
    assert summary.describe().startswith(f"Scored lib.smi on {scheduler} (2 workers) in ")
    assert f": {ranked} of 30 records ranked; 30 rows written to there.csv." in str(summary)
    assert any(m.startswith(f"{scheduler} (2 workers): ") for m in messages)
    assert not there.with_name(there.name + ".parts").exists()


@pytest.mark.parametrize(
    ("options", "request_"),
    [
        (["--similar", "CC(=O)Nc1ccc(O)cc1", "--threshold", "0.2"], SearchRequest("CC(=O)Nc1ccc(O)cc1", threshold=0.2)),
        (["--similar", "c1ccccc1O", "--top-k", "4"], SearchRequest("c1ccccc1O", top_k=4)),
        (["--substructure", "c1ccccc1"], SearchRequest(substructure="c1ccccc1")),
    ],
    ids=["threshold", "top-k", "substructure"],
)  # fmt: skip
def test_search_hits_on_a_cluster_equal_drugdesk_search(
    scheduler, library, tmp_path, options, request_
):
    here = tmp_path / "here.csv"
    assert main(["search", str(library), *options, "--workers", "1", "-o", str(here)]) == 0
    there = tmp_path / "there.csv"
    # The substructure search ships the records (workers sharing no disk with this machine).
    ship = request_.substructure is not None
    summary = search_file_on_cluster(
        scheduler, library, there, request_, partition_size=7, ship_records=ship
    )
    assert there.read_bytes() == here.read_bytes()
    hits = len(pd.read_csv(here))
    assert hits >= 4
    assert (summary.rows, summary.hits, summary.records) == (hits, hits, 30)
    assert f"{hits} hits among 30 records" in str(summary)
    assert str(summary).endswith("5 records without a readable structure.")


def test_score_and_search_refuse_before_connecting(tmp_path, library):
    # local:1 is never started: each of these is refused first.
    with pytest.raises(ValueError, match=r"lib\.smi is the input file"):
        score_file_on_cluster("local:1", library, library)
    with pytest.raises(ValueError, match=r"Cannot write 'out\.pdf'"):
        score_file_on_cluster("local:1", library, tmp_path / "out.pdf")
    with pytest.raises(SearchError, match="'C1CC' is not a SMILES"):
        search_file_on_cluster(
            "local:1", library, tmp_path / "o.csv", SearchRequest("C1CC", top_k=3)
        )
    with pytest.raises(SearchError, match="not a valid SMARTS"):
        search_file_on_cluster(
            "local:1", library, tmp_path / "o.csv", SearchRequest(substructure="c1[")
        )
    with pytest.raises(SearchError, match="top k must be at least 1"):
        search_file_on_cluster(
            "local:1", library, tmp_path / "o.csv", SearchRequest("CCO", top_k=0)
        )
    with pytest.raises(ClusterAddressError):
        search_file_on_cluster(
            "http://x", library, tmp_path / "o.csv", SearchRequest("CCO", top_k=3)
        )
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "out.pdf").exists()


def test_a_score_that_fails_on_the_workers_writes_nothing(scheduler, library, tmp_path):
    out = tmp_path / "hits.csv"
    out.write_text("the last hit list\n")
    with pytest.raises(ValueError, match="no_such_model"):
        score_file_on_cluster(scheduler, library, out, [tmp_path / "no_such_model"])
    assert out.read_text() == "the last hit list\n"
    assert not out.with_name(out.name + ".parts").exists()

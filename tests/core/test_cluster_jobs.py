"""The cluster jobs the window runs (issue 18, Preferences → Compute): a connection test counts
the workers; the properties of a file computed on a local cluster equal ``drugdesk props`` on
this machine; a bad address is refused before anything starts."""

from __future__ import annotations

import pandas as pd
import pytest

from app.cli import main
from core.cluster import ClusterAddressError
from core.cluster_jobs import check_cluster, props_file_on_cluster

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

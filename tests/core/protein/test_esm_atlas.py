"""Folding on the web with the ESM Atlas fold API (core.protein.esm_atlas), against a loopback
stand-in (tests/esm_services.py): never the internet."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest

from core.protein.esm_atlas import (
    MAX_WEB_LENGTH,
    WebFoldError,
    check_web_sequence,
    fold_online,
    fold_online_and_parse,
    plddt_per_atom,
)


def _esm_services():
    spec = importlib.util.spec_from_file_location(
        "esm_services", Path(__file__).parents[2] / "esm_services.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services_module = _esm_services()


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    real_connect = socket.socket.connect

    def connect(self, address):
        host = address[0] if isinstance(address, tuple) else address
        assert host == "127.0.0.1", f"a test tried to reach {address}"
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def atlas(monkeypatch, tmp_path):
    with services_module.EsmServices(monkeypatch, tmp_path / "hf-cache") as services:
        yield services


def test_fold_online_posts_the_sequence_and_returns_pdb_with_plddt_0_to_100(atlas):
    pdb = fold_online(">query\nmkta\n")
    assert atlas.requests[0][:2] == ("POST", "/foldSequence/v1/pdb/")
    assert atlas.requests[0][3] == b"MKTA"  # the clean sequence is the body, nothing else
    values = plddt_per_atom(pdb)
    assert len(values) == 16
    assert values[:2].tolist() == [81.0, 83.0]  # the service's 0.81 and 0.83, as percent
    assert "  1.00 81.00           N" in pdb.splitlines()[1]  # B-factor columns 61-66


def test_the_folded_structure_opens_with_per_residue_plddt(atlas):
    result, structure = fold_online_and_parse("MKTA")
    assert result.sequence == "MKTA" and result.pae is None
    np.testing.assert_allclose(result.plddt, [83.25, 60.0, 93.0, 72.0])
    assert result.mean_plddt == pytest.approx(77.0625)
    assert list(structure.res_names) == ["MET", "LYS", "THR", "ALA"]
    assert float(np.max(structure.bfactors)) == pytest.approx(95.0)  # colour by pLDDT reads 0-100


def test_more_than_400_residues_are_refused_without_a_request(atlas):
    with pytest.raises(
        WebFoldError, match=f"401 residues; ESM Atlas folds at most {MAX_WEB_LENGTH}"
    ):
        fold_online("A" * 401)
    with pytest.raises(WebFoldError, match="2000 residues; ESM Atlas folds at most 400"):
        fold_online("A" * 2000)  # over the local limit too: still the web limit's message
    assert atlas.requests == []
    assert check_web_sequence("A" * 400) == "A" * 400


def test_letters_that_are_not_amino_acids_are_named_without_a_request(atlas):
    with pytest.raises(WebFoldError, match=r"'1' at 3.*'J' at 5"):
        fold_online("MK1TJ")
    assert atlas.requests == []


def test_a_server_error_is_one_clear_message(atlas):
    atlas.fold_status = 500
    with pytest.raises(WebFoldError) as caught:
        fold_online("MKTA")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("ESM Atlas (127.0.0.1:")
    assert "answered HTTP 500" in message and "not folded" in message


def test_an_answer_that_is_not_pdb_is_refused(atlas):
    atlas.fold_answer = b'{"error": "sequence too long"}'
    with pytest.raises(WebFoldError, match="not a PDB structure"):
        fold_online("MKTA")


def test_no_connection_names_the_service(monkeypatch):
    monkeypatch.setenv("DRUGDESK_ESMATLAS_URL", "http://127.0.0.1:9")
    with pytest.raises(WebFoldError, match=r"ESM Atlas \(127.0.0.1:9\) did not answer"):
        fold_online("MKTA")

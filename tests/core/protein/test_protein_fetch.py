"""Fetching from RCSB and AlphaFold DB, against a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import gzip
import http.server
import socket
import threading

import pytest

from core.paths import data_dir
from core.protein.fetch import FetchError, fetch_alphafold, fetch_and_read, fetch_pdb
from core.protein.structure import read_structure
from core.protein.synthetic import synthetic_complex_pdb


@pytest.fixture
def server(tmp_path):
    """Serves ``tmp_path / "www"`` on 127.0.0.1; yields (base URL, folder, request log)."""
    root = tmp_path / "www"
    root.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(self.path)

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root, requests
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_fetch_pdb_downloads_into_the_cache_once(server):
    import gemmi

    base, root, requests = server
    st = gemmi.read_pdb_string(synthetic_complex_pdb())
    st.setup_entities()
    cif_text = st.make_mmcif_document().as_string()
    (root / "9XYZ.cif.gz").write_bytes(gzip.compress(cif_text.encode()))

    path = fetch_pdb("9xyz", base_url=base)
    assert path.is_relative_to(data_dir())
    assert path.name == "9XYZ.cif.gz"
    structure = read_structure(path)
    assert [lig.name for lig in structure.ligands] == ["LIG"]
    served = len(requests)
    assert fetch_pdb("9XYZ", base_url=base) == path
    assert len(requests) == served  # the second time comes from the cache
    assert not list(path.parent.glob("*.part"))


def test_fetch_alphafold_tries_model_versions(server, monkeypatch):
    base, root, _ = server
    (root / "AF-P69905-F1-model_v4.pdb").write_text(synthetic_complex_pdb(plddt=True))
    monkeypatch.setenv("DRUGDESK_ALPHAFOLD_URL", base)
    structure = fetch_and_read("P69905")
    assert structure.looks_predicted()
    assert fetch_alphafold("p69905").name == "AF-P69905-F1-model_v4.pdb"


def test_unknown_ids_and_offline_give_clear_messages(server):
    base, _, _ = server
    with pytest.raises(FetchError, match="not found"):
        fetch_pdb("1ABC", base_url=base)
    with pytest.raises(FetchError, match="not found"):
        fetch_alphafold("Q99999", base_url=base)
    with pytest.raises(FetchError, match="not a PDB id"):
        fetch_pdb("hello", base_url=base)
    with pytest.raises(FetchError, match="not a UniProt accession"):
        fetch_alphafold("12", base_url=base)
    with socket.socket() as sock:  # a port with nobody listening: as if offline
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(FetchError, match="no connection"):
        fetch_pdb("2ABC", base_url=closed)

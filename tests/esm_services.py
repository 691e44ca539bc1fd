"""A loopback stand-in for the Hugging Face hub (facebook/esmfold_v1's file list and files) and
the ESM Atlas fold API, for tests/core/protein/test_esm_weights.py, test_esm_atlas.py,
tests/cli/test_esm_cli.py and tests/ui/protein/test_predict_web.py (each loads it by path, as
tests/conftest.py loads target_services.py). No test reaches the real services.

``with EsmServices(monkeypatch) as hub`` serves on 127.0.0.1 and points ``HF_ENDPOINT``,
``HF_HUB_CACHE`` (a folder of the test) and ``DRUGDESK_ESMATLAS_URL`` at it; ``HF_HUB_OFFLINE``
is unset. ``hub.cut_after["pytorch_model.bin"] = n`` sends the file's full Content-Length but
closes the connection after ``n`` bytes (once); ``hub.hold_after[name] = n`` sends ``n`` bytes and
waits for ``hub.release`` before the rest; ``hub.corrupt.add(name)`` flips a byte of what is
sent; ``hub.fold_status = 500`` makes the fold API fail; ``hub.requests`` logs
``(method, path, headers, body)``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = "facebook/esmfold_v1"
COMMIT = "75a3841ee059df2bf4d56688166c8fb459ddd97a"

CONFIG = json.dumps(
    {"architectures": ["EsmForProteinFolding"], "model_type": "esm", "is_folding_model": True}
).encode()
VOCAB = b"<cls>\n<pad>\n<eos>\n<unk>\nL\nA\nG\nV\n"
# Stand-in weights: 300 kB of bytes that are not all alike (so a corrupted byte changes the hash).
WEIGHTS = bytes((i * 7 + i // 251) % 256 for i in range(300_000))

# A small PDB as ESM Atlas sends it: pLDDT 0-1 in the B-factor column.
ATLAS_PDB = (
    "HEADER    ESMFOLD PREDICTION\n"
    "ATOM      1  N   MET A   1      11.104   6.134  -6.504  1.00  0.81           N\n"
    "ATOM      2  CA  MET A   1      11.639   6.071  -5.147  1.00  0.83           C\n"
    "ATOM      3  C   MET A   1      10.654   6.645  -4.133  1.00  0.85           C\n"
    "ATOM      4  O   MET A   1       9.451   6.404  -4.209  1.00  0.84           O\n"
    "ATOM      5  N   LYS A   2      11.169   7.406  -3.174  1.00  0.62           N\n"
    "ATOM      6  CA  LYS A   2      10.330   8.013  -2.143  1.00  0.60           C\n"
    "ATOM      7  C   LYS A   2       9.546   6.960  -1.362  1.00  0.58           C\n"
    "ATOM      8  O   LYS A   2       8.354   7.130  -1.113  1.00  0.60           O\n"
    "ATOM      9  N   THR A   3      10.227   5.873  -0.998  1.00  0.91           N\n"
    "ATOM     10  CA  THR A   3       9.598   4.790  -0.247  1.00  0.93           C\n"
    "ATOM     11  C   THR A   3       8.488   4.122  -1.059  1.00  0.95           C\n"
    "ATOM     12  O   THR A   3       7.375   3.932  -0.572  1.00  0.93           O\n"
    "ATOM     13  N   ALA A   4       8.795   3.776  -2.306  1.00  0.70           N\n"
    "ATOM     14  CA  ALA A   4       7.818   3.136  -3.184  1.00  0.72           C\n"
    "ATOM     15  C   ALA A   4       6.617   4.043  -3.438  1.00  0.74           C\n"
    "ATOM     16  O   ALA A   4       5.477   3.582  -3.450  1.00  0.72           O\n"
    "TER      17      ALA A   4\n"
    "END\n"
)


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class EsmServices:
    def __init__(self, monkeypatch, cache: Path) -> None:
        self.monkeypatch = monkeypatch
        self.cache = cache
        self.files: dict[str, bytes] = {
            "config.json": CONFIG,
            "vocab.txt": VOCAB,
            "pytorch_model.bin": WEIGHTS,
            "README.md": b"# ESMFold\n",
        }
        self.lfs = {"pytorch_model.bin"}
        self.listed_sha256: dict[str, str] = {}  # override what the file list says
        self.cut_after: dict[str, int] = {}
        self.corrupt: set[str] = set()
        self.hold_after: dict[str, int] = {}  # send n bytes, then wait for ``release``
        self.release = threading.Event()
        self.ignore_range = False
        self.fold_status = 200
        self.fold_answer = ATLAS_PDB.encode()
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def paths(self, method: str | None = None) -> list[str]:
        return [path for m, path, _, _ in self.requests if method is None or m == method]

    def file_list(self) -> dict:
        siblings = []
        for name, data in self.files.items():
            item = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
            if name in self.lfs:
                sha = self.listed_sha256.get(name, hashlib.sha256(data).hexdigest())
                item["lfs"] = {"sha256": sha, "size": len(data), "pointerSize": 134}
            siblings.append(item)
        return {"id": REPO, "sha": COMMIT, "siblings": siblings}

    def __enter__(self) -> EsmServices:
        services = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _log(self, method: str, body: bytes = b"") -> None:
                services.requests.append((method, self.path, dict(self.headers.items()), body))

            def _send(self, status: int, body: bytes, content_type: str, extra=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._log("GET")
                api = f"/api/models/{REPO}/revision/main"
                if self.path.split("?")[0] == api:
                    body = json.dumps(services.file_list()).encode()
                    return self._send(200, body, "application/json")
                prefix = f"/{REPO}/resolve/{COMMIT}/"
                name = self.path[len(prefix) :] if self.path.startswith(prefix) else None
                if name not in services.files:
                    return self._send(404, b"Entry not found", "text/plain")
                data = services.files[name]
                if name in services.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start = 0
                wanted = self.headers.get("Range")
                if wanted and not services.ignore_range:
                    start = int(wanted.split("=")[1].split("-")[0])
                if start >= len(data) and start:
                    return self._send(416, b"", "text/plain")
                part = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(part)))
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                cut = services.cut_after.pop(name, None)
                if cut is not None:  # the connection drops mid-file
                    self.wfile.write(part[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                hold = services.hold_after.pop(name, None)
                if hold is not None:  # a slow connection: the test acts meanwhile
                    self.wfile.write(part[:hold])
                    self.wfile.flush()
                    services.release.wait(20)
                    part = part[hold:]
                self.wfile.write(part)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self._log("POST", body)
                if self.path != "/foldSequence/v1/pdb/":
                    return self._send(404, b"Not found", "text/plain")
                if services.fold_status != 200:
                    return self._send(services.fold_status, b"Internal Server Error", "text/plain")
                return self._send(200, services.fold_answer, "text/plain")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.monkeypatch.setenv("HF_ENDPOINT", self.url)
        self.monkeypatch.setenv("HF_HUB_CACHE", str(self.cache))
        self.monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        self.monkeypatch.setenv("DRUGDESK_ESMATLAS_URL", self.url)
        return self

    def __exit__(self, *exc_info) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

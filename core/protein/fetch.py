"""Fetch structures over HTTPS into a cache: PDB entries from RCSB, models from AlphaFold DB.

Files land in ``core.paths.data_dir() / "structures"`` and are read from there next time. The base
URLs can be changed (arguments, or ``DRUGDESK_RCSB_URL`` / ``DRUGDESK_ALPHAFOLD_URL``) so that tests
serve files from a local HTTP server. Unknown identifiers and network failures raise
:class:`FetchError` (a ``ValueError``) with a message for the user.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path

from core.jobs import check_cancelled
from core.paths import data_dir
from core.protein.structure import MAX_FILE_BYTES

RCSB_URL = "https://files.rcsb.org/download"
ALPHAFOLD_URL = "https://alphafold.ebi.ac.uk/files"
ALPHAFOLD_VERSIONS = ("v6", "v5", "v4")
"""Model versions tried in turn (AlphaFold DB keeps the newest)."""
TIMEOUT_S = 30.0
USER_AGENT = "DrugDesk (structure viewer)"

PDB_ID = re.compile(r"^[0-9][A-Za-z0-9]{3}$")
UNIPROT = re.compile(r"^([OPQ][0-9][A-Z0-9]{3}[0-9]|[A-NR-Z][0-9]([A-Z][A-Z0-9]{2}[0-9]){1,2})$")


class FetchError(ValueError):
    """A structure could not be fetched (unknown id, offline, server error)."""


def cache_dir() -> Path:
    return data_dir() / "structures"


def _base(value: str | None, variable: str, default: str) -> str:
    return (value or os.environ.get(variable) or default).rstrip("/")


def fetch_pdb(
    pdb_id: str,
    *,
    base_url: str | None = None,
    fmt: str = "cif",
    progress=None,
    is_cancelled=None,
) -> Path:
    """Download PDB entry ``pdb_id`` (``fmt``: "cif" or "pdb", gzipped) unless cached; its path."""
    code = pdb_id.strip()
    if not PDB_ID.match(code):
        raise FetchError(
            f"{pdb_id!r} is not a PDB id: four characters, a digit first (for example 1HVR)."
        )
    code = code.upper()
    if fmt not in ("cif", "pdb"):
        raise FetchError(f"Unknown PDB file format {fmt!r}: use 'cif' or 'pdb'.")
    name = f"{code}.{fmt}.gz"
    url = f"{_base(base_url, 'DRUGDESK_RCSB_URL', RCSB_URL)}/{name}"
    return _download([url], cache_dir() / "pdb" / name, f"PDB entry {code}", progress, is_cancelled)


def fetch_alphafold(
    accession: str, *, base_url: str | None = None, progress=None, is_cancelled=None
) -> Path:
    """Download the AlphaFold DB model of UniProt ``accession`` (PDB format) unless cached."""
    code = accession.strip().upper()
    if not UNIPROT.match(code):
        raise FetchError(
            f"{accession!r} is not a UniProt accession (for example P69905 or A0A0C5B5G6)."
        )
    base = _base(base_url, "DRUGDESK_ALPHAFOLD_URL", ALPHAFOLD_URL)
    cached = sorted((cache_dir() / "alphafold").glob(f"AF-{code}-F1-model_v*.pdb"))
    if cached:
        return cached[-1]
    urls = [f"{base}/AF-{code}-F1-model_{version}.pdb" for version in ALPHAFOLD_VERSIONS]
    return _download(
        urls, cache_dir() / "alphafold", f"AlphaFold model of {code}", progress, is_cancelled
    )


def fetch_structure(identifier: str, **kwargs) -> Path:
    """A PDB id (4 characters) or a UniProt accession (AlphaFold DB), fetched as fits."""
    code = identifier.strip()
    if PDB_ID.match(code):
        return fetch_pdb(code, base_url=kwargs.get("rcsb_url"), progress=kwargs.get("progress"),
                         is_cancelled=kwargs.get("is_cancelled"))  # fmt: skip
    return fetch_alphafold(code, base_url=kwargs.get("alphafold_url"),
                           progress=kwargs.get("progress"), is_cancelled=kwargs.get("is_cancelled"))  # fmt: skip


def _download(urls: list[str], target: Path, what: str, progress, is_cancelled) -> Path:
    """Fetch the first of ``urls`` that exists into ``target`` (a file, or a folder for the
    URL's own file name), atomically."""
    if target.suffix and target.is_file():
        return target
    missing = []
    for url in urls:
        destination = target if target.suffix else target / url.rsplit("/", 1)[-1]
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                total = int(response.headers.get("Content-Length") or 0)
                destination.parent.mkdir(parents=True, exist_ok=True)
                partial = destination.with_name(destination.name + ".part")
                received = 0
                with open(partial, "wb") as handle:
                    while True:
                        check_cancelled(is_cancelled)
                        chunk = response.read(256 * 1024)
                        if not chunk:
                            break
                        received += len(chunk)
                        if received > MAX_FILE_BYTES:
                            raise FetchError(f"{what} is over {MAX_FILE_BYTES / 1e6:.0f} MB.")
                        handle.write(chunk)
                        if progress:
                            fraction = received / total if total else -1
                            progress(fraction, f"Downloading {what}: {received / 1e6:.1f} MB")
                if received == 0:
                    partial.unlink(missing_ok=True)
                    raise FetchError(f"The server sent an empty file for {what} ({url}).")
                os.replace(partial, destination)
                return destination
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                missing.append(url)
                continue
            raise FetchError(
                f"Could not fetch {what}: the server answered {exc.code} ({url})."
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise FetchError(
                f"Could not fetch {what}: no connection to {url.split('/')[2]} ({reason}). "
                "Check the network (DrugDesk works offline with local files)."
            ) from None
        finally:
            leftover = target if target.suffix else target / url.rsplit("/", 1)[-1]
            part = leftover.with_name(leftover.name + ".part")
            if part.exists():
                part.unlink(missing_ok=True)
    raise FetchError(f"{what} was not found (no file at {missing[0]}): check the identifier.")


def fetch_and_read(identifier: str, *, progress=None, is_cancelled=None):
    """Fetch a PDB entry or an AlphaFold model (see :func:`fetch_structure`) and read it."""
    from core.protein.structure import load_for_display

    path = fetch_structure(identifier, progress=progress, is_cancelled=is_cancelled)
    return load_for_display(path)

"""Fold a sequence on the web with the ESM Atlas fold API (ESMFold on Meta's servers).

``POST $DRUGDESK_ESMATLAS_URL/foldSequence/v1/pdb/`` with the sequence as the body (default
``https://api.esmatlas.com``) answers PDB text with pLDDT in the B-factor column. The service
folds sequences of at most :data:`MAX_WEB_LENGTH` residues; longer ones, and letters that are
not amino acids, are refused here before anything is sent.

The sequence leaves the computer: callers ask the user first (the Predict tab does; on the
command line ``--web`` is the asking). Nothing here stores the sequence or the answer.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from core.jobs import check_cancelled
from core.protein.fetch import USER_AGENT
from core.protein.prediction import PredictionError, PredictionResult, clean_sequence

ESMATLAS_URL = "https://api.esmatlas.com"
FOLD_PATH = "/foldSequence/v1/pdb/"
SERVICE = "ESM Atlas"
MAX_WEB_LENGTH = 400
"""Longest sequence the ESM Atlas fold API accepts."""
TIMEOUT_S = 180.0
"""Folding 400 residues on a busy server takes a while."""
MAX_ANSWER_BYTES = 20_000_000
"""A 400-residue PDB is about 300 kB."""
DEVICE_LABEL = "the ESM Atlas web service"


class WebFoldError(ValueError):
    """The web fold was refused or failed: one line naming the service and the problem."""


def esmatlas_url() -> str:
    """``DRUGDESK_ESMATLAS_URL`` or https://api.esmatlas.com, without a trailing slash."""
    return (os.environ.get("DRUGDESK_ESMATLAS_URL") or ESMATLAS_URL).rstrip("/")


def esmatlas_host() -> str:
    """The service's host name, for the question asked before a sequence is sent."""
    return urllib.parse.urlsplit(esmatlas_url()).netloc or esmatlas_url()


def check_web_sequence(text: str) -> str:
    """The clean sequence in ``text`` if the web service may fold it.

    Raises
    ------
    WebFoldError
        No sequence, letters that are not amino acids (named with their positions), or more than
        :data:`MAX_WEB_LENGTH` residues.
    """
    try:
        sequence = clean_sequence(text)
    except PredictionError as exc:
        if "residues; ESMFold here is limited" not in str(exc):
            raise WebFoldError(str(exc)) from None
        # Too long for local folding too: count the residues for the message below.
        body = "".join(line for line in text.splitlines() if not line.startswith(">"))
        sequence = "".join(body.split())
    if len(sequence) > MAX_WEB_LENGTH:
        raise WebFoldError(
            f"The sequence has {len(sequence)} residues; {SERVICE} folds at most "
            f"{MAX_WEB_LENGTH}: fold it here with the ESMFold weights instead."
        )
    return sequence


def fold_online(
    sequence: str, *, base_url: str | None = None, progress=None, is_cancelled=None
) -> str:
    """Fold ``sequence`` with the ESM Atlas fold API; the PDB text (pLDDT 0–100 in B-factors).

    The service writes pLDDT as 0–1 in the B-factor column; it is rewritten as 0–100, as
    AlphaFold and the local ESMFold write it, so that pLDDT colouring reads it the same way.

    Raises
    ------
    WebFoldError
        A refused sequence (no request is made), no connection, an HTTP error, or an answer that
        is not a PDB structure.
    """
    sequence = check_web_sequence(sequence)
    check_cancelled(is_cancelled)
    url = (base_url.rstrip("/") if base_url else esmatlas_url()) + FOLD_PATH
    host = urllib.parse.urlsplit(url).netloc or url
    if progress:
        progress(-1.0, f"Folding {len(sequence)} residues on {SERVICE} ({host})")
    request = urllib.request.Request(
        url,
        data=sequence.encode("ascii"),
        # What ``curl --data SEQUENCE`` sends, the call the service documents.
        headers={"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            data = response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise WebFoldError(
            f"{SERVICE} ({host}) answered HTTP {exc.code} ({exc.reason}): the sequence was not "
            "folded; try again later, or fold it here with the ESMFold weights."
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, TimeoutError) or "timed out" in str(reason):
            reason = "timed out"
        raise WebFoldError(
            f"{SERVICE} ({host}) did not answer: {reason}. Check the network, or fold it here "
            "with the ESMFold weights."
        ) from None
    except OSError as exc:  # a reset connection while reading
        raise WebFoldError(f"{SERVICE} ({host}) did not answer in full: {exc}.") from None
    check_cancelled(is_cancelled)
    if len(data) > MAX_ANSWER_BYTES:
        raise WebFoldError(f"{SERVICE} sent more than {MAX_ANSWER_BYTES / 1e6:.0f} MB: refused.")
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise WebFoldError(f"{SERVICE} sent an answer that is not PDB text.") from None
    atoms = [line for line in text.splitlines() if line.startswith(("ATOM", "HETATM"))]
    if not atoms:
        first = " ".join(text.split())[:80]
        raise WebFoldError(
            f"{SERVICE} sent an answer that is not a PDB structure ({first!r}): not opened."
        )
    if progress:
        progress(1.0, f"Folded on {SERVICE}")
    return _plddt_as_percent(text)


def _plddt_as_percent(text: str) -> str:
    """Rewrite 0–1 B-factors as 0–100 (columns 61–66); text already in 0–100 is kept."""
    values = plddt_per_atom(text)
    if len(values) == 0 or float(values.max()) > 1.0:
        return text
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("ATOM", "HETATM")) and len(line) >= 66:
            try:
                value = float(line[60:66]) * 100.0
            except ValueError:
                pass
            else:
                line = f"{line[:60]}{value:6.2f}{line[66:]}"
        lines.append(line)
    return "".join(lines)


def plddt_per_atom(pdb_text: str) -> np.ndarray:
    """The B-factor column of every ATOM/HETATM record."""
    values = []
    for line in pdb_text.splitlines():
        if line.startswith(("ATOM", "HETATM")):
            try:
                values.append(float(line[60:66]))
            except ValueError:
                values.append(0.0)
    return np.asarray(values, dtype=float)


def plddt_per_residue(pdb_text: str) -> np.ndarray:
    """Mean B-factor of each residue (chain, number, insertion code), in file order."""
    sums: dict[tuple[str, str], list[float]] = {}
    for line in pdb_text.splitlines():
        if line.startswith("ATOM"):
            key = (line[21:22], line[22:27])
            try:
                sums.setdefault(key, []).append(float(line[60:66]))
            except ValueError:
                continue
    return np.asarray([float(np.mean(v)) for v in sums.values()], dtype=float)


def fold_online_result(sequence: str, *, progress=None, is_cancelled=None) -> PredictionResult:
    """:func:`fold_online` as a :class:`~core.protein.prediction.PredictionResult` (no PAE)."""
    clean = check_web_sequence(sequence)
    pdb_text = fold_online(clean, progress=progress, is_cancelled=is_cancelled)
    return PredictionResult(
        sequence=clean,
        pdb_text=pdb_text,
        plddt=plddt_per_residue(pdb_text),
        pae=None,
        ptm=None,
        device=DEVICE_LABEL,
    )


def fold_online_and_parse(sequence: str, *, progress=None, is_cancelled=None):
    """:func:`fold_online_result`, then the PDB text read as a structure: ``(result, structure)``,
    as :func:`core.protein.prediction.predict_and_parse` returns them."""
    from core.protein.structure import parse_structure, prepare_for_display

    result = fold_online_result(sequence, progress=progress, is_cancelled=is_cancelled)
    structure = parse_structure(result.pdb_text, name="esmatlas_prediction.pdb")
    return result, prepare_for_display(structure)

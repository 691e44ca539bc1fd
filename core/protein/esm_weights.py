"""Download the ESMFold weights (``facebook/esmfold_v1``) into the Hugging Face cache.

:mod:`core.protein.prediction` loads ESMFold from the Hugging Face cache; this module puts the
files there, laid out as ``huggingface_hub`` lays them out, so ``from_pretrained`` and
``snapshot_download(..., local_files_only=True)`` find them::

    $HF_HUB_CACHE/models--facebook--esmfold_v1/
        blobs/<sha256 or git blob id>             the file's bytes
        blobs/<sha256>.incomplete                 a download in progress (resumed from here)
        snapshots/<commit>/<file name>            a relative symlink to its blob
        refs/main                                 the commit

Environment, read at each call (not at import): ``HF_ENDPOINT`` (the hub's base URL, default
``https://huggingface.co``), ``HF_HUB_CACHE`` (else ``HF_HOME``/hub, else
``~/.cache/huggingface/hub``) and ``HF_HUB_OFFLINE`` (set: :func:`download_weights` refuses).

The hub's file list (``/api/models/<repo>/revision/main?blobs=true``) gives every size before a
byte is fetched and each file's checksum: the sha256 of large (LFS) files, the git blob id of
small ones. Each file is written to ``<blob>.incomplete``, continued with an HTTP ``Range`` request
after a cut connection or a cancel, and moved into place only once its checksum matches. A file
whose checksum does not match is deleted, never used.

Plain ``urllib`` rather than ``huggingface_hub.hf_hub_download``: the hub library reads
``HF_ENDPOINT`` and ``HF_HUB_CACHE`` once, when it is first imported (tests and a user who changes
them in a running app would not be heard), reports progress only through tqdm bars, and has no
cancel hook between chunks; an engine job needs progress in bytes and a cancel flag.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.jobs import check_cancelled
from core.protein.fetch import USER_AGENT

HUB_MODEL = "facebook/esmfold_v1"
HUB_ENDPOINT = "https://huggingface.co"
APPROX_TOTAL_BYTES = 8_450_000_000
"""What the hub listed for facebook/esmfold_v1 (shown on the button before anyone asks the hub)."""
TIMEOUT_S = 60.0
CHUNK_BYTES = 1 << 20
MAX_LIST_BYTES = 5_000_000
"""Largest file list read from the hub (esmfold_v1's is a few kB)."""
DISK_MARGIN_BYTES = 200_000_000
"""Room left free on the cache's disk beyond what the files need."""

# Files a PyTorch load needs: the configuration, the tokenizer and the weights. TensorFlow, Flax
# and ONNX copies and the model card are left on the hub.
_SKIPPED_SUFFIXES = (".h5", ".msgpack", ".onnx", ".md", ".ot", ".tflite")
_SKIPPED_NAMES = {".gitattributes"}

ProgressCallback = Callable[[float, str], None]


class WeightsError(ValueError):
    """The weights could not be downloaded: one line saying what happened and what to do."""


@dataclass(slots=True, frozen=True)
class RemoteFile:
    """One file of the model as the hub lists it."""

    name: str
    size: int
    sha256: str | None  # LFS files: the sha256 of the content
    git_blob: str | None  # every file: the git blob id (sha1 of "blob <size>\\0" + content)

    @property
    def blob_name(self) -> str:
        """The blob's name in the cache: the sha256 for LFS files, else the git blob id (as
        ``huggingface_hub`` names them after the hub's ETag)."""
        return self.sha256 or self.git_blob or ""


@dataclass(slots=True, frozen=True)
class WeightsPlan:
    """What a download fetches: the repository, its commit and the files (sizes known)."""

    repo: str
    commit: str
    endpoint: str
    files: tuple[RemoteFile, ...]

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(slots=True, frozen=True)
class WeightsStatus:
    """What the cache holds (no network): the snapshot folder if complete, partial bytes."""

    repo: str
    cache_dir: Path
    snapshot: Path | None
    files: tuple[tuple[str, int], ...]  # (name, bytes) in the snapshot
    partial_bytes: int  # in blobs/*.incomplete: what a download would resume from
    offline: bool

    @property
    def complete(self) -> bool:
        return self.snapshot is not None

    def describe(self) -> str:
        """A few lines for the command line and the Predict tab's tooltip."""
        lines = [f"Hugging Face cache: {self.cache_dir}"]
        if self.snapshot is not None:
            total = sum(size for _, size in self.files)
            lines.append(f"{self.repo}: present in {self.snapshot} ({format_bytes(total)})")
            lines += [f"  {name}  {format_bytes(size)}" for name, size in self.files]
        else:
            lines.append(f"{self.repo}: not downloaded")
        if self.partial_bytes:
            lines.append(
                f"A partial download of {format_bytes(self.partial_bytes)} is kept: "
                "downloading again resumes it."
            )
        if self.offline:
            lines.append("HF_HUB_OFFLINE is set: downloads are off.")
        return "\n".join(lines)


def format_bytes(count: int | float) -> str:
    """``1.23 GB``, ``4.5 MB``, ``312 kB``, ``12 bytes`` (decimal units, as the hub shows sizes)."""
    if count >= 1e9:
        return f"{count / 1e9:.2f} GB"
    if count >= 1e6:
        return f"{count / 1e6:.1f} MB"
    if count >= 1e3:
        return f"{count / 1e3:.0f} kB"
    return f"{int(count)} bytes"


# ----------------------------------------------------------------------------------------------
# Where things are (environment read at each call)


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` or https://huggingface.co, without a trailing slash."""
    return (os.environ.get("HF_ENDPOINT") or HUB_ENDPOINT).rstrip("/")


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache: ``HF_HUB_CACHE``, ``HUGGINGFACE_HUB_CACHE`` (older name),
    ``HF_HOME``/hub, ``XDG_CACHE_HOME``/huggingface/hub or ``~/.cache/huggingface/hub``."""
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(variable):
            return Path(os.environ[variable]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def is_offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` is set to a true value (1, true, yes, on)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def repo_folder(repo: str = HUB_MODEL) -> Path:
    """``models--<owner>--<name>`` in the hub cache."""
    return hub_cache_dir() / ("models--" + repo.replace("/", "--"))


def cached_snapshot(repo: str = HUB_MODEL, revision: str = "main") -> Path | None:
    """The snapshot folder of ``repo`` in the cache when it holds a config and weights; None
    otherwise. No network, no ``huggingface_hub`` import."""
    folder = repo_folder(repo)
    try:
        commit = (folder / "refs" / revision).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not commit or "/" in commit or commit.startswith("."):
        return None
    snapshot = folder / "snapshots" / commit
    if not (snapshot / "config.json").is_file():
        return None
    weights = [*snapshot.glob("*.safetensors"), *snapshot.glob("*.bin")]
    return snapshot if any(path.is_file() for path in weights) else None


def weights_status(repo: str = HUB_MODEL) -> WeightsStatus:
    """What the cache holds for ``repo``: no network."""
    snapshot = cached_snapshot(repo)
    files: list[tuple[str, int]] = []
    if snapshot is not None:
        for path in sorted(snapshot.rglob("*")):
            if path.is_file():
                files.append((path.relative_to(snapshot).as_posix(), path.stat().st_size))
    partial = 0
    for path in (repo_folder(repo) / "blobs").glob("*.incomplete"):
        try:
            partial += path.stat().st_size
        except OSError:
            pass  # finished or removed meanwhile
    return WeightsStatus(repo, hub_cache_dir(), snapshot, tuple(files), partial, is_offline())


# ----------------------------------------------------------------------------------------------
# The file list


def fetch_plan(repo: str = HUB_MODEL, revision: str = "main", *, is_cancelled=None) -> WeightsPlan:
    """Ask the hub for ``repo``'s commit and files (sizes and checksums); what to download.

    Raises
    ------
    WeightsError
        Offline mode, no connection, an HTTP error or an answer that is not the hub's file list.
    """
    _refuse_offline()
    check_cancelled(is_cancelled)
    endpoint = hub_endpoint()
    url = (
        f"{endpoint}/api/models/{repo}/revision/{urllib.parse.quote(revision, safe='')}?blobs=true"
    )
    try:
        with _open(url) as response:
            data = response.read(MAX_LIST_BYTES + 1)
    except WeightsError:
        raise
    except OSError as exc:  # a reset connection while reading the list
        raise WeightsError(f"The file list of {repo} was cut off ({exc}): try again.") from None
    if len(data) > MAX_LIST_BYTES:
        raise WeightsError(f"{_host(url)} sent a file list over {MAX_LIST_BYTES / 1e6:.0f} MB.")
    try:
        answer = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(
            f"{_host(url)} sent a file list for {repo} that is not JSON ({exc}): is HF_ENDPOINT "
            "a Hugging Face hub?"
        ) from None
    return _plan_from_answer(answer, repo, endpoint)


def _plan_from_answer(answer: object, repo: str, endpoint: str) -> WeightsPlan:
    if not isinstance(answer, dict) or not isinstance(answer.get("siblings"), list):
        raise WeightsError(f"The hub's answer for {repo} holds no file list (siblings).")
    commit = answer.get("sha")
    if not isinstance(commit, str) or not commit.isalnum():
        raise WeightsError(f"The hub's answer for {repo} names no commit (sha).")
    files: list[RemoteFile] = []
    for item in answer["siblings"]:
        if not isinstance(item, dict) or not isinstance(item.get("rfilename"), str):
            raise WeightsError(f"The hub's file list for {repo} holds an entry without a name.")
        name = item["rfilename"]
        parts = name.split("/")
        if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
            raise WeightsError(f"The hub's file list for {repo} names {name!r}: refused.")
        if name in _SKIPPED_NAMES or name.lower().endswith(_SKIPPED_SUFFIXES):
            continue
        lfs = item.get("lfs") if isinstance(item.get("lfs"), dict) else {}
        size = lfs.get("size", item.get("size"))
        sha256 = lfs.get("sha256") or lfs.get("oid")
        git_blob = item.get("blobId")
        if not isinstance(size, int) or size < 0:
            raise WeightsError(f"The hub lists no size for {name} of {repo}.")
        if not _is_hex(sha256, 64):
            sha256 = None
        if not _is_hex(git_blob, 40):
            git_blob = None
        if sha256 is None and git_blob is None:
            raise WeightsError(
                f"The hub lists no checksum for {name} of {repo}: it cannot be checked, so it "
                "is not downloaded."
            )
        files.append(RemoteFile(name, size, sha256, git_blob))
    # transformers loads safetensors when both are there: the .bin copy would be 8 GB unused.
    if any(f.name.endswith(".safetensors") for f in files):
        files = [f for f in files if not f.name.endswith((".bin", ".bin.index.json"))]
    names = {f.name for f in files}
    if "config.json" not in names or not any(n.endswith((".safetensors", ".bin")) for n in names):
        raise WeightsError(
            f"The hub's file list for {repo} holds no config.json and weights: not a model."
        )
    return WeightsPlan(repo, commit, endpoint, tuple(sorted(files, key=lambda f: f.size)))


def _is_hex(value: object, length: int) -> bool:
    return (
        isinstance(value, str)
        and len(value) == length
        and all(c in "0123456789abcdef" for c in value.lower())
    )


# ----------------------------------------------------------------------------------------------
# The download


def download_weights(
    repo: str = HUB_MODEL,
    revision: str = "main",
    *,
    progress: ProgressCallback | None = None,
    is_cancelled=None,
) -> Path:
    """Download ``repo`` into the Hugging Face cache; an engine job. Returns the snapshot folder.

    Files already in place are kept; a partial file (``.incomplete``) is continued from where it
    stopped. Progress reports bytes over the total the hub listed. A cancel
    (:class:`~core.jobs.JobCancelled`) or a cut connection keeps the partial file for the next
    call to resume.

    Raises
    ------
    WeightsError
        ``HF_HUB_OFFLINE`` set, the hub unreachable or answering an error, too little disk space,
        a cut connection (the part is kept) or a checksum that does not match (the file is
        deleted, nothing is moved into place).
    """
    _refuse_offline()
    report = progress or (lambda fraction, message="": None)
    report(-1.0, f"Asking {_host(hub_endpoint())} for the files of {repo}")
    plan = fetch_plan(repo, revision, is_cancelled=is_cancelled)
    folder = repo_folder(repo)
    snapshot = folder / "snapshots" / plan.commit
    blobs = folder / "blobs"
    present = {f.name: _present_bytes(f, blobs, snapshot) for f in plan.files}
    _check_disk_space(folder, plan.total_bytes - sum(present.values()))
    done = 0
    total = max(plan.total_bytes, 1)
    for remote in plan.files:
        check_cancelled(is_cancelled)
        pointer = snapshot / remote.name
        blob = blobs / remote.blob_name
        if not (_is_file(pointer) and pointer.stat().st_size == remote.size):
            if not (blob.is_file() and blob.stat().st_size == remote.size):
                _download_file(plan, remote, blob, done, total, report, is_cancelled)
            _link(blob, pointer)
        done += remote.size
        report(done / total, f"{format_bytes(done)} of {format_bytes(plan.total_bytes)}")
    refs = folder / "refs"
    refs.mkdir(parents=True, exist_ok=True)
    temporary = refs / f".{revision}.tmp"
    temporary.write_text(plan.commit, encoding="utf-8")
    os.replace(temporary, refs / revision)  # the snapshot counts as present only now
    report(1.0, f"ESMFold weights in {snapshot} ({format_bytes(plan.total_bytes)})")
    return snapshot


def _present_bytes(remote: RemoteFile, blobs: Path, snapshot: Path) -> int:
    """Bytes of ``remote`` already on disk (complete file, or the partial one)."""
    pointer = snapshot / remote.name
    blob = blobs / remote.blob_name
    for path in (pointer, blob):
        if _is_file(path) and path.stat().st_size == remote.size:
            return remote.size
    partial = blobs / f"{remote.blob_name}.incomplete"
    return min(partial.stat().st_size, remote.size) if partial.is_file() else 0


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _check_disk_space(folder: Path, needed: int) -> None:
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return  # unknown: the write itself will say
    if needed > 0 and free < needed + DISK_MARGIN_BYTES:
        raise WeightsError(
            f"{probe} has {format_bytes(free)} free; the ESMFold weights need "
            f"{format_bytes(needed)} more: free some space or set HF_HOME to another disk."
        )


def _new_hasher(remote: RemoteFile):
    if remote.sha256:
        return hashlib.sha256()
    hasher = hashlib.sha1()  # git's blob id is a sha1: an integrity check, not security
    hasher.update(f"blob {remote.size}\0".encode())
    return hasher


def _download_file(
    plan: WeightsPlan,
    remote: RemoteFile,
    blob: Path,
    done_before: int,
    total: int,
    report: ProgressCallback,
    is_cancelled,
) -> None:
    """Fetch ``remote`` into ``blob`` through ``blob.incomplete``; checked before the move."""
    blob.parent.mkdir(parents=True, exist_ok=True)
    partial = blob.with_name(blob.name + ".incomplete")
    start = partial.stat().st_size if partial.is_file() else 0
    if start > remote.size:  # not this file's beginning: start again
        partial.unlink()
        start = 0
    hasher = _new_hasher(remote)
    if start:
        _hash_existing(partial, start, hasher, remote, report, is_cancelled)
    url = f"{plan.endpoint}/{plan.repo}/resolve/{plan.commit}/{urllib.parse.quote(remote.name)}"
    received = start
    shown = f"{remote.name} ({format_bytes(remote.size)})"
    if start < remote.size:
        headers = {"Range": f"bytes={start}-"} if start else {}
        try:
            with _open(url, headers, range_start=start) as response:
                if start and response.status != 206:  # the server ignored Range: from zero
                    start = received = 0
                    hasher = _new_hasher(remote)
                elif start and not _range_starts_at(response.headers, start):
                    raise WeightsError(
                        f"{_host(url)} resumed {remote.name} at another place than asked "
                        f"(Content-Range {response.headers.get('Content-Range')!r}): "
                        "download again."
                    )
                mode = "ab" if start else "wb"
                with open(partial, mode) as handle:
                    while True:
                        check_cancelled(is_cancelled)
                        chunk = response.read(CHUNK_BYTES)
                        if not chunk:
                            break
                        received += len(chunk)
                        if received > remote.size:
                            break
                        handle.write(chunk)
                        hasher.update(chunk)
                        report(
                            (done_before + received) / total,
                            f"Downloading {remote.name}: {format_bytes(done_before + received)}"
                            f" of {format_bytes(plan.total_bytes)}",
                        )
        except WeightsError:
            raise
        except (OSError, http.client.HTTPException) as exc:  # reset, timeout, incomplete read
            received = partial.stat().st_size if partial.is_file() else 0
            raise WeightsError(
                f"The connection to {_host(url)} was cut after {format_bytes(received)} of "
                f"{shown} ({exc}); the part is kept: download again to resume."
            ) from None
    if received > remote.size:
        partial.unlink(missing_ok=True)
        raise WeightsError(
            f"{_host(url)} sent more than the {format_bytes(remote.size)} listed for "
            f"{remote.name}: the file was deleted; download again."
        )
    if received < remote.size:
        raise WeightsError(
            f"The connection to {_host(url)} was cut after {format_bytes(received)} of "
            f"{shown}; the part is kept: download again to resume."
        )
    expected = remote.sha256 or remote.git_blob
    kind = "sha256" if remote.sha256 else "git blob id"
    digest = hasher.hexdigest()
    if digest != expected:
        partial.unlink(missing_ok=True)  # a wrong file cannot be resumed into a right one
        raise WeightsError(
            f"{remote.name} from {_host(url)} does not match the {kind} the hub lists "
            f"({expected[:12]}…, got {digest[:12]}…): it was deleted and nothing was put in "
            "place; download again."
        )
    os.replace(partial, blob)


def _range_starts_at(headers, start: int) -> bool:
    """Whether a 206 answer's ``Content-Range: bytes N-M/T`` begins at ``start``."""
    value = (headers.get("Content-Range") or "").strip()
    if not value.startswith("bytes "):
        return False
    first = value[6:].split("-", 1)[0].strip()
    return first.isdigit() and int(first) == start


def _hash_existing(partial: Path, length: int, hasher, remote, report, is_cancelled) -> None:
    """Feed the bytes already downloaded to ``hasher`` (a resumed file is checked whole)."""
    read = 0
    with open(partial, "rb") as handle:
        while read < length:
            check_cancelled(is_cancelled)
            chunk = handle.read(min(CHUNK_BYTES * 8, length - read))
            if not chunk:
                break
            hasher.update(chunk)
            read += len(chunk)
            report(-1.0, f"Checking the {format_bytes(read)} of {remote.name} already here")


def _link(blob: Path, pointer: Path) -> None:
    """``pointer`` -> ``blob`` as a relative symlink (as huggingface_hub does); where links are
    not allowed (Windows without developer mode), the blob itself moves into the snapshot."""
    pointer.parent.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() or pointer.exists():
        pointer.unlink()
    target = os.path.relpath(blob, pointer.parent)
    try:
        pointer.symlink_to(target)
    except OSError:
        os.replace(blob, pointer)


# ----------------------------------------------------------------------------------------------
# HTTP


def _refuse_offline() -> None:
    if is_offline():
        raise WeightsError(
            "HF_HUB_OFFLINE is set: Hugging Face downloads are off on this computer. Unset it "
            "(or set it to 0) to download the ESMFold weights, or copy them into "
            f"{hub_cache_dir()} from a machine that has them."
        )


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _open(url: str, headers: dict[str, str] | None = None, range_start: int = 0):
    """``urlopen`` with one-line errors (redirects followed; ``Range`` kept across them)."""
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and range_start:
            raise WeightsError(
                f"{_host(url)} refused to resume {url.rsplit('/', 1)[-1]} (HTTP 416): delete "
                f"the .incomplete file in {repo_folder()}/blobs and download again."
            ) from None
        hint = {
            401: "the model needs a Hugging Face login",
            403: "access refused",
            404: "no such model or file: check HF_ENDPOINT",
        }.get(exc.code, "try again later")
        raise WeightsError(
            f"{_host(url)} answered HTTP {exc.code} ({exc.reason}) for "
            f"{urllib.parse.urlsplit(url).path}: {hint}."
        ) from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise WeightsError(
            f"Could not reach {_host(url)} ({reason}): check the network, or HF_ENDPOINT "
            f"({hub_endpoint()})."
        ) from None

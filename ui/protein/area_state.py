"""What a project keeps of the Proteins area (issue 17, part 1), without Qt: the structures opened
in the project, each as where it came from (a PDB id, an AlphaFold DB accession, a file with its
SHA-256, the shipped demo, or a predicted structure's sequence and text), with the view, binding
site and placed molecule it had; the ``campaign`` summary the overview reads; and where each
structure can be read again *without the network* (the fetch cache, the file, the text kept).

Every value read back from a project is untrusted: :func:`clean_entry` keeps what has the right
type and drops the rest, and :func:`local_source` says in one line why a structure cannot be
opened again (moved, changed, not in the cache) instead of raising.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MAX_TEXT_BYTES = 5 * 1024**2
"""A predicted structure's PDB text is kept in the project up to this size (it cannot be
fetched again; a larger one keeps its sequence only)."""
MAX_ENTRIES = 20
"""Structures a project remembers (the oldest are forgotten first; the one shown stays)."""

ORIGINS = ("file", "demo", "rcsb", "alphafold", "esmfold", "esmatlas")
CAMPAIGN_SOURCES = {
    "file": "file",
    "demo": "RCSB",  # the shipped copy of PDB entry 1HVR
    "rcsb": "RCSB",
    "alphafold": "AlphaFold DB",
    "esmfold": "ESMFold",
    "esmatlas": "ESMFold",
}
STYLE_KEYS = ("protein", "ligands", "color")
_TEXT_FIELDS = ("name", "id", "title", "gene", "sequence", "pdb_text")


def _text(value: Any, limit: int = 10_000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _point(value: Any) -> list[float] | None:
    if not isinstance(value, list | tuple) or len(value) != 3:
        return None
    numbers = [_number(v) for v in value]
    return None if any(n is None for n in numbers) else numbers  # type: ignore[return-value]


def clean_view(raw: Any) -> dict[str, Any]:
    """The view choices of a stored entry that have the right types (others dropped)."""
    if not isinstance(raw, Mapping):
        return {}
    view: dict[str, Any] = {}
    for key in STYLE_KEYS:
        if isinstance(raw.get(key), str):
            view[key] = raw[key][:40]
    for key in ("pocket", "waters"):
        if isinstance(raw.get(key), bool):
            view[key] = raw[key]
    camera = raw.get("camera")
    if isinstance(camera, Mapping):
        points = {k: _point(camera.get(k)) for k in ("position", "focal_point", "view_up")}
        angle = _number(camera.get("view_angle"))
        scale = _number(camera.get("parallel_scale"))
        if all(p is not None for p in points.values()):
            view["camera"] = {**points, "view_angle": angle, "parallel_scale": scale}
    return view


def clean_site(raw: Any) -> dict[str, Any] | None:
    """A stored binding site: the chosen ligand (name, chain, residue number), the cutoff, and
    the residues selected (indices); None when it has none of them in shape."""
    if not isinstance(raw, Mapping):
        return None
    site: dict[str, Any] = {}
    ligand = raw.get("ligand")
    if (
        isinstance(ligand, Mapping)
        and isinstance(ligand.get("name"), str)
        and isinstance(ligand.get("chain"), str)
        and isinstance(ligand.get("resnum"), int)
        and not isinstance(ligand.get("resnum"), bool)
    ):
        site["ligand"] = {
            "name": ligand["name"][:10],
            "chain": ligand["chain"][:10],
            "resnum": ligand["resnum"],
        }
    cutoff = _number(raw.get("cutoff"))
    if cutoff is not None and 0 < cutoff <= 50:
        site["cutoff"] = cutoff
    residues = raw.get("residues")
    if isinstance(residues, list):
        site["residues"] = [
            r for r in residues[:100_000] if isinstance(r, int) and not isinstance(r, bool)
        ]
    return site or None


def clean_placed(raw: Any) -> list[dict[str, Any]]:
    """Stored placed molecules: SMILES, name, centre and the 3D molblock, where they hold."""
    if not isinstance(raw, list):
        return []
    placed = []
    for item in raw[:10]:
        if not isinstance(item, Mapping) or not isinstance(item.get("smiles"), str):
            continue
        molecule = {"smiles": item["smiles"][:5_000], "name": _text(item.get("name"), 200)}
        centre = _point(item.get("centre"))
        if centre is not None:
            molecule["centre"] = centre
        if isinstance(item.get("molblock"), str) and len(item["molblock"]) < 1_000_000:
            molecule["molblock"] = item["molblock"]
        placed.append(molecule)
    return placed


def clean_file_reference(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("path"), str) or not raw["path"]:
        return None
    reference: dict[str, Any] = {"path": raw["path"]}
    if isinstance(raw.get("sha256"), str):
        reference["sha256"] = raw["sha256"]
    if isinstance(raw.get("size"), int) and not isinstance(raw.get("size"), bool):
        reference["size"] = raw["size"]
    return reference


def clean_entry(raw: Any) -> tuple[dict[str, Any] | None, str | None]:
    """``(entry, None)`` for a stored structure entry in shape (its bad parts dropped), or
    ``(None, line)`` saying why it cannot be kept."""
    if not isinstance(raw, Mapping):
        return None, f"a structure of the project could not be read (a {type(raw).__name__})"
    origin = raw.get("origin")
    if origin not in ORIGINS:
        return None, f"a structure of the project has an unknown origin ({str(origin)[:40]!r})"
    entry: dict[str, Any] = {"origin": origin}
    for key in _TEXT_FIELDS:
        limit = MAX_TEXT_BYTES * 2 if key == "pdb_text" else 20_000
        if isinstance(raw.get(key), str) and raw[key]:
            entry[key] = _text(raw[key], limit)
    model = raw.get("model")
    entry["model"] = model if isinstance(model, int) and not isinstance(model, bool) else 0
    entry["model"] = max(0, min(entry["model"], 10_000))
    reference = clean_file_reference(raw.get("file"))
    if reference is not None:
        entry["file"] = reference
    entry["view"] = clean_view(raw.get("view"))
    site = clean_site(raw.get("site"))
    if site is not None:
        entry["site"] = site
    entry["placed"] = clean_placed(raw.get("placed"))
    name = entry.get("name") or entry.get("id") or ""
    if origin == "file" and "file" not in entry:
        return None, f"{name or 'a structure file'}: the project does not say where the file is"
    if origin in ("rcsb", "alphafold") and not entry.get("id"):
        return None, f"{name or 'a fetched structure'}: the project does not keep its identifier"
    if origin in ("esmfold", "esmatlas") and not (entry.get("pdb_text") or entry.get("sequence")):
        return None, f"{name or 'a predicted structure'}: neither its text nor its sequence kept"
    entry.setdefault("name", _default_name(entry))
    return entry, None


def _default_name(entry: Mapping[str, Any]) -> str:
    origin = entry["origin"]
    if origin in ("rcsb", "alphafold"):
        return str(entry.get("id", ""))
    if origin == "file":
        return Path(entry["file"]["path"]).name
    if origin == "demo":
        return "1HVR"
    return "ESMFold prediction"


def entry_key(entry: Mapping[str, Any]) -> tuple:
    """What makes two entries the same structure (opening it again moves it, not copies it)."""
    origin = entry.get("origin")
    if origin in ("rcsb", "alphafold"):
        return (origin, str(entry.get("id", "")).upper())
    if origin == "file":
        return (origin, (entry.get("file") or {}).get("path", ""))
    if origin in ("esmfold", "esmatlas"):
        return (origin, entry.get("sequence", ""), len(entry.get("pdb_text", "")))
    return (origin,)


def keep_text(entry: dict[str, Any], text: str) -> None:
    """Keep a predicted structure's text in ``entry`` when it is small enough."""
    if len(text.encode()) <= MAX_TEXT_BYTES:
        entry["pdb_text"] = text
    else:
        entry.pop("pdb_text", None)


def campaign_summary(entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``campaign`` dict of the Proteins area, as the overview and the report read it."""
    structures = []
    for entry in entries:
        origin = entry.get("origin", "file")
        name = entry.get("name", "")
        if origin in ("rcsb", "alphafold"):
            name = entry.get("id", name)
        elif origin == "demo":
            name = "1HVR"
        item = {
            "name": str(name),
            "source": CAMPAIGN_SOURCES.get(origin, "file"),
            "title": str(entry.get("title", "")),
            "gene": str(entry.get("gene", "")),
        }
        # The file on this computer (cache, the user's file, the demo): the campaign report
        # draws the structure's picture from it. Looked up on disk only (no network, no hash:
        # this runs at every autosave).
        path = _file_on_disk(entry)
        if path is not None:
            item["path"] = str(path)
        structures.append(item)
    sites = sum(1 for e in entries if (e.get("site") or {}).get("residues"))
    placed = [
        str(p.get("name") or p.get("smiles", "")) for e in entries for p in e.get("placed", [])
    ]
    return {"structures": structures, "binding_sites": sites, "placed": placed}


def _file_on_disk(entry: Mapping[str, Any]) -> Path | None:
    origin = entry.get("origin")
    if origin == "demo":
        from core.protein.demo import demo_complex_path

        return demo_complex_path()
    if origin in ("rcsb", "alphafold"):
        return cached_file(entry)
    if origin == "file":
        path = Path(str((entry.get("file") or {}).get("path", "")))
        return path if path.is_file() else None
    return None


def cached_file(entry: Mapping[str, Any]) -> Path | None:
    """The fetch cache's copy of a fetched entry (no network); None when it is not there."""
    from core.protein.fetch import PDB_ID, UNIPROT, cache_dir

    code = str(entry.get("id", "")).strip().upper()
    if entry.get("origin") == "rcsb" and PDB_ID.match(code):
        for fmt in ("cif", "pdb"):
            path = cache_dir() / "pdb" / f"{code}.{fmt}.gz"
            if path.is_file():
                return path
    elif entry.get("origin") == "alphafold" and UNIPROT.match(code):
        found = sorted((cache_dir() / "alphafold").glob(f"AF-{code}-F1-model_v*.pdb"))
        if found:
            return found[-1]
    return None


def local_source(entry: Mapping[str, Any]) -> tuple[str, Any, list[str]]:
    """Where ``entry`` can be read again on this computer, without the network.

    Returns ``(kind, what, lines)``: ``("path", Path, lines)`` for a file (a fetched entry's
    cached copy, the user's file, the demo), ``("text", str, lines)`` for a predicted
    structure's kept text, or ``("", None, lines)`` when it cannot be opened; ``lines`` say what
    the user should know (a file changed since the project was saved, not in the cache).
    """
    from core.project.areas import check_file_reference

    origin = entry.get("origin")
    name = entry.get("name") or entry.get("id") or "a structure"
    if origin == "demo":
        from core.protein.demo import demo_complex_path

        return "path", demo_complex_path(), []
    if origin in ("rcsb", "alphafold"):
        path = cached_file(entry)
        if path is None:
            return "", None, [f"{entry.get('id')}: not in the local cache; Fetch to open it again"]
        return "path", path, []
    if origin == "file":
        reference = entry.get("file") or {}
        problem = check_file_reference(reference)
        path = Path(str(reference.get("path", "")))
        if problem is None:
            return "path", path, []
        if path.is_file():  # there, but not the file the project saw: shown as it is now
            return "path", path, [f"{problem}: {path.name} is shown as it is now"]
        return "", None, [f"{problem}; open {path.name} again to see {name}"]
    if origin in ("esmfold", "esmatlas"):
        text = entry.get("pdb_text")
        if text:
            return "text", text, []
        residues = len(entry.get("sequence", ""))
        line = (
            f"{name}: the predicted structure was too large to keep in the project; predict "
            f"it again from its sequence ({residues} residues, on the Predict tab)"
        )
        return "", None, [line]
    return "", None, [f"{name}: cannot be opened again"]


__all__ = [
    "CAMPAIGN_SOURCES",
    "MAX_ENTRIES",
    "MAX_TEXT_BYTES",
    "cached_file",
    "campaign_summary",
    "clean_entry",
    "entry_key",
    "keep_text",
    "local_source",
]

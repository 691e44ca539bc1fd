"""Target lookup: a gene symbol -> its UniProt entry -> PDB entries (with bound ligands) and the
AlphaFold DB model.

Four public web services answer, each found through an environment variable so that tests point
them at a loopback server (no test reaches the real services):

============================  ==============================  ======================================
service                       variable                        default
============================  ==============================  ======================================
UniProt REST search           ``DRUGDESK_UNIPROT_URL``        ``https://rest.uniprot.org``
RCSB Search API v2            ``DRUGDESK_RCSB_SEARCH_URL``    ``https://search.rcsb.org/rcsbsearch/v2/query``
RCSB Data API (GraphQL)       ``DRUGDESK_RCSB_DATA_URL``      ``https://data.rcsb.org/graphql``
AlphaFold DB API              ``DRUGDESK_ALPHAFOLD_API_URL``  ``https://alphafold.ebi.ac.uk/api``
============================  ==============================  ======================================

Every answer that parsed is kept on disk (``data_dir()/targets``, one file per request keyed by
its URL and body) for :data:`CACHE_MAX_AGE_S`, so a second lookup of a gene needs no network.
Offline, an empty answer, an HTTP error or malformed JSON raise :class:`TargetLookupError` (a
``ValueError``), one line naming the service and what happened. The network is used only when
:func:`lookup_target` is called (a click or a command).

Bound ligands are split in two: ``"drug-like"`` and ``"additive"`` (see :data:`ADDITIVES`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.fileio import write_text_atomic
from core.jobs import check_cancelled
from core.paths import data_dir
from core.protein.fetch import PDB_ID, TIMEOUT_S, UNIPROT, USER_AGENT

UNIPROT_URL = "https://rest.uniprot.org"
RCSB_SEARCH_URL = "https://search.rcsb.org/rcsbsearch/v2/query"
RCSB_DATA_URL = "https://data.rcsb.org/graphql"
ALPHAFOLD_API_URL = "https://alphafold.ebi.ac.uk/api"

MAX_ANSWER_BYTES = 20_000_000
"""Largest answer read from a service (the biggest real ones, 100 GraphQL entries, are ~1 MB)."""
MAX_PDB_ENTRIES = 50
"""PDB entries asked for (best resolution first); ``TargetInfo.pdb_total`` says how many exist."""
CACHE_MAX_AGE_S = 7 * 24 * 3600.0
"""Cached answers older than this are asked again (the PDB releases new entries weekly)."""

# A gene symbol as HGNC/MGI write them: letters, digits, '-', '.', '_' ("FTL", "HLA-A",
# "C1orf112", "Ftl1"). Nothing else reaches the UniProt query, whose syntax gives meaning to
# spaces, colons, quotes and brackets.
GENE_SYMBOL = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,29}$")

ORGANISM_NAMES = {
    9606: "human",
    10090: "mouse",
    10116: "rat",
    7955: "zebrafish",
    7227: "fruit fly",
    6239: "C. elegans",
    559292: "yeast (S. cerevisiae S288C)",
    83333: "E. coli K-12",
}
"""Common names for messages; other organisms are named by their NCBI taxon id."""


def _ids(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Buffer, crystallisation and cryo-protection additives, ions and glycans: RCSB lists them among
# "bound ligands", but a chemist looking for what binds the target looks past them. Each group
# says why it is set apart.
ADDITIVE_GROUPS: dict[str, frozenset[str]] = {
    # Counter-ions and salts of the crystallisation drop; metal ions are set apart too: even a
    # catalytic zinc is no drug-like ligand (it stays listed, as an additive).
    "ions": _ids(
        "CL NA K MG CA ZN MN FE FE2 NI CO CU CU1 CD HG IOD BR F LI CS RB SR BA NH4 SO4 PO4 PI "
        "NO3 SCN AZI CO3 CYN OH"
    ),
    # Cryo-protectants, precipitants and solvents of the drop.
    "cryoprotectants and precipitants": _ids(
        "GOL EDO PEG PGE PG4 1PE P6G 2PE PE4 12P 15P PE5 PE8 MPD PGO IPA EOH MOH DMS DMF ACN "
        "HEZ BU3 TBU"
    ),
    # Buffers and reducing agents.
    "buffers": _ids(
        "ACT ACY ACE FMT CIT FLC TRS EPE MES MPO BTB B3P IMD BME DTT DTU MLI MLA TAR TLA SIN "
        "CAC NHE CXS"
    ),
    # Detergents of membrane-protein structures.
    "detergents": _ids("BOG LDA LMT C8E DMU SDS OLC"),
    # N-linked glycosylation: sugars attached to asparagines of the protein as expressed (NAG
    # and friends), not a molecule bound in a pocket.
    "glycans": _ids("NAG NDG MAN BMA FUC GAL GLC SIA FUL"),
    # Water (RCSB keeps it out of nonpolymer entities, but a hostile or older answer may not).
    "water": frozenset({"HOH", "DOD"}),
}
ADDITIVES: frozenset[str] = frozenset().union(*ADDITIVE_GROUPS.values())
"""Chemical component ids set apart from drug-like ligands (see :data:`ADDITIVE_GROUPS`)."""

DRUG_LIKE = "drug-like"
ADDITIVE = "additive"

ProgressCallback = Callable[[float, str], None]
log = logging.getLogger(__name__)


class TargetLookupError(ValueError):
    """A target could not be looked up: the message names the service and what happened."""


@dataclass(slots=True, frozen=True)
class Ligand:
    """A chemical component bound in a PDB entry (its three-letter PDB id)."""

    id: str
    name: str
    kind: str  # DRUG_LIKE or ADDITIVE
    formula_weight: float | None = None


@dataclass(slots=True, frozen=True)
class PdbEntry:
    """One PDB entry of the target."""

    id: str
    resolution: float | None  # Å; None for NMR and entries without one
    method: str  # "X-RAY DIFFRACTION", "ELECTRON MICROSCOPY", "SOLUTION NMR", …; "" if unknown
    ligands: tuple[Ligand, ...]
    title: str = ""

    @property
    def drug_like_ligands(self) -> tuple[Ligand, ...]:
        return tuple(ligand for ligand in self.ligands if ligand.kind == DRUG_LIKE)


@dataclass(slots=True, frozen=True)
class AlphaFoldEntry:
    """The AlphaFold DB model of the target's UniProt entry."""

    entry_id: str  # "AF-P00533-F1"
    model_url: str  # the PDB file
    cif_url: str = ""
    version: int | None = None
    mean_plddt: float | None = None  # when the API gives it (globalMetricValue)


@dataclass(slots=True, frozen=True)
class TargetInfo:
    """What is known about a gene's protein: its UniProt entry, PDB entries and AlphaFold model."""

    accession: str
    name: str
    gene: str
    organism: int  # NCBI taxon id
    organism_name: str
    length: int | None
    pdb_entries: tuple[PdbEntry, ...]
    pdb_total: int  # entries the PDB holds (``pdb_entries`` keeps the first MAX_PDB_ENTRIES)
    alphafold: AlphaFoldEntry | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary (lists for tuples)."""
        return asdict(self)


def organism_label(organism: int) -> str:
    """'human', 'mouse', … or 'organism 7955' for a taxon without a common name here."""
    return ORGANISM_NAMES.get(organism, f"organism {organism}")


def looks_like_gene_symbol(text: str) -> bool:
    """Whether ``text`` reads as a gene symbol rather than a PDB id or a UniProt accession."""
    code = text.strip()
    if PDB_ID.match(code) or UNIPROT.match(code.upper()):
        return False
    return bool(GENE_SYMBOL.match(code))


def ligand_kind(component_id: str, name: str = "") -> str:
    """``"additive"`` for buffers, ions, cryo-protectants, detergents, glycans and water (by id
    in :data:`ADDITIVES`, or any component RCSB names "... ION"); ``"drug-like"`` otherwise."""
    if component_id.upper() in ADDITIVES or name.strip().upper().endswith(" ION"):
        return ADDITIVE
    return DRUG_LIKE


# ----------------------------------------------------------------------------------------------
# The lookup


def lookup_target(
    symbol: str,
    organism: int = 9606,
    *,
    cache_dir: str | os.PathLike | None = None,
    refresh: bool = False,
    max_entries: int = MAX_PDB_ENTRIES,
    progress: ProgressCallback | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> TargetInfo:
    """Look up gene ``symbol`` of ``organism`` (NCBI taxon id; 9606 = human).

    UniProt's reviewed entry (Swiss-Prot) is preferred, an unreviewed one used when there is
    none; then the RCSB Search API lists the PDB entries holding that accession (best resolution
    first, at most ``max_entries``), the RCSB Data API describes them (title, method, resolution,
    bound ligands) and AlphaFold DB names its model.

    Parameters
    ----------
    symbol
        A gene symbol ("FTL", "EGFR", "Ftl1").
    organism
        NCBI taxon id of the organism.
    cache_dir
        Where answers are kept (default ``data_dir()/targets``).
    refresh
        Ask the services again even when a cached answer is fresh.
    max_entries
        PDB entries described at most.
    progress, is_cancelled
        The job protocol (:mod:`core.jobs`).

    Returns
    -------
    TargetInfo

    Raises
    ------
    TargetLookupError
        The symbol is not one, no entry exists, or a service failed (offline, HTTP error,
        malformed answer); the message names the service.
    """
    gene = symbol.strip()
    if not GENE_SYMBOL.match(gene):
        raise TargetLookupError(
            f"{symbol!r} is not a gene symbol (letters, digits, '-' or '.', for example FTL)."
        )
    if isinstance(organism, bool) or not isinstance(organism, int) or organism <= 0:
        raise TargetLookupError(f"{organism!r} is not an NCBI taxon id (9606 is human).")
    report = progress or (lambda fraction, message="": None)
    client = _Client(
        Path(cache_dir) if cache_dir else data_dir() / "targets", refresh, is_cancelled
    )

    report(0.0, f"UniProt: looking up {gene}…")
    entry = _uniprot_entry(client, gene, organism)
    accession = entry["accession"]

    report(0.25, f"RCSB: PDB entries of {accession}…")
    ids, total = _rcsb_search(client, accession, max(1, int(max_entries)))

    entries: tuple[PdbEntry, ...] = ()
    if ids:
        report(0.5, f"RCSB: describing {len(ids)} PDB entries…")
        entries = _rcsb_entries(client, ids)

    report(0.75, f"AlphaFold DB: model of {accession}…")
    alphafold = _alphafold_entry(client, accession)
    report(1.0, f"{gene}: {accession}, {len(entries)} PDB entries")
    return TargetInfo(
        accession=accession,
        name=entry["name"],
        gene=entry["gene"] or gene,
        organism=entry["taxon"] or organism,
        organism_name=entry["organism_name"],
        length=entry["length"],
        pdb_entries=entries,
        pdb_total=max(total, len(entries)),
        alphafold=alphafold,
    )


# ----------------------------------------------------------------------------------------------
# Each service


def _service_url(variable: str, default: str) -> str:
    return (os.environ.get(variable) or default).rstrip("/")


def _uniprot_entry(client: _Client, gene: str, organism: int) -> dict[str, Any]:
    base = _service_url("DRUGDESK_UNIPROT_URL", UNIPROT_URL)
    fields = "accession,id,gene_names,protein_name,organism_name,length"
    for reviewed in (True, False):
        query = f"gene_exact:{gene} AND organism_id:{organism}"
        if reviewed:
            query += " AND reviewed:true"
        params = urllib.parse.urlencode(
            {"query": query, "fields": fields, "format": "json", "size": "5"}
        )
        results = client.get_json("UniProt", f"{base}/uniprotkb/search?{params}", _uniprot_results)
        if results:
            return _pick_uniprot(results, gene, organism)
    raise TargetLookupError(
        f"UniProt has no {organism_label(organism)} entry for gene {gene!r}: check the symbol "
        "(the official one, such as FTL or EGFR) and the organism."
    )


def _uniprot_results(answer: Any) -> list[dict[str, Any]]:
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        raise _Malformed("no 'results' list")
    return [item for item in answer["results"] if isinstance(item, dict)]


def _pick_uniprot(results: list[dict[str, Any]], gene: str, organism: int) -> dict[str, Any]:
    """The result whose primary gene name is ``gene`` (gene_exact matches synonyms too), else
    the first, reduced to what :class:`TargetInfo` holds."""

    def primary_gene(item: dict[str, Any]) -> str:
        for record in item.get("genes") or []:
            value = _get(record, "geneName", "value")
            if isinstance(value, str):
                return value
        return ""

    chosen = next(
        (item for item in results if primary_gene(item).upper() == gene.upper()), results[0]
    )
    accession = chosen.get("primaryAccession")
    if not isinstance(accession, str) or not UNIPROT.match(accession.upper()):
        raise TargetLookupError(
            f"UniProt answered with an entry for {gene!r} that has no usable accession "
            f"({accession!r})."
        )
    description = chosen.get("proteinDescription") or {}
    name = _get(description, "recommendedName", "fullName", "value")
    if not isinstance(name, str):
        submitted = _get(description, "submissionNames")
        name = (
            _get(submitted[0], "fullName", "value")
            if isinstance(submitted, list) and submitted
            else ""
        )
    taxon = _get(chosen, "organism", "taxonId")
    scientific = _get(chosen, "organism", "scientificName")
    length = _get(chosen, "sequence", "length")
    return {
        "accession": accession.upper(),
        "name": name if isinstance(name, str) else "",
        "gene": primary_gene(chosen),
        "taxon": taxon if isinstance(taxon, int) and taxon > 0 else organism,
        "organism_name": scientific if isinstance(scientific, str) else "",
        "length": length if isinstance(length, int) else None,
    }


def _rcsb_search(client: _Client, accession: str, rows: int) -> tuple[list[str], int]:
    url = _service_url("DRUGDESK_RCSB_SEARCH_URL", RCSB_SEARCH_URL)
    body = {
        "query": {
            "type": "terminal",
            "service": "text",
            "parameters": {
                "attribute": "rcsb_polymer_entity_container_identifiers."
                "reference_sequence_identifiers.database_accession",
                "operator": "exact_match",
                "value": accession,
            },
        },
        "return_type": "entry",
        "request_options": {
            "paginate": {"start": 0, "rows": rows},
            "sort": [{"sort_by": "rcsb_entry_info.resolution_combined", "direction": "asc"}],
        },
    }
    answer = client.post_json("RCSB search", url, body, _rcsb_search_result)
    return answer if answer is not None else ([], 0)  # HTTP 204: no entry at all


def _rcsb_search_result(answer: Any) -> tuple[list[str], int]:
    if not isinstance(answer, dict) or not isinstance(answer.get("result_set"), list):
        raise _Malformed("no 'result_set' list")
    ids: list[str] = []
    for item in answer["result_set"]:
        code = item.get("identifier") if isinstance(item, dict) else None
        # Only PDB ids go on into the GraphQL query (a hostile answer cannot inject into it).
        if isinstance(code, str) and PDB_ID.match(code) and code.upper() not in ids:
            ids.append(code.upper())
    total = answer.get("total_count")
    return ids, total if isinstance(total, int) and total >= 0 else len(ids)


_GRAPHQL_FIELDS = (
    "rcsb_id struct { title } exptl { method } rcsb_entry_info { resolution_combined } "
    "nonpolymer_entities { nonpolymer_comp { chem_comp { id name formula_weight } } }"
)


def _rcsb_entries(client: _Client, ids: list[str]) -> tuple[PdbEntry, ...]:
    url = _service_url("DRUGDESK_RCSB_DATA_URL", RCSB_DATA_URL)
    query = f"{{ entries(entry_ids: {json.dumps(ids)}) {{ {_GRAPHQL_FIELDS} }} }}"
    parsed = client.post_json("RCSB Data API", url, {"query": query}, _rcsb_data_result)
    if parsed is None:
        raise TargetLookupError(
            "RCSB Data API sent an empty answer (HTTP 204) for " + ", ".join(ids) + "."
        )
    by_id = {entry.id: entry for entry in parsed}
    # The search's order (best resolution first); entries the Data API does not know are left out.
    return tuple(by_id[code] for code in ids if code in by_id)


def _rcsb_data_result(answer: Any) -> list[PdbEntry]:
    if not isinstance(answer, dict):
        raise _Malformed("not a JSON object")
    data = answer.get("data")
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        errors = answer.get("errors")
        if isinstance(errors, list) and errors:
            first = errors[0].get("message") if isinstance(errors[0], dict) else errors[0]
            raise _Malformed(f"query refused: {first}")
        raise _Malformed("no 'data.entries' list")
    return [entry for entry in map(_pdb_entry, entries) if entry is not None]


def _pdb_entry(item: Any) -> PdbEntry | None:
    if not isinstance(item, dict):
        return None
    code = item.get("rcsb_id")
    if not isinstance(code, str) or not PDB_ID.match(code):
        return None
    title = _get(item, "struct", "title")
    methods = [m.get("method") for m in item.get("exptl") or [] if isinstance(m, dict)]
    method = ", ".join(m for m in methods if isinstance(m, str))
    resolutions = _get(item, "rcsb_entry_info", "resolution_combined")
    resolution = None
    if isinstance(resolutions, list):
        values = [v for v in resolutions if isinstance(v, int | float) and not isinstance(v, bool)]
        resolution = float(min(values)) if values else None
    ligands: dict[str, Ligand] = {}
    for entity in item.get("nonpolymer_entities") or []:
        component = _get(entity, "nonpolymer_comp", "chem_comp")
        if not isinstance(component, dict) or not isinstance(component.get("id"), str):
            continue
        cid = component["id"].strip().upper()
        name = component.get("name") if isinstance(component.get("name"), str) else ""
        weight = component.get("formula_weight")
        weight = (
            float(weight)
            if isinstance(weight, int | float) and not isinstance(weight, bool)
            else None
        )
        if cid and cid not in ligands:
            ligands[cid] = Ligand(cid, name, ligand_kind(cid, name), weight)
    # Drug-like ligands first: they are what the chooser shows.
    ordered = sorted(ligands.values(), key=lambda ligand: ligand.kind != DRUG_LIKE)
    return PdbEntry(
        id=code.upper(),
        resolution=resolution,
        method=method,
        ligands=tuple(ordered),
        title=title if isinstance(title, str) else "",
    )


def _alphafold_entry(client: _Client, accession: str) -> AlphaFoldEntry | None:
    base = _service_url("DRUGDESK_ALPHAFOLD_API_URL", ALPHAFOLD_API_URL)
    predictions = client.get_json(
        "AlphaFold DB", f"{base}/prediction/{accession}", _alphafold_result, missing_ok=True
    )
    if not predictions:  # 404: AlphaFold DB holds no model of this accession
        return None
    matching = [p for p in predictions if str(p.get("uniprotAccession", "")).upper() == accession]
    candidates = matching or predictions
    # The whole chain (fragment F1) before the fragments of very long proteins.
    chosen = next(
        (p for p in candidates if str(p.get("entryId", "")).endswith("-F1")), candidates[0]
    )
    model_url = chosen.get("pdbUrl")
    if not isinstance(model_url, str) or not model_url:
        raise TargetLookupError(f"AlphaFold DB answered for {accession} without a model URL.")
    version = chosen.get("latestVersion")
    plddt = chosen.get("globalMetricValue")
    cif = chosen.get("cifUrl")
    return AlphaFoldEntry(
        entry_id=str(chosen.get("entryId") or f"AF-{accession}-F1"),
        model_url=model_url,
        cif_url=cif if isinstance(cif, str) else "",
        version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        mean_plddt=float(plddt)
        if isinstance(plddt, int | float) and not isinstance(plddt, bool)
        else None,
    )


def _alphafold_result(answer: Any) -> list[dict[str, Any]]:
    if isinstance(answer, dict):  # one prediction rather than a list of them
        answer = [answer]
    if not isinstance(answer, list):
        raise _Malformed("not a list of predictions")
    return [item for item in answer if isinstance(item, dict)]


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


# ----------------------------------------------------------------------------------------------
# HTTP with a disk cache


class _Malformed(Exception):
    """An answer that is JSON but not in the service's shape (raised by a parser)."""


class _Client:
    """GET/POST JSON with the structure fetcher's timeout and user agent, a size limit, one-line
    errors naming the service, and a disk cache of answers that parsed."""

    def __init__(self, folder: Path, refresh: bool, is_cancelled) -> None:
        self.folder = folder
        self.refresh = refresh
        self.is_cancelled = is_cancelled

    def get_json(
        self, service: str, url: str, parse: Callable[[Any], Any], *, missing_ok: bool = False
    ) -> Any:
        return self._json(service, "GET", url, None, parse, missing_ok)

    def post_json(self, service: str, url: str, body: Any, parse: Callable[[Any], Any]) -> Any:
        return self._json(service, "POST", url, json.dumps(body, sort_keys=True), parse, False)

    def _json(
        self, service: str, method: str, url: str, body: str | None, parse, missing_ok: bool
    ) -> Any:
        """``parse(answer)``; None for HTTP 204 (an empty result) and, where ``missing_ok``,
        HTTP 404 (nothing there); the answer is cached once it parsed."""
        check_cancelled(self.is_cancelled)
        key = hashlib.sha256(f"{method} {url}\n{body or ''}".encode()).hexdigest()
        path = self.folder / f"{key}.json"
        cached = None if self.refresh else self._read_cache(path)
        if cached is not None:
            status, text = cached
            try:
                return self._parse(service, status, text, parse, missing_ok)
            except TargetLookupError:
                pass  # a cache file from an older parser: ask again
        status, text = self._request(service, method, url, body)
        result = self._parse(service, status, text, parse, missing_ok)
        self._write_cache(path, url, status, text)
        return result

    @staticmethod
    def _parse(service: str, status: int, text: str, parse, missing_ok: bool) -> Any:
        if status == 204 or (status == 404 and missing_ok):
            return None
        if status == 404:
            raise TargetLookupError(
                f"{service} answered HTTP 404 (Not Found): check its address in the environment."
            )
        if not text.strip():
            raise TargetLookupError(f"{service} sent an empty answer (HTTP {status}).")
        try:
            answer = json.loads(text)
        except ValueError as exc:
            raise TargetLookupError(f"{service} sent an answer that is not JSON ({exc}).") from None
        try:
            return parse(answer)
        except _Malformed as exc:
            raise TargetLookupError(
                f"{service} sent an answer DrugDesk cannot read: {exc}."
            ) from None

    def _request(self, service: str, method: str, url: str, body: str | None) -> tuple[int, str]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        data = None
        if body is not None:
            data = body.encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        host = urllib.parse.urlsplit(url).netloc or url
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                status = response.status
                chunks: list[bytes] = []
                received = 0
                while True:
                    check_cancelled(self.is_cancelled)
                    chunk = response.read(256 * 1024)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > MAX_ANSWER_BYTES:
                        raise TargetLookupError(
                            f"{service} sent more than {MAX_ANSWER_BYTES / 1e6:.0f} MB: refused."
                        )
                    chunks.append(chunk)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return 404, ""
            raise TargetLookupError(
                f"{service} answered HTTP {exc.code} ({exc.reason}) from {host}: try again later."
            ) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                reason = "timed out"
            raise TargetLookupError(
                f"{service} did not answer: {reason} ({host}). Check the network "
                "(DrugDesk works offline with local files)."
            ) from None
        except OSError as exc:  # a reset connection, a broken answer
            raise TargetLookupError(f"{service} did not answer: {exc} ({host}).") from None
        try:
            return status, b"".join(chunks).decode("utf-8")
        except UnicodeDecodeError:
            raise TargetLookupError(f"{service} sent an answer that is not UTF-8 text.") from None

    def _read_cache(self, path: Path) -> tuple[int, str] | None:
        try:
            if time.time() - path.stat().st_mtime > CACHE_MAX_AGE_S:
                return None
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # missing, unreadable or half-written: ask the service
        status, text = record.get("status"), record.get("text")
        if isinstance(status, int) and isinstance(text, str):
            return status, text
        return None

    def _write_cache(self, path: Path, url: str, status: int, text: str) -> None:
        record = {"url": url, "status": status, "text": text}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, json.dumps(record))
        except OSError as exc:
            # A full or read-only disk costs only the next lookup's network round.
            log.warning("Could not cache the answer of %s in %s: %s", url, path, exc)

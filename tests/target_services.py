"""A loopback stand-in for the services target lookup talks to (UniProt, RCSB Search, RCSB Data,
AlphaFold DB; structure files too), answering in their shapes (``../shared/api-samples``).

Used by tests/core/test_targets.py, tests/cli/test_target_cli.py and the Proteins panel's test:
``with TargetServices(monkeypatch) as services`` points every ``DRUGDESK_*_URL`` at 127.0.0.1, so
no test reaches the real services. ``services.fail["uniprot"] = 500`` makes a service answer an
error, ``services.raw["rcsb-data"] = b"..."`` sends a body as it is, ``services.delay[...]``
holds an answer back; ``services.requests`` logs
(service, method, path, body).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# FTL (ferritin light chain), a gene from the expression demo's volcano plot. The accession and
# names are UniProt's; the PDB entries are stand-ins in the services' shapes, with one drug-like
# ligand among additives.
FTL = {
    "uniprot": {
        "entryType": "UniProtKB reviewed (Swiss-Prot)",
        "primaryAccession": "P02792",
        "uniProtkbId": "FRIL_HUMAN",
        "organism": {"scientificName": "Homo sapiens", "commonName": "Human", "taxonId": 9606},
        "proteinDescription": {"recommendedName": {"fullName": {"value": "Ferritin light chain"}}},
        "genes": [{"geneName": {"value": "FTL"}}],
        "sequence": {"length": 175},
    },
    "entries": [
        {
            "rcsb_id": "2FFX",
            "struct": {"title": "Structure of human ferritin L chain"},
            "exptl": [{"method": "X-RAY DIFFRACTION"}],
            "rcsb_entry_info": {"resolution_combined": [1.9]},
            "nonpolymer_entities": [
                {
                    "nonpolymer_comp": {
                        "chem_comp": {"id": "CD", "name": "CADMIUM ION", "formula_weight": 112.411}
                    }
                },
                {
                    "nonpolymer_comp": {
                        "chem_comp": {"id": "SO4", "name": "SULFATE ION", "formula_weight": 96.063}
                    }
                },
            ],
        },
        {
            "rcsb_id": "3FT7",
            "struct": {"title": "Ferritin light chain with a bound inhibitor"},
            "exptl": [{"method": "X-RAY DIFFRACTION"}],
            "rcsb_entry_info": {"resolution_combined": [2.25]},
            "nonpolymer_entities": [
                {
                    "nonpolymer_comp": {
                        "chem_comp": {"id": "GOL", "name": "GLYCEROL", "formula_weight": 92.094}
                    }
                },
                {
                    "nonpolymer_comp": {
                        "chem_comp": {
                            "id": "Q7X",
                            "name": "4-(4-METHYLPIPERAZIN-1-YL)BENZOIC ACID",
                            "formula_weight": 220.268,
                        }
                    }
                },
                {
                    "nonpolymer_comp": {
                        "chem_comp": {
                            "id": "NAG",
                            "name": "2-acetamido-2-deoxy-beta-D-glucopyranose",
                            "formula_weight": 221.208,
                        }
                    }
                },
                {
                    "nonpolymer_comp": {
                        "chem_comp": {
                            "id": "EDO",
                            "name": "1,2-ETHANEDIOL",
                            "formula_weight": 62.068,
                        }
                    }
                },
            ],
        },
        {
            "rcsb_id": "7A6B",
            "struct": {"title": "Cryo-EM structure of ferritin light chain shell"},
            "exptl": [{"method": "ELECTRON MICROSCOPY"}],
            "rcsb_entry_info": {"resolution_combined": [3.1]},
            "nonpolymer_entities": None,
        },
    ],
    "alphafold": [
        {
            "entryId": "AF-P02792-F1",
            "gene": "FTL",
            "uniprotAccession": "P02792",
            "uniprotId": "FRIL_HUMAN",
            "uniprotDescription": "Ferritin light chain",
            "taxId": 9606,
            "organismScientificName": "Homo sapiens",
            "uniprotStart": 1,
            "uniprotEnd": 175,
            "latestVersion": 4,
            "modelCreatedDate": "2022-06-01",
            "globalMetricValue": 93.5,
            "pdbUrl": "https://alphafold.ebi.ac.uk/files/AF-P02792-F1-model_v4.pdb",
            "cifUrl": "https://alphafold.ebi.ac.uk/files/AF-P02792-F1-model_v4.cif",
            "paeDocUrl": "https://alphafold.ebi.ac.uk/files/AF-P02792-F1-predicted_aligned_error_v4.json",
        }
    ],
}

# EGFR exactly as ../shared/api-samples gives it (P00533; three entries, one with SO4).
EGFR = {
    "uniprot": {
        "entryType": "UniProtKB reviewed (Swiss-Prot)",
        "primaryAccession": "P00533",
        "uniProtkbId": "EGFR_HUMAN",
        "organism": {"scientificName": "Homo sapiens", "commonName": "Human", "taxonId": 9606},
        "proteinDescription": {
            "recommendedName": {
                "fullName": {"value": "Epidermal growth factor receptor"},
                "ecNumbers": [{"value": "2.7.10.1"}],
            }
        },
        "genes": [
            {
                "geneName": {"value": "EGFR"},
                "synonyms": [{"value": "ERBB"}, {"value": "ERBB1"}, {"value": "HER1"}],
            }
        ],
        "sequence": {"length": 1210},
    },
    "entries": [
        {
            "rcsb_id": "1M17",
            "struct": {
                "title": "Epidermal Growth Factor Receptor tyrosine kinase domain with 4-anilinoquinazoline inhibitor erlotinib"
            },
            "exptl": [{"method": "X-RAY DIFFRACTION"}],
            "rcsb_entry_info": {"resolution_combined": [2.6]},
            "nonpolymer_entities": [
                {
                    "nonpolymer_comp": {
                        "chem_comp": {
                            "id": "AQ4",
                            "name": "[6,7-BIS(2-METHOXY-ETHOXY)QUINAZOLINE-4-YL]-(3-ETHYNYLPHENYL)AMINE",
                            "formula_weight": 393.436,
                        }
                    }
                }
            ],
        },
        {
            "rcsb_id": "4HJO",
            "struct": {
                "title": "Crystal structure of the inactive EGFR tyrosine kinase domain with erlotinib"
            },
            "exptl": [{"method": "X-RAY DIFFRACTION"}],
            "rcsb_entry_info": {"resolution_combined": [2.75]},
            "nonpolymer_entities": [
                {
                    "nonpolymer_comp": {
                        "chem_comp": {
                            "id": "AQ4",
                            "name": "[6,7-BIS(2-METHOXY-ETHOXY)QUINAZOLINE-4-YL]-(3-ETHYNYLPHENYL)AMINE",
                            "formula_weight": 393.436,
                        }
                    }
                },
                {
                    "nonpolymer_comp": {
                        "chem_comp": {"id": "SO4", "name": "SULFATE ION", "formula_weight": 96.063}
                    }
                },
            ],
        },
        {
            "rcsb_id": "2ITY",
            "struct": {"title": "Crystal structure of EGFR kinase domain in complex with Iressa"},
            "exptl": [{"method": "X-RAY DIFFRACTION"}],
            "rcsb_entry_info": {"resolution_combined": [3.42]},
            "nonpolymer_entities": [
                {
                    "nonpolymer_comp": {
                        "chem_comp": {
                            "id": "IRE",
                            "name": "N-(3-CHLORO-4-FLUORO-PHENYL)-7-METHOXY-6-(3-MORPHOLIN-4-YL-PROPOXY)QUINAZOLIN-4-AMINE",
                            "formula_weight": 446.902,
                        }
                    }
                }
            ],
        },
    ],
    "alphafold": [
        {
            "entryId": "AF-P00533-F1",
            "gene": "EGFR",
            "uniprotAccession": "P00533",
            "uniprotId": "EGFR_HUMAN",
            "uniprotDescription": "Epidermal growth factor receptor",
            "taxId": 9606,
            "organismScientificName": "Homo sapiens",
            "uniprotStart": 1,
            "uniprotEnd": 1210,
            "latestVersion": 4,
            "modelCreatedDate": "2022-06-01",
            "pdbUrl": "https://alphafold.ebi.ac.uk/files/AF-P00533-F1-model_v4.pdb",
            "cifUrl": "https://alphafold.ebi.ac.uk/files/AF-P00533-F1-model_v4.cif",
            "paeDocUrl": "https://alphafold.ebi.ac.uk/files/AF-P00533-F1-predicted_aligned_error_v4.json",
        }
    ],
}

GENES = {"FTL": FTL, "EGFR": EGFR}
SERVICES = ("uniprot", "rcsb-search", "rcsb-data", "alphafold", "files")


class TargetServices:
    """The four services (and structure files) on one loopback HTTP server."""

    def __init__(self, monkeypatch, genes: dict | None = None) -> None:
        self.monkeypatch = monkeypatch
        self.genes = dict(GENES if genes is None else genes)
        self.fail: dict[str, int] = {}  # service -> HTTP status to answer
        self.raw: dict[str, bytes] = {}  # service -> body sent as it is (status 200)
        self.files: dict[str, bytes] = {}  # file name -> bytes under /files/
        self.delay: dict[str, float] = {}  # service -> seconds to wait before answering
        self.requests: list[tuple[str, str, str, str]] = []
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    # The accession -> gene data of each known gene.
    def _by_accession(self, accession: str) -> dict | None:
        for data in self.genes.values():
            if data["uniprot"]["primaryAccession"] == accession:
                return data
        return None

    def __enter__(self) -> TargetServices:
        services = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                services._answer(self, "GET")

            def do_POST(self) -> None:
                services._answer(self, "POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        base = self.base
        for variable, path in (
            ("DRUGDESK_UNIPROT_URL", "/uniprot"),
            ("DRUGDESK_RCSB_SEARCH_URL", "/rcsb/search"),
            ("DRUGDESK_RCSB_DATA_URL", "/rcsb/graphql"),
            ("DRUGDESK_ALPHAFOLD_API_URL", "/alphafold/api"),
            ("DRUGDESK_RCSB_URL", "/files"),
            ("DRUGDESK_ALPHAFOLD_URL", "/files"),
        ):
            self.monkeypatch.setenv(variable, base + path)
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def base(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        """Shut the server down (its port then refuses connections: as if offline)."""
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)
            self.httpd = None

    def count(self, service: str) -> int:
        return sum(1 for logged in self.requests if logged[0] == service)

    # ------------------------------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        url = urllib.parse.urlsplit(handler.path)
        service = next(
            (name for prefix, name in (("/uniprot/", "uniprot"), ("/rcsb/search", "rcsb-search"),
             ("/rcsb/graphql", "rcsb-data"), ("/alphafold/", "alphafold"), ("/files/", "files"))
             if url.path.startswith(prefix)),
            "unknown",
        )  # fmt: skip
        self.requests.append((service, method, handler.path, body))
        if service in self.delay:
            time.sleep(self.delay[service])
        if service in self.fail:
            return self._send(handler, self.fail[service], b'{"error": "stand-in failure"}')
        if service in self.raw:
            return self._send(handler, 200, self.raw[service])
        if service == "uniprot" and url.path == "/uniprot/uniprotkb/search":
            query = urllib.parse.parse_qs(url.query).get("query", [""])[0]
            gene = re.search(r"gene_exact:(\S+)", query)
            taxon = re.search(r"organism_id:(\d+)", query)
            data = self.genes.get(gene.group(1).upper()) if gene else None
            results = []
            if data and taxon and int(taxon.group(1)) == data["uniprot"]["organism"]["taxonId"]:
                results = [data["uniprot"]]
            return self._json(handler, {"results": results})
        if service == "rcsb-search" and method == "POST":
            accession = json.loads(body)["query"]["parameters"]["value"]
            data = self._by_accession(accession)
            if not data:
                return self._send(handler, 204, b"")
            ids = [entry["rcsb_id"] for entry in data["entries"]]
            return self._json(handler, {
                "query_id": "0f1e5a7c-3c1b-4a8e-9d41-2b6f0c3e9a11", "result_type": "entry",
                "total_count": len(ids),
                "result_set": [{"identifier": code, "score": 1.0} for code in ids],
            })  # fmt: skip
        if service == "rcsb-data" and method == "POST":
            query = json.loads(body)["query"]
            asked = json.loads(re.search(r"entry_ids: (\[[^\]]*\])", query).group(1))
            known = {e["rcsb_id"]: e for d in self.genes.values() for e in d["entries"]}
            entries = [known[code] for code in asked if code in known]
            return self._json(handler, {"data": {"entries": entries}})
        if service == "alphafold":
            accession = url.path.rsplit("/", 1)[-1]
            data = self._by_accession(accession)
            if not data or not data.get("alphafold"):
                return self._send(handler, 404, b'{"detail": "Not Found"}')
            return self._json(handler, data["alphafold"])
        if service == "files":
            name = url.path.rsplit("/", 1)[-1]
            if name in self.files:
                return self._send(handler, 200, self.files[name], "application/octet-stream")
        return self._send(handler, 404, b"")

    @staticmethod
    def _json(handler, value) -> None:
        TargetServices._send(handler, 200, json.dumps(value).encode())

    @staticmethod
    def _send(handler, status: int, body: bytes, kind: str = "application/json") -> None:
        handler.send_response(status)
        if status != 204:
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if status != 204:
            handler.wfile.write(body)

"""The last progress message of each search job says what it found (the Jobs panel shows it after
"Done in …"): not a count frozen at the start ("Scaffolds of 0 of 30 molecules")."""

from __future__ import annotations

from core.chem.search import (
    SubstructureIndex,
    build_fingerprint_index,
    butina_clusters,
    maxmin_pick,
    scaffold_groups,
    similarity_search,
    substructure_search,
)

SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "OC(=O)c1ccccc1O",  # salicylic acid
    "CC(C)Cc1ccc(cc1)C(C)C(=O)O",  # ibuprofen
    "CCO",  # acyclic: no scaffold
    "",  # no structure
    "Cn1cnc2c1c(=O)n(C)c(=O)n2C",  # caffeine
]


def last_message(job, *args, **kwargs) -> tuple[float, str]:
    messages: list[tuple[float, str]] = []
    job(*args, progress=lambda fraction, text: messages.append((fraction, text)), **kwargs)
    assert messages, f"{job.__name__} reported no progress"
    return messages[-1]


def test_each_search_job_ends_with_what_it_found():
    assert last_message(scaffold_groups, SMILES) == (
        1.0,
        "2 scaffolds among 6 molecules (2 acyclic or unreadable)",  # benzene, xanthine
    )
    index = build_fingerprint_index(SMILES)
    assert last_message(build_fingerprint_index, SMILES) == (
        1.0,
        "Fingerprinted 5 of 6 molecules (1 without a structure)",
    )
    fraction, text = last_message(similarity_search, index, SMILES[0], top_k=2)
    assert (fraction, text) == (1.0, "2 similar molecules among 5 (best 1.00)")
    substructures = SubstructureIndex.build(SMILES)
    assert last_message(substructure_search, substructures, "C(=O)[OH]") == (
        1.0,
        "3 of 5 molecules contain C(=O)[OH]",
    )
    fraction, text = last_message(butina_clusters, index, threshold=0.4)
    assert fraction == 1.0 and text.endswith("among 5 molecules") and "cluster" in text
    assert last_message(maxmin_pick, index, 1) == (1.0, "Picked 1 diverse molecule of 5")
    assert last_message(maxmin_pick, index, 3) == (1.0, "Picked 3 diverse molecules of 5")

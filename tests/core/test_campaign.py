"""The campaign a project holds (issue 17, part 5): the six steps say what each area holds, and the
HTML report shows the hit list ranked by its profile with structures, the targets with a
picture, the chosen genes with their statistics and the trial design."""

from __future__ import annotations

import re

import pandas as pd

from core.campaign import (
    AreaRecord,
    LibrarySummary,
    campaign_steps,
    hit_list_library,
    structure_picture_svg,
    write_campaign_report,
)
from core.hitlist.desirability import Criterion, DesirabilityProfile
from core.hitlist.scoring import rank_table
from core.protein.structure import read_structure
from resources import resource_path

STRUCTURE = resource_path("demo/1hvr.pdb.gz")

PROFILE = DesirabilityProfile(
    name="potent",
    criteria=(Criterion(column="pIC50", shape="logistic", good=8.0, bad=5.0),),
)


def hit_table(ranked: bool = True) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "name": ["weak", "<b>best</b>", "middle", "broken"],
            "canonical_smiles": ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", ""],
            "valid": [True, True, True, False],
            "pIC50": [5.0, 8.5, 7.0, 9.9],
            "flag": [False, True, True, False],
        }
    )
    if ranked:  # as Score/Rank in the window leaves it
        table = pd.concat([table, rank_table(table, PROFILE)], axis=1)
    return table


def full_areas() -> dict[str, AreaRecord]:
    results = pd.DataFrame(
        {"log2FoldChange": [3.2, -1.1, 0.1], "padj": [1e-9, 0.004, 0.8]},
        index=pd.Index(["FTL", "TP53", "GAPDH"], name="gene"),
    )
    return {
        "expression": AreaRecord(
            state={
                "campaign": {
                    "datasets": ["airway counts"],
                    "contrast": "treated vs control",
                    "n_genes_tested": 3,
                    "n_significant": 2,
                    "chosen_genes": ["FTL", "TP53"],
                    "alpha": 0.05,
                }
            },
            tables={"results": results},
            modified="2026-12-06T02:00:00+00:00",
        ),
        "proteins": AreaRecord(
            state={
                "campaign": {
                    "structures": [
                        {
                            "name": "1HVR",
                            "source": "file",
                            "gene": "pol",
                            "path": str(STRUCTURE),
                        }
                    ],
                    "binding_sites": 1,
                    "placed": ["aspirin"],
                }
            }
        ),
        "models": AreaRecord(state={"campaign": {"models": [{"name": "potency"}]}}),
        "trials": AreaRecord(
            state={
                "campaign": {
                    "datasets": ["lung"],
                    "analyses": ["Kaplan-Meier by arm"],
                    "design": {
                        "endpoint": "overall survival",
                        "n_total": 310,
                        "power": 0.8,
                        "alpha": 0.05,
                    },
                }
            }
        ),
    }


def test_an_empty_project_has_six_steps_none_started():
    steps = campaign_steps([], {})
    assert [s.key for s in steps] == [
        "disease",
        "genes",
        "targets",
        "molecules",
        "hitlist",
        "trial",
    ]
    assert [s.area for s in steps] == [
        "expression",
        "expression",
        "proteins",
        "libraries",
        "libraries",
        "trials",
    ]
    assert not any(step.started for step in steps)
    assert all(step.next_action for step in steps)


def test_steps_count_what_each_area_holds():
    libraries = [
        LibrarySummary("screen", hit_table(ranked=False).drop(columns="flag")),
        LibrarySummary("hits", hit_table(), PROFILE.to_dict()),
    ]
    steps = {step.key: step for step in campaign_steps(libraries, full_areas())}
    assert all(step.started for step in steps.values())
    assert steps["disease"].lines == ["1 data set: airway counts", "Contrast: treated vs control"]
    assert steps["genes"].lines == [
        "2 of 3 genes significant (adjusted p < 0.05)",
        "Chosen: FTL, TP53",
    ]
    assert steps["targets"].lines == [
        "1 structure: 1HVR (pol)",
        "1 binding site",
        "Placed: aspirin",
    ]
    assert steps["molecules"].lines == ["2 libraries, 8 molecules (6 valid)", "Models: potency"]
    assert steps["hitlist"].lines == ["hits: 3 ranked by potent", "2 molecules flagged"]
    assert steps["trial"].lines == [
        "overall survival: 310 patients, power 80%",
        "1 trial data set: lung",
    ]
    assert steps["disease"].modified == "2026-12-06T02:00:00+00:00"


def test_untrusted_campaign_values_are_ignored():
    areas = {
        "expression": AreaRecord(state={"campaign": {"datasets": "not a list", "alpha": "x"}}),
        "proteins": AreaRecord(state={"campaign": {"structures": [1, {"name": 5}]}}),
        "trials": AreaRecord(state={"campaign": {"design": ["x"]}}),
        "models": AreaRecord(state={"campaign": []}),
    }
    steps = campaign_steps([], areas)
    assert not any(step.started for step in steps)


def test_hit_list_is_the_last_ranked_library():
    first = LibrarySummary("a", hit_table(), PROFILE.to_dict())
    second = LibrarySummary("b", hit_table(), PROFILE.to_dict())
    assert (
        hit_list_library(
            [first, LibrarySummary("c", hit_table(ranked=False), PROFILE.to_dict()), second]
        )
        is second
    )
    assert (
        hit_list_library([LibrarySummary("c", hit_table(ranked=False), PROFILE.to_dict())]) is None
    )


def test_report_ranks_shows_structures_genes_and_design(tmp_path):
    path = tmp_path / "campaign.html"
    libraries = [LibrarySummary("hits", hit_table(), PROFILE.to_dict())]
    write_campaign_report(path, "lung <project>", libraries, full_areas())
    text = path.read_text()
    assert "lung &lt;project&gt;" in text and "<project>" not in text
    # Ranked by the profile: best, middle, weak; the invalid row is not scored.
    names = re.findall(r"<td class='text'>([^<]*)</td>", text)
    ranked = [n for n in names if n in ("weak", "&lt;b&gt;best&lt;/b&gt;", "middle", "broken")]
    assert ranked == ["&lt;b&gt;best&lt;/b&gt;", "middle", "weak"]
    assert text.count("<svg") >= 3 + 1  # three molecules and the structure picture
    assert "polyline" in text  # the CA trace of 1HVR
    # The chosen genes with their statistics, the design's numbers.
    assert "FTL" in text and "3.200" in text and "1.00e-09" in text
    assert "GAPDH" not in text
    assert "310" in text and "overall survival" in text and "Kaplan-Meier by arm" in text


def test_report_of_an_empty_project_says_what_is_missing(tmp_path):
    path = write_campaign_report(tmp_path / "r.html", "empty", [], {})
    text = path.read_text()
    assert "No library of this project is scored and ranked yet" in text
    assert "No protein structure in this project yet" in text
    assert "No differential expression results in this project yet" in text
    assert "No trial design in this project yet" in text


def test_structure_picture_draws_each_chain_and_the_ligand():
    structure = read_structure(STRUCTURE)
    svg = structure_picture_svg(structure)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    colours = set(re.findall(r"stroke='(#[0-9a-f]{6})'", svg))
    assert len(colours) == 2  # 1HVR: chains A and B
    assert "fill='#d62728'" in svg  # the inhibitor's atoms

"""What a test of one hit-list tab is given: a running engine, and a stand-in for the library
panel the tab works on (its table, and a record of what the tab asked of it)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from rdkit import Chem

DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "ibuprofen": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "salicylic acid": "O=C(O)c1ccccc1O",
}


class StandInPanel:
    """The parts of ``ui.library.panel.LibraryPanel`` a tool tab uses: ``library.table``, a
    title, and the calls that change the table (recorded; added columns join the table)."""

    def __init__(self, table: pd.DataFrame, title: str = "drugs") -> None:
        self.library = SimpleNamespace(table=table, computed_columns=[])
        self.title = title
        self.added: list[dict] = []
        self.masks: list[tuple] = []
        self.sorts: list[tuple] = []
        self.view = SimpleNamespace(scrollToTop=lambda: None)

    def add_columns(self, frame, notes=None, sort_by=None, descending=False, drop=()) -> None:
        self.added.append({"frame": frame, "notes": notes or {}, "sort_by": sort_by, "drop": drop})
        table = self.library.table.drop(columns=list(drop))
        for name in frame.columns:
            table[name] = frame[name]
        self.library.table = table
        self.library.computed_columns = [*self.library.computed_columns, *frame.columns]

    def set_row_mask(self, mask, description: str) -> None:
        self.masks.append((mask, description))

    def sort_by(self, column: str, descending: bool = False) -> None:
        self.sorts.append((column, descending))


def drug_table() -> pd.DataFrame:
    """Five drugs and one broken record, as a library reads them."""
    names = [*DRUGS, "broken"]
    mols = [Chem.MolFromSmiles(s) for s in DRUGS.values()]
    return pd.DataFrame(
        {
            "name": names,
            "canonical_smiles": [Chem.MolToSmiles(m) for m in mols] + [None],
            "valid": [True] * len(DRUGS) + [False],
            "mw": [180.16, 194.19, 206.28, 151.16, 138.12, None],
        }
    )


@pytest.fixture
def panel() -> StandInPanel:
    return StandInPanel(drug_table())

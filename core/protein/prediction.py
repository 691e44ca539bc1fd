"""Structure prediction with ESMFold (``EsmForProteinFolding`` from transformers).

Weights come from a folder the user picks or the local Hugging Face cache, never from the
network (``local_files_only=True``). :func:`predict_structure` is an engine job: it takes
``device=`` and ``model_cache=`` (the model stays loaded between runs) and returns a
:class:`PredictionResult` with PDB text (pLDDT 0–100 in the B-factor column, as AlphaFold writes
it) and the predicted aligned error (PAE) matrix.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.jobs import check_cancelled

HUB_MODEL = "facebook/esmfold_v1"
AMINO_ACIDS = set("ACDEFGHIKLMNPQRSTVWY")
EXTENDED = set("XBZUO")
MAX_LENGTH = 1500

HOW_TO_GET_WEIGHTS = (
    "ESMFold weights (facebook/esmfold_v1, about 8.4 GB; 16–24 GB of GPU memory for long "
    "sequences) are not on this computer. Click 'Download ESMFold weights' (or run "
    "'drugdesk esmfold-weights'), or on a machine with internet access run\n"
    "    huggingface-cli download facebook/esmfold_v1\n"
    "(they go to the Hugging Face cache, where DrugDesk finds them), or download the folder "
    "and choose it with 'Weights folder…'. DrugDesk downloads them only when asked."
)


class PredictionError(ValueError):
    """Invalid sequence, missing or wrong weights."""


@dataclass(slots=True, frozen=True)
class PredictionResult:
    sequence: str
    pdb_text: str
    plddt: np.ndarray  # (n_residues,) 0–100
    pae: np.ndarray | None  # (n, n) Å
    ptm: float | None
    device: str

    @property
    def mean_plddt(self) -> float:
        return float(np.mean(self.plddt)) if len(self.plddt) else float("nan")


def clean_sequence(text: str) -> str:
    """The one-letter sequence in ``text`` (FASTA header lines and whitespace removed), upper case.

    Raises :class:`PredictionError` naming invalid letters and their positions.
    """
    lines = [line for line in text.splitlines() if not line.startswith(">")]
    sequence = re.sub(r"\s+", "", "".join(lines)).upper().rstrip("*")
    if not sequence:
        raise PredictionError("Enter a protein sequence (one-letter amino-acid codes).")
    bad = [(i + 1, ch) for i, ch in enumerate(sequence) if ch not in AMINO_ACIDS | EXTENDED]
    if bad:
        shown = ", ".join(f"{ch!r} at {pos}" for pos, ch in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise PredictionError(
            f"The sequence holds letters that are not amino acids: {shown}{more}. "
            "Use the 20 one-letter codes (X for unknown)."
        )
    if len(sequence) > MAX_LENGTH:
        raise PredictionError(
            f"The sequence has {len(sequence)} residues; ESMFold here is limited to {MAX_LENGTH}."
        )
    return sequence


def find_weights(folder: str | os.PathLike | None = None) -> Path | None:
    """The ESMFold weights folder: ``folder`` if given, else the local Hugging Face cache copy."""
    if folder:
        path = Path(folder)
        return path if (path / "config.json").is_file() else None
    from core.protein.esm_weights import cached_snapshot

    # The cache as the environment names it now (huggingface_hub read it once, at its import).
    cached = cached_snapshot(HUB_MODEL)
    if cached is not None:
        return cached
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(HUB_MODEL, local_files_only=True))
    except Exception:  # not cached (LocalEntryNotFoundError and friends): the caller explains
        return None


def check_weights(folder: str | os.PathLike) -> None:
    """Raise :class:`PredictionError` unless ``folder`` holds an ESMFold checkpoint."""
    path = Path(folder)
    config = path / "config.json"
    if not config.is_file():
        raise PredictionError(f"{path} holds no config.json: not a Hugging Face model folder.")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PredictionError(f"{config} cannot be read: {exc}") from None
    architectures = data.get("architectures") or []
    if data.get("model_type") != "esm" or not data.get("is_folding_model"):
        raise PredictionError(
            f"{path.name} holds a {data.get('model_type', 'unknown')!r} model "
            f"({', '.join(architectures) or 'no architecture'}), not ESMFold "
            "(EsmForProteinFolding): choose the esmfold_v1 folder."
        )
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise PredictionError(f"{path} holds no weight files (*.safetensors or *.bin).")


def load_model(folder: str | os.PathLike, device: str = "cpu"):
    """``EsmForProteinFolding`` from ``folder`` (local files only), in eval mode on ``device``."""
    check_weights(folder)
    import torch
    from transformers import EsmForProteinFolding

    try:
        model = EsmForProteinFolding.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise PredictionError(f"The weights in {folder} could not be loaded: {exc}") from None
    model = model.eval().to(device)
    if str(device).startswith("cuda"):
        model.esm = model.esm.half()  # as the model card does: the language model in fp16
        torch.backends.cuda.matmul.allow_tf32 = True
    else:  # the checkpoint asks for an fp16 language model, which CPUs and MPS run slowly
        model.esm = model.esm.float()
    return model


def predict_structure(
    sequence: str,
    weights: str | os.PathLike | None = None,
    chunk_size: int | None = None,
    *,
    progress=None,
    is_cancelled=None,
    device: str = "cpu",
    model_cache=None,
) -> PredictionResult:
    """Fold ``sequence`` with ESMFold; an engine job (``needs_torch=True``).

    ``chunk_size`` (e.g. 64 or 32) computes the trunk's axial attention in chunks: slower, but its
    memory grows about linearly with length instead of quadratically.
    """
    sequence = clean_sequence(sequence)
    folder = find_weights(weights)
    if folder is None:
        raise PredictionError(HOW_TO_GET_WEIGHTS)
    if progress:
        progress(0.05, "Loading ESMFold")
    key = ("esmfold", str(Path(folder).resolve()), str(device))
    if model_cache is not None:
        model = model_cache.get(key, lambda: load_model(folder, device))
    else:
        model = load_model(folder, device)
    check_cancelled(is_cancelled)
    if progress:
        progress(0.2, f"Folding {len(sequence)} residues on {device}")
    model.trunk.set_chunk_size(chunk_size)
    import torch

    with torch.no_grad():
        output = model.infer(sequence)
    check_cancelled(is_cancelled)
    plddt_atoms = output["plddt"]
    if float(plddt_atoms.max()) <= 1.0:  # transformers returns 0–1; AlphaFold files hold 0–100
        output["plddt"] = plddt_atoms * 100.0
    pdb_text = model.output_to_pdb(output)[0]
    mask = output["atom37_atom_exists"][0].cpu().numpy().astype(bool)
    per_atom = output["plddt"][0].float().cpu().numpy()
    plddt = np.array([per_atom[i][mask[i]].mean() if mask[i].any() else 0.0
                      for i in range(len(sequence))])  # fmt: skip
    pae = output.get("predicted_aligned_error")
    pae_array = pae[0].float().cpu().numpy() if pae is not None else None
    ptm = output.get("ptm")
    if progress:
        progress(1.0, "Folded")
    return PredictionResult(
        sequence=sequence,
        pdb_text=pdb_text,
        plddt=plddt,
        pae=pae_array,
        ptm=float(ptm) if ptm is not None else None,
        device=str(device),
    )


def tiny_config(seed_width: int = 64):
    """A random, tiny ESMFold configuration (about 0.2 M parameters) for tests and demos:
    trunk sequence width 64, pair width 32, one block, a small structure module."""
    from transformers import EsmConfig

    return EsmConfig(
        vocab_size=33, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, pad_token_id=1, mask_token_id=32, max_position_embeddings=1026,
        position_embedding_type="rotary", emb_layer_norm_before=False, token_dropout=True,
        is_folding_model=True, architectures=["EsmForProteinFolding"],
        esmfold_config={
            "fp16_esm": False, "lddt_head_hid_dim": 16,
            "trunk": {
                "num_blocks": 1, "sequence_state_dim": seed_width, "pairwise_state_dim": 32,
                "sequence_head_width": 16, "pairwise_head_width": 16,
                "structure_module": {
                    "sequence_dim": 32, "pairwise_dim": 16, "ipa_dim": 8, "resnet_dim": 16,
                    "num_heads_ipa": 2, "num_qk_points": 2, "num_v_points": 2, "num_blocks": 1,
                },
            },
        },
    )  # fmt: skip


def save_tiny_model(folder: str | os.PathLike, seed: int = 0) -> Path:
    """Write a random tiny ESMFold to ``folder`` (tests, the benchmark); returns the folder."""
    import torch
    from transformers import EsmForProteinFolding

    torch.manual_seed(seed)
    model = EsmForProteinFolding(tiny_config()).eval()
    model.save_pretrained(str(folder))
    return Path(folder)


def predict_and_parse(sequence: str, weights=None, chunk_size=None, *, progress=None,
                      is_cancelled=None, device: str = "cpu", model_cache=None):  # fmt: skip
    """:func:`predict_structure`, then the PDB text read as a structure: ``(result, structure)``."""
    from core.protein.structure import parse_structure, prepare_for_display

    result = predict_structure(
        sequence, weights, chunk_size, progress=progress, is_cancelled=is_cancelled,
        device=device, model_cache=model_cache,
    )  # fmt: skip
    structure = parse_structure(result.pdb_text, name="esmfold_prediction.pdb")
    return result, prepare_for_display(structure)

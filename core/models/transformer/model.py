"""The SMILES RoBERTa itself: what a model folder holds, the encoder's size, the prediction
head, and a model read back (:class:`LoadedModel`).

Model folders hold ``model.safetensors`` (float16, to halve the shipped size; loaded back as
float32), ``config.json`` (a ``RobertaConfig``), the tokenizer files and ``card.json`` (+
``MODEL_CARD.md`` for pretrained models); fine-tuned ensembles add ``model_1.safetensors``….
Everything that touches torch imports it inside the function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "card.json"
CARD_MARKDOWN = "MODEL_CARD.md"
CURVE_FILE = "training_curve.csv"

REGISTRY_KIND = "transformer"
"""``card.json``'s ``kind``, as ``core.models.registry`` knows it (it checks ``model.safetensors``)."""

PRETRAINED_KIND = "smiles-roberta-mlm"
FINETUNED_KIND = "smiles-roberta-finetuned"
"""``card.json``'s ``model_type``: which of the two this folder holds."""


@dataclass(slots=True, frozen=True)
class ModelSize:
    """Shape of the RoBERTa encoder.

    The default (hidden 192, 4 layers, 4 heads, feed-forward 384, 128 positions, 1.27 M
    parameters) is the shipped model's: the size 2 CPU cores pretrain best in about half an hour.
    Measured here (torch 2.13, 2 threads, 64 MOSES SMILES per AdamW step, own-length padding):
    hidden 128 (0.8 M) 0.20 s per step, hidden 192 (1.3 M) 0.27 s, hidden 256 (2.2 M) 0.48 s. In
    32 minutes hidden 192 took 4,904 steps (314 k SMILES, ~12 M tokens, ~9 tokens per
    parameter) and reached 0.90 masked-token accuracy on held-out SMILES; hidden 256 would have
    seen 45% fewer SMILES, further from compute-optimal (~20 tokens per parameter). On a GPU the
    same code scales up (e.g. hidden 512, 8 layers, 8 heads, feed-forward 2048, batch 256).
    """

    hidden: int = 192
    layers: int = 4
    heads: int = 4
    intermediate: int = 384
    max_length: int = 128
    """Most tokens per SMILES, ``<s>`` and ``</s>`` included; longer SMILES are truncated."""
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.hidden % self.heads:
            raise ValueError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")
        if min(self.hidden, self.layers, self.heads, self.intermediate) < 1:
            raise ValueError("Model sizes must be positive")
        if self.max_length < 8:
            raise ValueError("max_length must be at least 8 tokens")


@dataclass(slots=True)
class LoadedModel:
    """A model read from a folder (or just trained): tokenizer, config, card and torch modules.

    ``members`` holds one module per ensemble member: ``RobertaForMaskedLM`` for a pretrained
    model, a predictor (encoder + head) for a fine-tuned one.
    """

    kind: str
    tokenizer: Any
    config: Any
    card: dict
    members: list
    device: str = "cpu"
    cast: dict = field(default_factory=dict, repr=False, compare=False)
    """Members in another precision (``devices.cast_members``), made on first use."""

    @property
    def max_length(self) -> int:
        return int(self.card.get("max_length", self.config.max_position_embeddings - 2))

    @property
    def encoder(self) -> Any:
        """The RoBERTa encoder of the first member (for embeddings)."""
        member = self.members[0]
        return member.roberta if hasattr(member, "roberta") else member.encoder


def roberta_config(vocab_size: int, size: ModelSize, tokenizer: Any) -> Any:
    from transformers import RobertaConfig

    return RobertaConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=size.intermediate,
        hidden_dropout_prob=size.dropout,
        attention_probs_dropout_prob=size.dropout,
        # RoBERTa numbers positions from pad_token_id + 1, so it needs two spare positions.
        max_position_embeddings=size.max_length + 2,
        type_vocab_size=1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


@cache
def predictor_class() -> type:
    """The encoder + head module, defined on first use so that importing this module skips torch."""
    from torch import nn
    from transformers import RobertaModel

    class SmilesPredictor(nn.Module):
        """RoBERTa encoder, mean-pooled over real tokens, then a two-layer head (one output/task)."""

        def __init__(self, config: Any, n_tasks: int, dropout: float) -> None:
            super().__init__()
            self.config = config
            self.encoder = RobertaModel(config, add_pooling_layer=False)
            hidden = config.hidden_size
            self.head = nn.Sequential(
                nn.Dropout(dropout),
                nn.Linear(hidden, hidden),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(hidden, n_tasks),
            )

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            states = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
            return self.head(mean_pool(states.last_hidden_state, attention_mask))

    return SmilesPredictor


def make_predictor(config: Any, n_tasks: int, dropout: float) -> Any:
    return predictor_class()(config, n_tasks, dropout)


def mean_pool(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the hidden states over real tokens (padding excluded)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

"""A small SMILES RoBERTa: masked-language-model pretraining, fine-tuning, embeddings, prediction.

Everything that touches torch imports it inside the function, so importing this package is cheap
and the window opens without torch. The package, by what each module holds:

- :mod:`~core.models.transformer.model`: what a model folder holds (file names, kinds), the
  encoder's size (:class:`ModelSize`), the prediction head and a model read back
  (:class:`LoadedModel`);
- :mod:`~core.models.transformer.corpus`: SMILES to pretrain on (:func:`read_corpus`);
- :mod:`~core.models.transformer.batching`: length-bucketed batches, token counts, encoding;
- :mod:`~core.models.transformer.devices`: the device, mixed precision, the hardware's name;
- :mod:`~core.models.transformer.schedule`: the optimiser and the learning-rate schedule;
- :mod:`~core.models.transformer.folders`: writing model folders and reading them back, checked
  (safetensors only: a model folder cannot run code);
- :mod:`~core.models.transformer.pretraining`: :func:`pretrain`, :func:`masked_token_accuracy`;
- :mod:`~core.models.transformer.finetuning`: :func:`finetune` (an ensemble of seeds);
- :mod:`~core.models.transformer.inference`: :func:`predict` and :func:`embed`.

Everything public is re-exported here, so ``from core.models.transformer import X`` keeps
working for code written against the single module this package replaces.
"""

from __future__ import annotations

from core.models.transformer.batching import count_truncated, length_bucketed_batches, token_lengths
from core.models.transformer.corpus import moses_corpus_path, read_corpus
from core.models.transformer.devices import hardware_description
from core.models.transformer.finetuning import (
    EpochCallback,
    FinetuneOptions,
    FinetuneResult,
    finetune,
)
from core.models.transformer.folders import (
    CONFIG_LIMITS,
    MAX_MEMBERS,
    MAX_PARAMETERS,
    MAX_TASKS,
    load_model,
    save_finetuned_model,
    save_pretrained_model,
)
from core.models.transformer.inference import Prediction, embed, predict
from core.models.transformer.model import (
    CARD_FILE,
    CARD_MARKDOWN,
    CONFIG_FILE,
    CURVE_FILE,
    FINETUNED_KIND,
    PRETRAINED_KIND,
    REGISTRY_KIND,
    WEIGHTS_FILE,
    LoadedModel,
    ModelSize,
    mean_pool,
    roberta_config,
)
from core.models.transformer.pretraining import (
    PretrainOptions,
    PretrainResult,
    masked_token_accuracy,
    pretrain,
)

# The name this helper had in the single module: core.models.explain and
# benchmarks/bench_inference.py pool embeddings the same way.
_mean_pool = mean_pool

__all__ = [
    "CARD_FILE",
    "CARD_MARKDOWN",
    "CONFIG_FILE",
    "CONFIG_LIMITS",
    "CURVE_FILE",
    "FINETUNED_KIND",
    "MAX_MEMBERS",
    "MAX_PARAMETERS",
    "MAX_TASKS",
    "PRETRAINED_KIND",
    "REGISTRY_KIND",
    "WEIGHTS_FILE",
    "EpochCallback",
    "FinetuneOptions",
    "FinetuneResult",
    "LoadedModel",
    "ModelSize",
    "Prediction",
    "PretrainOptions",
    "PretrainResult",
    "count_truncated",
    "embed",
    "finetune",
    "hardware_description",
    "length_bucketed_batches",
    "load_model",
    "masked_token_accuracy",
    "mean_pool",
    "moses_corpus_path",
    "predict",
    "pretrain",
    "read_corpus",
    "roberta_config",
    "save_finetuned_model",
    "save_pretrained_model",
    "token_lengths",
]

"""core.models.transformer is a package of modules now; what code, tests, scripts, benchmarks and
the model host took from the single module still comes from the package, under the same names."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

from core.modelhost import function_reference

# Every name taken from core.models.transformer (``from … import X`` or ``tf.X``) by app/, core/,
# scripts/, benchmarks/ and tests/ when the package replaced the module.
USED_NAMES = [
    "CURVE_FILE",
    "EpochCallback",
    "FINETUNED_KIND",
    "FinetuneOptions",
    "LoadedModel",
    "ModelSize",
    "PRETRAINED_KIND",
    "PretrainOptions",
    "_mean_pool",
    "count_truncated",
    "embed",
    "finetune",
    "length_bucketed_batches",
    "load_model",
    "masked_token_accuracy",
    "predict",
    "pretrain",
    "read_corpus",
    "save_pretrained_model",
    "token_lengths",
]


@pytest.mark.parametrize("name", USED_NAMES)
def test_the_names_of_the_single_module_still_import(name):
    module = importlib.import_module("core.models.transformer")
    assert getattr(module, name) is not None


def test_every_public_name_is_defined_in_one_of_the_package_modules():
    import core.models.transformer as package

    for name in package.__all__:
        value = getattr(package, name)
        if isinstance(value, types.FunctionType | type):  # not constants, not type aliases
            assert value.__module__.startswith("core.models.transformer."), name


@pytest.mark.parametrize("name", ["pretrain", "finetune", "predict", "embed", "load_model"])
def test_the_model_host_names_the_jobs_by_their_new_home(name):
    import core.models.transformer as package

    fn = getattr(package, name)
    module, qualified, _file = function_reference(fn)
    assert module.startswith("core.models.transformer.")
    assert getattr(importlib.import_module(module), qualified) is fn


def test_importing_any_module_of_the_package_imports_no_torch():
    modules = [
        "batching",
        "corpus",
        "devices",
        "finetuning",
        "folders",
        "inference",
        "model",
        "pretraining",
        "schedule",
    ]
    code = (
        "import sys\n"
        + "".join(f"import core.models.transformer.{m}\n" for m in modules)
        + "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

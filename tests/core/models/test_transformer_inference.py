"""Predicting with a transformer ensemble: batches on threads, one tokenisation, bf16 on request.

Uses the shipped potency ensemble (three members) on SMILES from RDKit's wheel.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import rdkit

from core.jobs import JobCancelled
from core.models.transformer import inference as inf
from core.models.transformer.batching import encode, length_bucketed_batches, token_lengths
from core.models.transformer.devices import check_precision
from core.models.transformer.folders import load_model

torch = pytest.importorskip("torch")

SHIPPED = Path(__file__).parents[3] / "resources" / "models" / "potency-chembl2321810"


@pytest.fixture(scope="module")
def smiles() -> list[str]:
    path = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data" / "CHEMBL2321810.smi"
    lines = [line.split()[0] for line in path.read_text().splitlines() if line.strip()]
    return lines[:300]


@pytest.fixture(scope="module")
def model():
    return load_model(SHIPPED, "cpu")


@pytest.fixture
def two_torch_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _member_by_member(model, smiles: list[str]) -> np.ndarray:
    """What predict computed before batches were shared: each member on its own, one thread."""
    card = model.card
    outputs = []
    lengths = token_lengths(model.tokenizer, smiles)
    for member in model.members:
        member.eval()
        out = np.empty((len(smiles), 1))
        with torch.inference_mode():
            for index in length_bucketed_batches(lengths, 128):
                encoded = encode(model.tokenizer, [smiles[i] for i in index], 128, "cpu")
                out[index] = member(**encoded).float().numpy()
        outputs.append(out * card["target_scale"] + card["target_mean"])
    return np.stack(outputs)


def test_threads_give_the_ensemble_member_by_member_values(model, smiles, two_torch_threads):
    expected = _member_by_member(model, smiles)
    result = inf.predict(model, smiles, precision="float32")
    np.testing.assert_allclose(result.mean, expected.mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(result.std, expected.std(axis=0), atol=1e-5)
    assert torch.get_num_threads() == 2, "the caller's torch thread count is restored"


def test_one_thread_and_two_give_the_same_values(model, smiles, two_torch_threads):
    two = inf.predict(model, smiles, batch_size=32).mean
    torch.set_num_threads(1)
    one = inf.predict(model, smiles, batch_size=32).mean
    # Each batch is computed whole by one thread either way.
    np.testing.assert_array_equal(one, two)


def test_batches_come_back_in_order_with_threads(model, smiles):
    lengths = token_lengths(model.tokenizer, smiles)
    expected = length_bucketed_batches(lengths, 16)
    seen = [
        index
        for index, _ in inf.run_batches(
            model.tokenizer,
            smiles,
            lengths,
            16,
            model.max_length,
            "cpu",
            lambda encoded: threading.current_thread().name,
            threads=3,
        )
    ]
    assert len(seen) == len(expected)
    assert all(np.array_equal(a, b) for a, b in zip(seen, expected, strict=True))


def test_work_is_spread_over_the_threads(model, smiles):
    lengths = token_lengths(model.tokenizer, smiles)
    names = {
        name
        for _, name in inf.run_batches(
            model.tokenizer,
            smiles,
            lengths,
            8,
            model.max_length,
            "cpu",
            lambda encoded: threading.current_thread().name,
            threads=2,
        )
    }
    assert names and all(name.startswith("inference") for name in names)


def test_bfloat16_is_close_to_float32_and_casts_once(smiles, two_torch_threads):
    model = load_model(SHIPPED, "cpu")
    exact = inf.predict(model, smiles, precision="float32")
    fast = inf.predict(model, smiles, precision="bfloat16")
    # bf16 keeps 8 bits of mantissa: about 1 % of the target's spread at most.
    assert np.abs(fast.mean - exact.mean).max() < 0.05
    assert np.corrcoef(fast.mean[:, 0], exact.mean[:, 0])[0, 1] > 0.999
    assert len(model.cast) == 1
    cast = next(iter(model.cast.values()))
    inf.predict(model, smiles[:10], precision="bfloat16")
    assert next(iter(model.cast.values())) is cast, "the bf16 copies are made once"
    assert all(p.dtype == torch.float32 for m in model.members for p in m.parameters())
    assert all(p.dtype == torch.bfloat16 for m in cast for p in m.parameters())
    embedded = inf.embed(model, smiles[:20], precision="bfloat16")
    assert embedded.dtype == np.float32 and embedded.shape == (20, model.config.hidden_size)


def test_an_unknown_precision_is_refused(model, smiles):
    with pytest.raises(ValueError, match="float32"):
        inf.predict(model, smiles[:2], precision="fp16")
    assert check_precision("auto") == "auto"


def test_cancel_stops_the_threads_and_restores_torch(model, smiles, two_torch_threads):
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    before = threading.active_count()
    with pytest.raises(JobCancelled):
        inf.predict(model, smiles, batch_size=8, is_cancelled=cancelled)
    assert len(calls) < len(smiles) // 8, "batches not started were dropped"
    assert threading.active_count() == before
    assert torch.get_num_threads() == 2


def test_progress_counts_molecules_once_for_the_ensemble(model, smiles):
    seen = []
    inf.predict(model, smiles[:50], batch_size=16, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen if f >= 0]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1] == "Predicted 50 of 50"


def test_a_batch_out_of_memory_is_run_again_in_halves(model, smiles, caplog):
    lengths = token_lengths(model.tokenizer, smiles[:40])
    sizes = []

    def forward(encoded):
        n = len(encoded["input_ids"])
        sizes.append(n)
        if n > 5:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [np.full((n, 1), float(n)), np.arange(n)[:, None]]

    results = list(
        inf.run_batches(model.tokenizer, smiles[:40], lengths, 16, model.max_length, "cpu", forward)
    )
    assert [len(index) for index, _ in results] == [16, 16, 8]
    for index, (first, second) in results:
        assert len(first) == len(second) == len(index)  # halves joined back in order
        assert first.max() <= 5
    assert sizes.count(16) == 2 and sizes.count(8) == 5  # 2 halves of each 16, and the last 8
    assert "Out of memory on a batch of 16" in caplog.text


def test_other_errors_and_single_molecules_out_of_memory_are_raised(model, smiles):
    lengths = token_lengths(model.tokenizer, smiles[:4])

    def broken(encoded):
        raise RuntimeError("shape mismatch")

    with pytest.raises(RuntimeError, match="shape mismatch"):
        list(inf.run_batches(model.tokenizer, smiles[:4], lengths, 4, 128, "cpu", broken))

    def always_out_of_memory(encoded):
        raise RuntimeError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        list(
            inf.run_batches(
                model.tokenizer, smiles[:4], lengths, 4, 128, "cpu", always_out_of_memory
            )
        )


def test_a_gpu_gets_wider_batches_than_the_cpu():
    assert inf.default_batch_size("cuda:0") > inf.default_batch_size("cpu") == 128

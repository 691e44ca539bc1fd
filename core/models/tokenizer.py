"""Atom-level SMILES tokeniser, saved with every model as a Hugging Face fast tokenizer.

The split follows the regular expression of Schwaller et al. (Molecular Transformer, ACS Cent.
Sci. 2019): bracket atoms stay whole (``[nH]``, ``[C@@H]``, ``[O-]``), ``Cl``/``Br`` are one token,
``%nn`` ring closures are one token, every other character is its own token. Tokens are joined
without separators, so ``"".join(tokenize(s)) == s`` for every SMILES the regex covers.

The vocabulary is a ``tokenizers`` WordLevel model; it is wrapped in ``PreTrainedTokenizerFast`` so
that ``save_pretrained``/``from_pretrained`` write and read it beside the model weights, and it adds
RoBERTa-style ``<s> … </s>`` around each sequence.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SMILES_REGEX = (
    r"(\[[^\]]+]|Br?|Cl?|N|O|S|P|F|I|b|c|n|o|s|p|\(|\)|\.|=|#|-|\+|\\|\/|:|~|@|\?|>|\*|\$|"
    r"\%[0-9]{2}|[0-9])"
)
"""Schwaller et al.'s SMILES tokenisation regex (one capture group, one token per match)."""

_SMILES_PATTERN = re.compile(SMILES_REGEX)

BOS, PAD, EOS, UNK, MASK = "<s>", "<pad>", "</s>", "<unk>", "<mask>"
SPECIAL_TOKENS = (BOS, PAD, EOS, UNK, MASK)
"""In RoBERTa's order, so ``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, ``<mask>``=4."""

# Tokens every vocabulary holds even when the corpus lacks them: a model pretrained on MOSES
# (C, N, O, S, F, Cl, Br, H only) still has ids for the halogens, phosphorus and common charged or
# stereo bracket atoms of ChEMBL molecules, so they are learnable in fine-tuning, not <unk>.
BASE_TOKENS = (
    *"CNOSPFIBcnosp",
    "Cl",
    "Br",
    *"()[].=#-+\\/:~@*$",
    *"123456789",
    *(f"%{i}" for i in range(10, 20)),
    "[nH]",
    "[NH+]",
    "[NH2+]",
    "[NH3+]",
    "[N+]",
    "[N-]",
    "[n+]",
    "[O-]",
    "[S+]",
    "[C@H]",
    "[C@@H]",
    "[C@]",
    "[C@@]",
    "[S@]",
    "[S@@]",
    "[P@]",
    "[H]",
    "[2H]",
    "[se]",
    "[Si]",
    "[B-]",
    "[Na+]",
    "[K+]",
    "[Cl-]",
    "[Br-]",
)


def tokenize(smiles: str) -> list[str]:
    """Split a SMILES into atom-level tokens (the regex's matches, in order).

    Characters the regex does not match (``"Xx"``, spaces) are kept as tokens of their own, so no
    input is lost; the vocabulary maps them to ``<unk>``.
    """
    tokens: list[str] = []
    position = 0
    for match in _SMILES_PATTERN.finditer(smiles):
        if match.start() > position:
            tokens.extend(smiles[position : match.start()])
        tokens.append(match.group(0))
        position = match.end()
    if position < len(smiles):
        tokens.extend(smiles[position:])
    return tokens


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens back into a SMILES, dropping special tokens."""
    return "".join(t for t in tokens if t not in SPECIAL_TOKENS)


def build_vocabulary(
    smiles: Iterable[str], min_frequency: int = 1, include_base: bool = True
) -> dict[str, int]:
    """Map each token to an id: the special tokens first, then base tokens, then corpus tokens.

    Parameters
    ----------
    smiles
        The corpus.
    min_frequency
        Corpus tokens seen fewer times are left out (they become ``<unk>``).
    include_base
        Also include :data:`BASE_TOKENS` (common atoms absent from a small corpus).

    Returns
    -------
    dict
        ``token -> id``, ids contiguous from 0.
    """
    counts: Counter[str] = Counter()
    for s in smiles:
        counts.update(tokenize(s))
    vocab: dict[str, int] = {}
    for token in SPECIAL_TOKENS:
        vocab[token] = len(vocab)
    if include_base:
        for token in BASE_TOKENS:
            vocab.setdefault(token, len(vocab))
    # Most frequent first: ids are then stable between corpora of the same kind.
    for token, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if count >= min_frequency and token not in vocab:
            vocab[token] = len(vocab)
    return vocab


def make_tokenizer(vocab: dict[str, int], model_max_length: int = 128) -> Any:
    """Build the Hugging Face fast tokenizer for ``vocab``.

    Returns
    -------
    transformers.PreTrainedTokenizerFast
        Adds ``<s>``/``</s>`` around each SMILES, pads with ``<pad>``, maps unknown tokens to
        ``<unk>``.
    """
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    for token in SPECIAL_TOKENS:
        if token not in vocab:
            raise ValueError(f"The vocabulary lacks the special token {token}")
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    # "isolated" keeps the text between matches as pieces of their own, so unmatched characters
    # reach the vocabulary (as <unk>) instead of vanishing.
    backend.pre_tokenizer = pre_tokenizers.Split(Regex(SMILES_REGEX), behavior="isolated")
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {EOS}",
        pair=f"{BOS} $A {EOS} {EOS} $B {EOS}",
        special_tokens=[(BOS, vocab[BOS]), (EOS, vocab[EOS])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        mask_token=MASK,
        cls_token=BOS,
        sep_token=EOS,
        model_max_length=model_max_length,
    )


def train_tokenizer(
    smiles: Iterable[str], model_max_length: int = 128, min_frequency: int = 1
) -> Any:
    """Build a vocabulary from ``smiles`` and return its tokenizer (see :func:`make_tokenizer`)."""
    return make_tokenizer(build_vocabulary(smiles, min_frequency), model_max_length)


def save_tokenizer(tokenizer: Any, directory: str | Path) -> None:
    """Write the tokenizer files (``tokenizer.json``, ``tokenizer_config.json``…) to ``directory``."""
    Path(directory).mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(directory))


def load_tokenizer(directory: str | Path) -> Any:
    """Read a tokenizer written by :func:`save_tokenizer`.

    Raises
    ------
    ValueError
        When ``directory`` holds no readable tokenizer.
    """
    from transformers import PreTrainedTokenizerFast

    path = Path(directory)
    if not (path / "tokenizer.json").is_file():
        raise ValueError(f"{path} holds no tokenizer.json: not a SMILES model folder")
    try:
        json.loads((path / "tokenizer.json").read_text())
        return PreTrainedTokenizerFast.from_pretrained(str(path), local_files_only=True)
    except Exception as exc:  # a broken file should name the folder, not a tokenizers internal
        raise ValueError(f"Cannot read the tokenizer in {path}: {exc}") from exc


def smiles_tokens(tokenizer: Any, smiles: str) -> list[str]:
    """The tokens the tokenizer gives ``smiles`` (no special tokens)."""
    return tokenizer.convert_ids_to_tokens(tokenizer(smiles, add_special_tokens=False)["input_ids"])


@dataclass(slots=True, frozen=True)
class UnknownTokenReport:
    """How much of a set of SMILES the vocabulary does not cover."""

    n_molecules: int
    n_tokens: int
    n_unknown: int
    molecules_with_unknown: int
    unknown_examples: tuple[str, ...]
    """Up to 10 distinct pieces that became ``<unk>``, most frequent first."""

    @property
    def fraction(self) -> float:
        """Unknown tokens over all tokens (0 when there are no tokens)."""
        return self.n_unknown / self.n_tokens if self.n_tokens else 0.0

    def message(self) -> str:
        if not self.n_unknown:
            return f"All {self.n_tokens} tokens of {self.n_molecules} SMILES are in the vocabulary"
        return (
            f"{self.n_unknown} of {self.n_tokens} tokens ({self.fraction:.2%}) are unknown, in "
            f"{self.molecules_with_unknown} of {self.n_molecules} SMILES: "
            + ", ".join(self.unknown_examples)
        )


def count_unknown_tokens(tokenizer: Any, smiles: Sequence[str]) -> UnknownTokenReport:
    """Count the tokens of ``smiles`` that map to ``<unk>``.

    Parameters
    ----------
    tokenizer
        A tokenizer from :func:`make_tokenizer` or :func:`load_tokenizer`.
    smiles
        The SMILES to check.
    """
    vocab = tokenizer.get_vocab()
    unknown: Counter[str] = Counter()
    n_tokens = n_unknown = with_unknown = 0
    for s in smiles:
        pieces = tokenize(s)
        missing = [p for p in pieces if p not in vocab]
        n_tokens += len(pieces)
        n_unknown += len(missing)
        with_unknown += bool(missing)
        unknown.update(missing)
    return UnknownTokenReport(
        n_molecules=len(smiles),
        n_tokens=n_tokens,
        n_unknown=n_unknown,
        molecules_with_unknown=with_unknown,
        unknown_examples=tuple(t for t, _ in unknown.most_common(10)),
    )

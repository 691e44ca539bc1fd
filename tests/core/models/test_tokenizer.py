"""The atom-level SMILES tokenizer: exact round trips, special tokens, unknown tokens, save/load."""

from __future__ import annotations

import pytest

from core.models.tokenizer import (
    BOS,
    EOS,
    MASK,
    PAD,
    UNK,
    build_vocabulary,
    count_unknown_tokens,
    detokenize,
    load_tokenizer,
    make_tokenizer,
    save_tokenizer,
    smiles_tokens,
    tokenize,
    train_tokenizer,
)

TRICKY = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "C[C@@H](N)C(=O)O",
    "F/C=C/F",
    "F/C=C\\Cl",
    "c1ccc2[nH]ccc2c1",
    "[NH4+].[Cl-]",
    "C[N+](C)(C)C",
    "[O-][N+](=O)c1ccc(Br)cc1",
    "C1CC2CCC3CCC4CCC5CCC6CCC7CCC8CCC9CCC%10CCC%11CC%11C%10C9C8C7C6C5C4C3C21",
    "ClC(Cl)(Cl)Br",
    "[2H]C([2H])([2H])O",
    "C#N",
    "[Fe+2]",
    "O=S(=O)(O)c1ccc(cc1)/N=N/c1ccccc1",
    "C%12CCCCC%12",
]


@pytest.mark.parametrize("smiles", TRICKY)
def test_tokens_join_back_to_the_input(smiles):
    assert "".join(tokenize(smiles)) == smiles


def test_atoms_and_ring_closures_are_single_tokens():
    assert tokenize("C%10CC[C@@H](Cl)C%10Br[nH+]") == [
        "C",
        "%10",
        "C",
        "C",
        "[C@@H]",
        "(",
        "Cl",
        ")",
        "C",
        "%10",
        "Br",
        "[nH+]",
    ]
    assert tokenize("F/C=C\\F") == ["F", "/", "C", "=", "C", "\\", "F"]
    # Two-digit ring bonds without % are two ring closures, as in SMILES itself.
    assert tokenize("C12") == ["C", "1", "2"]


def test_chembl_round_trip_through_the_hugging_face_tokenizer(chembl_entries):
    smiles = [s for s, _ in chembl_entries]
    tokenizer = train_tokenizer(smiles)
    for s in smiles:
        assert "".join(smiles_tokens(tokenizer, s)) == s
    assert count_unknown_tokens(tokenizer, smiles).n_unknown == 0


def test_special_tokens_have_roberta_ids_and_wrap_each_sequence():
    tokenizer = train_tokenizer(["CCO", "c1ccccc1"])
    assert [tokenizer.convert_tokens_to_ids(t) for t in (BOS, PAD, EOS, UNK, MASK)] == [
        0,
        1,
        2,
        3,
        4,
    ]
    ids = tokenizer("CCO")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id
    assert len(ids) == 5
    batch = tokenizer(["C", "CCCC"], padding="longest")["input_ids"]
    assert batch[0][-1] == tokenizer.pad_token_id and len(batch[0]) == len(batch[1]) == 6
    assert detokenize(tokenizer.convert_ids_to_tokens(ids)) == "CCO"


def test_vocabulary_holds_corpus_tokens_most_frequent_first():
    vocab = build_vocabulary(["[Zn]CC", "[Zn]", "[Hg]"], include_base=False)
    assert list(vocab)[:5] == [BOS, PAD, EOS, UNK, MASK]
    assert list(vocab)[5:] == ["C", "[Zn]", "[Hg]"]
    assert "[Hg]" not in build_vocabulary(["[Zn]CC", "[Zn]", "[Hg]"], min_frequency=2)


def test_unknown_tokens_are_counted_and_named():
    tokenizer = train_tokenizer(["CCO"])
    report = count_unknown_tokens(tokenizer, ["CC[Zn]CC", "CCO", "[Hg][Zn]"])
    assert report.n_molecules == 3
    assert report.n_tokens == 5 + 3 + 2
    assert report.n_unknown == 3
    assert report.molecules_with_unknown == 2
    assert report.fraction == pytest.approx(0.3)
    assert report.unknown_examples == ("[Zn]", "[Hg]")
    assert "[Zn]" in report.message()
    ids = tokenizer("CC[Zn]CC", add_special_tokens=False)["input_ids"]
    assert ids.count(tokenizer.unk_token_id) == 1
    assert count_unknown_tokens(tokenizer, ["CCO"]).fraction == 0.0


def test_save_and_load_give_the_same_ids(tmp_path):
    tokenizer = make_tokenizer(build_vocabulary(TRICKY), model_max_length=64)
    save_tokenizer(tokenizer, tmp_path / "tok")
    loaded = load_tokenizer(tmp_path / "tok")
    assert loaded.get_vocab() == tokenizer.get_vocab()
    assert loaded.model_max_length == 64
    for s in TRICKY:
        assert loaded(s)["input_ids"] == tokenizer(s)["input_ids"]


def test_loading_a_folder_without_a_tokenizer_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="tokenizer"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(ValueError, match="Cannot read the tokenizer"):
        load_tokenizer(tmp_path)

"""Project column codec: every column type round-trips exactly; stored bytes that are damaged or
hostile (zlib bombs, absurd shapes, deep JSON, wrong types) give ColumnDecodeError and nothing
else, before anything of the claimed size is allocated."""

from __future__ import annotations

import io
import json
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from core.project import codec
from core.project.codec import (
    MAX_ROWS,
    ColumnDecodeError,
    ColumnEncodeError,
    decode_column,
    encode_column,
)


def round_trip(series: pd.Series) -> pd.Series:
    dtype, encoding, data = encode_column(series)
    return decode_column(dtype, encoding, data, len(series))


@pytest.mark.parametrize(
    ("series", "encoding"),
    [
        (pd.Series([1.5, np.nan, -0.0, np.inf, 1e300]), "npy"),
        (pd.Series(np.array([2**62, -(2**63), 0], dtype=np.int64)), "npy"),
        (pd.Series(np.array([1, 2, 255], dtype=np.uint8)), "npy"),
        (pd.Series([True, False, True]), "npy"),
        (pd.Series(np.array([1 + 2j, 0], dtype=np.complex128)), "npy"),
        (pd.Series(pd.to_datetime(["2026-01-02", None])), "npy"),
        (pd.Series(pd.array([7, None, -(2**63)], dtype="Int64")), "masked"),
        (pd.Series(pd.array([1.5, None, 0.0], dtype="Float64")), "masked"),
        (pd.Series(pd.array([True, None, False], dtype="boolean")), "masked"),
        (pd.Series(pd.array([3, None], dtype="UInt8")), "masked"),
        (pd.Series(["CCO", None, "", "☆ naïve 𝛼", "a\nb\tc"], dtype=object), "text"),
        (pd.Series(["x", None, "ü"], dtype="string"), "text"),
        (pd.Series([1, "a", None, 2.5, True], dtype=object), "json"),
        (pd.Series([], dtype=object), "text"),
        (pd.Series([], dtype=np.float64), "npy"),
    ],
)
def test_every_column_type_round_trips(series, encoding):
    dtype, used, data = encode_column(series)
    assert used == encoding
    back = decode_column(dtype, used, data, len(series))
    pd.testing.assert_series_equal(back, series.reset_index(drop=True), check_names=False)


def test_categories_come_back_as_their_text():
    series = pd.Series(pd.Categorical(["a", "b", None, "a"]))
    back = round_trip(series)
    assert back.dtype == object
    assert back.tolist() == ["a", "b", None, "a"]


def test_nan_and_none_in_text_columns_both_come_back_missing():
    back = round_trip(pd.Series(["a", np.nan, None, pd.NA], dtype=object))
    assert back.tolist() == ["a", None, None, None]


# ----------------------------------------------------------------------------------------------
# Hostile bytes


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _frames(*parts: bytes) -> bytes:
    return b"".join(struct.pack("<Q", len(p)) + p for p in parts)


def _text_payload(missing, ends, text: bytes) -> bytes:
    return _frames(_npy(np.asarray(missing, dtype=bool)), _npy(np.asarray(ends)), text)


def test_a_zlib_bomb_is_refused_before_it_inflates():
    # 64 MiB of zeros in 64 KB: a 3-row text column may inflate to about 3 MiB, no more.
    bomb = zlib.compress(b"\0" * (64 * 1024**2), 9)
    assert len(bomb) < 100_000
    for encoding in ("npy", "masked", "text", "json"):
        with pytest.raises(ColumnDecodeError, match="inflates to more than"):
            decode_column("object", encoding, bomb, 3)


def test_a_shape_of_a_trillion_values_is_refused():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    data = zlib.compress(header.getvalue() + b"\0" * 40)
    with pytest.raises(ColumnDecodeError, match="declares shape"):
        decode_column("float64", "npy", data, 5)


@pytest.mark.parametrize("n_rows", [10**12, -1, MAX_ROWS + 1, "5", 2.0, None])
def test_absurd_or_mistyped_row_counts_are_refused(n_rows):
    _dtype, _encoding, data = encode_column(pd.Series([1.0, 2.0]))
    with pytest.raises(ColumnDecodeError, match="rows"):
        decode_column("float64", "npy", data, n_rows)


def test_deeply_nested_json_is_refused_not_a_recursion_error():
    payload = zlib.compress(b"[" * 200_000 + b"]" * 200_000)
    with pytest.raises(ColumnDecodeError, match="nested too deeply"):
        decode_column("object", "json", payload, 1)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"a": 1}, "not a list"),
        ("text", "not a list"),
        ([1, [2, 3]], "holds a list"),
        ([1, {"x": 1}], "holds a dict"),
        ([1, 2, 3], "expected 2"),
    ],
)
def test_json_of_the_wrong_shape_is_refused(payload, message):
    data = zlib.compress(json.dumps(payload).encode())
    with pytest.raises(ColumnDecodeError, match=message):
        decode_column("object", "json", data, 2)


@pytest.mark.parametrize(
    ("dtype", "encoding", "payload", "message"),
    [
        # Object arrays need pickle: refused by their header, before numpy is asked.
        ("object", "npy", _npy(np.array(["a", "b"])), "not allowed"),
        ("float64", "npy", _npy(np.zeros((2, 2))), "declares shape"),
        ("float64", "npy", _npy(np.zeros(2))[:-3], "does not match its declared size"),
        ("float64", "npy", b"not npy at all", "damaged"),
        ("category", "masked", _frames(_npy(np.zeros(2)), _npy(np.zeros(2, bool))), "nullable"),
        ("Int64", "masked", _frames(_npy(np.zeros(2))), "expected 2"),
        ("Int64", "masked", _frames(_npy(np.zeros(2)), _npy(np.zeros(2))), "not allowed"),
        ("Int64", "masked", struct.pack("<Q", 10**12) + b"x", "truncated"),
        ("object", "text", _text_payload([0, 0], [2, 1], b"ab"), "offsets"),
        ("object", "text", _text_payload([0, 0], [1, 9], b"ab"), "offsets"),
        ("object", "text", _text_payload([0, 0], [1, 2], b"\xff\xfe"), "damaged"),
        ("object", "text", _text_payload([0, 0], [1.0, 2.0], b"ab"), "not allowed"),
        ("Sparse[int]", "text", _text_payload([0, 0], [1, 2], b"ab"), "not a text type"),
        ("object", "pickle", b"", "unknown column encoding"),
    ],
)
def test_damaged_payloads_are_refused(dtype, encoding, payload, message):
    with pytest.raises(ColumnDecodeError, match=message):
        decode_column(dtype, encoding, zlib.compress(payload), 2)


@pytest.mark.parametrize("data", ["text, not bytes", 12, None, 1.5])
def test_data_of_the_wrong_sqlite_type_is_refused(data):
    with pytest.raises(ColumnDecodeError, match="not bytes"):
        decode_column("float64", "npy", data, 2)


def test_truncated_compressed_data_is_refused():
    _dtype, _encoding, data = encode_column(pd.Series(["a", "b"]))
    with pytest.raises(ColumnDecodeError, match="truncated"):
        decode_column("object", "text", data[:-4], 2)


def test_too_much_text_is_refused_when_saving(monkeypatch):
    # The same limits as reading, so a save never writes what could not be read back.
    monkeypatch.setattr(codec, "MAX_TEXT_BYTES_PER_ROW", 10)
    with pytest.raises(ColumnEncodeError, match="more than a project stores"):
        encode_column(pd.Series(["x" * 30, "y"]))
    monkeypatch.setattr(codec, "MAX_ROWS", 1)
    with pytest.raises(ColumnEncodeError, match="at most 1 rows"):
        encode_column(pd.Series([1.0, 2.0]))


@seed(20261205)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["npy", "masked", "text", "json"]),
    position=st.integers(min_value=0, max_value=10_000),
    replacement=st.binary(min_size=1, max_size=8),
)
def test_corrupted_payloads_give_a_decode_error_or_the_right_length(kind, position, replacement):
    series = {
        "npy": pd.Series([1.5, 2.5, np.nan]),
        "masked": pd.Series(pd.array([1, None, 3], dtype="Int64")),
        "text": pd.Series(["CCO", None, "c1ccccc1"], dtype=object),
        "json": pd.Series([1, "a", None], dtype=object),
    }[kind]
    dtype, encoding, data = encode_column(series)
    payload = bytearray(zlib.decompress(data))
    at = position % len(payload)
    payload[at : at + len(replacement)] = replacement
    try:
        back = decode_column(dtype, encoding, zlib.compress(bytes(payload)), 3)
    except ColumnDecodeError:
        return
    assert len(back) == 3

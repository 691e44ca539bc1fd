"""Columns of a DataFrame as compact bytes, without pickle: numpy's ``.npy`` format for numbers,
UTF-8 with offsets for text, JSON for anything else; each column zlib-compressed.

A column is stored alone, so a project can rewrite one library without touching the others and a
damaged blob names the column it broke.

Reading trusts nothing in the stored bytes: the declared row count, the ``.npy`` headers, the
compressed size and the JSON are checked against limits before anything the size of the data is
allocated, so a hostile project (a zlib bomb, a shape of 10^12 values, JSON nested 100,000 deep)
gives a :class:`ColumnDecodeError` instead of filling the memory or raising something else.
"""

from __future__ import annotations

import io
import json
import math
import struct
import zlib

import numpy as np
import pandas as pd

_LEVEL = 1  # fast: a million-row library is written in the background every time it changes
_LENGTH = struct.Struct("<Q")

MAX_ROWS = 20_000_000
"""Most rows a stored library may declare. DrugDesk is built for libraries of about a million
molecules (loading runs at a few hundred molecules per second), so a project claiming more is
damaged or hostile, and is refused before anything of that size is allocated."""

MAX_TEXT_BYTES = 2 * 1024**3
"""Most bytes of text (or JSON) one stored column may inflate to: 2 GiB."""

MAX_TEXT_BYTES_PER_ROW = 1024**2
"""Most bytes of text (or JSON) per row, on average, one stored column may inflate to: 1 MiB.
With :data:`MAX_TEXT_BYTES` this bounds what a small compressed column (a zlib bomb) may cost."""

_MAX_NPY_HEADER = 65_536  # numpy writes format 1.0 headers, whose length field is 2 bytes
_MAX_ITEMSIZE = 16  # complex128, the widest numpy scalar a column of numbers holds
_NUMBER_KINDS = "biufcmM"
_MASKED_DTYPES = frozenset(
    {
        *(f"{sign}Int{bits}" for sign in ("", "U") for bits in (8, 16, 32, 64)),
        "Float32",
        "Float64",
        "boolean",
    }
)
_TEXT_DTYPES = frozenset({"object", "str", "string", "string[python]", "string[pyarrow]"})
_JSON_VALUE_TYPES = (str, bool, int, float)


class ColumnDecodeError(ValueError):
    """A stored column could not be read back (damaged, hostile or from an unknown format)."""


class ColumnEncodeError(ValueError):
    """A column is too large to be stored (reading it back would be refused)."""


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _frames(*parts: bytes) -> bytes:
    return b"".join(_LENGTH.pack(len(part)) + part for part in parts)


def _unframe(data: bytes, count: int) -> list[bytes]:
    parts, offset = [], 0
    while offset < len(data):
        if offset + _LENGTH.size > len(data):
            raise ColumnDecodeError("truncated column data")
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        if length > len(data) - offset:
            raise ColumnDecodeError("truncated column data")
        parts.append(data[offset : offset + length])
        offset += length
    if len(parts) != count:
        raise ColumnDecodeError(f"the column has {len(parts)} parts, expected {count}")
    return parts


def _from_npy(data: bytes, n_rows: int, kinds: str, what: str) -> np.ndarray:
    """A 1-D array of ``n_rows`` values whose dtype kind is one of ``kinds``, or an error.

    The header is checked before the array is read, so a header declaring 10^12 values or an
    object array is refused without allocating anything.
    """
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ColumnDecodeError(f"{what}: unsupported .npy version {version}")
    except ColumnDecodeError:
        raise
    except Exception as error:  # numpy parses the header with tokenize and literal_eval,
        # whose errors on damaged text are not only ValueError (tokenize.TokenError too)
        raise ColumnDecodeError(f"{what}: damaged .npy header ({error})") from None
    if shape != (n_rows,):
        raise ColumnDecodeError(f"{what}: declares shape {shape}, expected ({n_rows},)")
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        raise ColumnDecodeError(f"{what}: values of type {dtype} are not allowed here")
    if dtype.itemsize > _MAX_ITEMSIZE or len(data) - stream.tell() != n_rows * dtype.itemsize:
        raise ColumnDecodeError(f"{what}: the data does not match its declared size")
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def _inflate(data: bytes, limit: int) -> bytes:
    """``data`` decompressed, refusing (without producing it) output longer than ``limit``."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit:
        raise ColumnDecodeError(
            f"the compressed data inflates to more than {limit:,} bytes, more than a column of "
            "its rows can hold (a damaged or hostile file)"
        )
    if not inflater.eof:
        raise ColumnDecodeError("truncated compressed data")
    return out


def _text_limit(n_rows: int) -> int:
    return min(MAX_TEXT_BYTES, n_rows * MAX_TEXT_BYTES_PER_ROW)


def _size_limit(encoding: str, n_rows: int) -> int:
    """The most bytes a column of ``n_rows`` rows in ``encoding`` may inflate to."""
    if encoding == "npy":
        return _MAX_NPY_HEADER + n_rows * _MAX_ITEMSIZE
    if encoding == "masked":
        return 2 * (_LENGTH.size + _MAX_NPY_HEADER) + n_rows * (_MAX_ITEMSIZE + 1)
    if encoding == "text":
        return 3 * _LENGTH.size + 2 * _MAX_NPY_HEADER + n_rows * 9 + _text_limit(n_rows)
    if encoding == "json":
        return 2 + n_rows * 2 + _text_limit(n_rows)  # "[", "]" and ", " between values
    raise ColumnDecodeError(f"unknown column encoding {encoding!r}")


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def encode_column(series: pd.Series) -> tuple[str, str, bytes]:
    """``(dtype, encoding, compressed bytes)`` for one column; see :func:`decode_column`.

    Raises
    ------
    ColumnEncodeError
        When the column is larger than :func:`decode_column` accepts (more than
        :data:`MAX_ROWS` rows or too much text), so a save never writes what cannot be read back.
    """
    if len(series) > MAX_ROWS:
        raise ColumnEncodeError(
            f"{len(series):,} rows: a project holds at most {MAX_ROWS:,} rows per library"
        )
    dtype = series.dtype
    name = str(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype, name = series.dtype, "object"
    if isinstance(dtype, np.dtype) and dtype.kind in _NUMBER_KINDS:
        payload, encoding = _npy(series.to_numpy()), "npy"
    elif pd.api.types.is_extension_array_dtype(dtype) and (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    ):
        # Nullable Int64 / Float64 / boolean: values plus the missing mask.
        mask = series.isna().to_numpy(dtype=bool)
        numpy_dtype = bool if pd.api.types.is_bool_dtype(dtype) else dtype.numpy_dtype
        values = series.to_numpy(dtype=numpy_dtype, na_value=False if numpy_dtype is bool else 0)
        payload, encoding = _frames(_npy(values), _npy(mask)), "masked"
    else:
        values = series.to_numpy(dtype=object)
        missing = np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))
        present = values[~missing]
        if all(isinstance(v, str) for v in present):
            texts = ["" if m else v for v, m in zip(values, missing, strict=True)]
            lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
            text = "".join(texts).encode("utf-8")
            _check_text_size(len(text), len(values))
            payload = _frames(_npy(missing), _npy(np.cumsum(lengths)), text)
            encoding = "text"
        else:
            payload = json.dumps(
                [None if m else _plain(v) for v, m in zip(values, missing, strict=True)]
            )
            payload, encoding = payload.encode("utf-8"), "json"
            _check_text_size(len(payload), len(values))
        if not (name.startswith("string") or name == "str"):
            name = "object"
    return name, encoding, zlib.compress(payload, _LEVEL)


def _check_text_size(n_bytes: int, n_rows: int) -> None:
    if n_bytes > _text_limit(max(n_rows, 1)):
        raise ColumnEncodeError(
            f"{n_bytes:,} bytes of text in {n_rows:,} rows: more than a project stores per "
            f"column ({MAX_TEXT_BYTES:,} bytes, {MAX_TEXT_BYTES_PER_ROW:,} per row on average)"
        )


def _plain(value: object) -> object:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def decode_column(dtype: str, encoding: str, data: bytes, n_rows: int) -> pd.Series:
    """The column written by :func:`encode_column` (``n_rows`` long, a fresh RangeIndex).

    Every argument may come from a hostile file: types, the row count, the declared shapes and
    the inflated size are checked before the values are built.

    Raises
    ------
    ColumnDecodeError
        For anything that is not a column :func:`encode_column` could have written, and only it.
    """
    if not isinstance(n_rows, int) or isinstance(n_rows, bool) or not 0 <= n_rows <= MAX_ROWS:
        raise ColumnDecodeError(
            f"the library declares {n_rows!r} rows (at most {MAX_ROWS:,} are accepted)"
        )
    if not isinstance(dtype, str) or not isinstance(encoding, str):
        raise ColumnDecodeError("the column's type or encoding is not text")
    if not isinstance(data, bytes):
        raise ColumnDecodeError(f"the column's data is stored as {type(data).__name__}, not bytes")
    try:
        payload = _inflate(data, _size_limit(encoding, n_rows))
        if encoding == "npy":
            series = pd.Series(_from_npy(payload, n_rows, _NUMBER_KINDS, "values"))
        elif encoding == "masked":
            if dtype not in _MASKED_DTYPES:
                raise ColumnDecodeError(f"type {dtype!r} is not a nullable number type")
            values_bytes, mask_bytes = _unframe(payload, 2)
            values = _from_npy(values_bytes, n_rows, "biuf", "values")
            mask = _from_npy(mask_bytes, n_rows, "b", "missing mask")
            series = pd.Series(values).astype(dtype).mask(mask)
        elif encoding == "text":
            series = _decode_text(dtype, payload, n_rows)
        else:  # json (_size_limit refused any other encoding)
            series = _decode_json(dtype, payload, n_rows)
    except ColumnDecodeError:
        raise
    except RecursionError:
        raise ColumnDecodeError("the column's JSON is nested too deeply") from None
    except (
        zlib.error,
        ValueError,
        TypeError,
        UnicodeDecodeError,
        struct.error,
        OverflowError,
        ImportError,  # a string type whose storage (pyarrow) is not installed
    ) as error:
        raise ColumnDecodeError(f"damaged column data ({error})") from error
    if len(series) != n_rows:
        raise ColumnDecodeError(f"column has {len(series)} values, expected {n_rows}")
    return series


def _decode_text(dtype: str, payload: bytes, n_rows: int) -> pd.Series:
    if dtype not in _TEXT_DTYPES:
        raise ColumnDecodeError(f"type {dtype!r} is not a text type")
    missing_bytes, ends_bytes, text_bytes = _unframe(payload, 3)
    if len(text_bytes) > _text_limit(n_rows):
        raise ColumnDecodeError(f"{len(text_bytes):,} bytes of text is more than allowed")
    missing = _from_npy(missing_bytes, n_rows, "b", "missing mask")
    ends = _from_npy(ends_bytes, n_rows, "iu", "text offsets").astype(np.int64)
    text = text_bytes.decode("utf-8")
    if len(ends) and (ends[0] < 0 or np.any(np.diff(ends) < 0) or ends[-1] != len(text)):
        raise ColumnDecodeError("the text offsets do not fit the text")
    if not len(ends) and text:
        raise ColumnDecodeError("text stored for a column without rows")
    starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
    values = np.empty(len(ends), dtype=object)
    values[:] = [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
    values[missing] = None
    series = pd.Series(values, dtype=object)
    return series if dtype == "object" else series.astype(dtype)


def _decode_json(dtype: str, payload: bytes, n_rows: int) -> pd.Series:
    if dtype != "object":
        raise ColumnDecodeError(f"type {dtype!r} is not stored as JSON")
    values = json.loads(payload.decode("utf-8"))
    if not isinstance(values, list):
        raise ColumnDecodeError(f"the column's JSON is a {type(values).__name__}, not a list")
    if len(values) != n_rows:
        raise ColumnDecodeError(f"column has {len(values)} values, expected {n_rows}")
    for value in values:
        if value is not None and not isinstance(value, _JSON_VALUE_TYPES):
            raise ColumnDecodeError(
                f"the column's JSON holds a {type(value).__name__} where a plain value belongs"
            )
    return pd.Series(values, dtype=object)


__all__ = [
    "MAX_ROWS",
    "MAX_TEXT_BYTES",
    "MAX_TEXT_BYTES_PER_ROW",
    "ColumnDecodeError",
    "ColumnEncodeError",
    "decode_column",
    "encode_column",
]

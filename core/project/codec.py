"""Columns of a DataFrame as compact bytes, without pickle: numpy's ``.npy`` format for numbers,
UTF-8 with offsets for text, JSON for anything else; each column zlib-compressed.

A column is stored alone, so a project can rewrite one library without touching the others and a
damaged blob names the column it broke.
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


class ColumnDecodeError(ValueError):
    """A stored column could not be read back (damaged or from an unknown format)."""


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _frames(*parts: bytes) -> bytes:
    return b"".join(_LENGTH.pack(len(part)) + part for part in parts)


def _unframe(data: bytes) -> list[bytes]:
    parts, offset = [], 0
    while offset < len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        offset += _LENGTH.size
        parts.append(data[offset : offset + length])
        offset += length
    if offset != len(data):
        raise ColumnDecodeError("truncated column data")
    return parts


def _from_npy(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def _is_missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def encode_column(series: pd.Series) -> tuple[str, str, bytes]:
    """``(dtype, encoding, compressed bytes)`` for one column; see :func:`decode_column`."""
    dtype = series.dtype
    name = str(dtype)
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype, name = series.dtype, "object"
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
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
            payload = _frames(
                _npy(missing), _npy(np.cumsum(lengths)), "".join(texts).encode("utf-8")
            )
            encoding = "text"
        else:
            payload = json.dumps(
                [None if m else _plain(v) for v, m in zip(values, missing, strict=True)]
            )
            payload, encoding = payload.encode("utf-8"), "json"
        if not (name.startswith("string") or name == "str"):
            name = "object"
    return name, encoding, zlib.compress(payload, _LEVEL)


def _plain(value: object) -> object:
    if isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def decode_column(dtype: str, encoding: str, data: bytes, n_rows: int) -> pd.Series:
    """The column written by :func:`encode_column` (``n_rows`` long, a fresh RangeIndex)."""
    try:
        payload = zlib.decompress(data)
        if encoding == "npy":
            series = pd.Series(_from_npy(payload))
        elif encoding == "masked":
            values_bytes, mask_bytes = _unframe(payload)
            values, mask = _from_npy(values_bytes), _from_npy(mask_bytes)
            series = pd.Series(values).astype(dtype).mask(mask)
        elif encoding == "text":
            missing_bytes, ends_bytes, text_bytes = _unframe(payload)
            missing, ends = _from_npy(missing_bytes), _from_npy(ends_bytes)
            text = text_bytes.decode("utf-8")
            starts = np.concatenate([[0], ends[:-1]]) if len(ends) else ends
            values = np.empty(len(ends), dtype=object)
            values[:] = [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
            values[missing] = None
            series = pd.Series(values, dtype=object)
            if dtype != "object":
                series = series.astype(dtype)
        elif encoding == "json":
            series = pd.Series(json.loads(payload.decode("utf-8")), dtype=object)
        else:
            raise ColumnDecodeError(f"unknown column encoding {encoding!r}")
    except ColumnDecodeError:
        raise
    except (zlib.error, ValueError, TypeError, UnicodeDecodeError, struct.error) as error:
        raise ColumnDecodeError(f"damaged column data ({error})") from error
    if len(series) != n_rows:
        raise ColumnDecodeError(f"column has {len(series)} values, expected {n_rows}")
    return series


__all__ = ["ColumnDecodeError", "decode_column", "encode_column"]

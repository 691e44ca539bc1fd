"""Choose the character encoding of a text file the way the files people have are written.

Spreadsheet programs save "Unicode text" as UTF-16 with a byte order mark, older Windows tools
write cp1252 (Latin-1 with curly quotes and the euro sign), everything else writes UTF-8. The
encoding is chosen from the file's first bytes: a byte order mark decides; else UTF-16 without a
mark is recognised by its pattern of zero bytes; else the head must decode as UTF-8, or the file
is read as cp1252. A UTF-8 file with a stray cp1252 byte further on (two files pasted together)
has that byte decoded as cp1252 too, instead of turning into U+FFFD ("éthanol" stays "éthanol").
"""

from __future__ import annotations

import codecs
import io
import os
import unicodedata

HEAD_BYTES = 65_536
"""Bytes read to choose the encoding."""
BINARY_HEAD_BYTES = 8_192
"""Bytes in which a NUL (outside UTF-16/32) or many control characters mean a binary file."""

_BYTE_ORDER_MARKS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 LE's mark begins with UTF-16 LE's: test it first.
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

FALLBACK_ERRORS = "drugdesk-cp1252"
"""Codec error handler: bytes that do not decode are read as cp1252 (Latin-1 where cp1252 has
no character), so no character of the file is replaced or dropped."""

_CP1252_OR_LATIN1 = tuple(
    bytes([byte]).decode("cp1252", errors="ignore") or chr(byte) for byte in range(256)
)


def _decode_as_cp1252(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start : error.end]
    return "".join(_CP1252_OR_LATIN1[byte] for byte in bad), error.end


codecs.register_error(FALLBACK_ERRORS, _decode_as_cp1252)


def detect_encoding(head: bytes, whole_file: bool = False) -> str | None:
    """The encoding of a text file from its first bytes, or ``None`` when it is binary.

    Parameters
    ----------
    head
        The file's first bytes (:data:`HEAD_BYTES` is enough).
    whole_file
        True when ``head`` is the whole file, so that a multi-byte character cut at its end
        counts as an error.

    Returns
    -------
    str or None
        A codec name for :func:`open`: ``"utf-8-sig"``, ``"utf-16"``, ``"utf-32"`` (with a byte
        order mark), ``"utf-16-le"`` or ``"utf-16-be"`` (without), ``"utf-8"`` or ``"cp1252"``.
    """
    encoding = _encoding_of(head, whole_file)
    if encoding is None or _looks_binary(head[:BINARY_HEAD_BYTES], encoding):
        return None
    return encoding


def _encoding_of(head: bytes, whole_file: bool) -> str | None:
    for mark, encoding in _BYTE_ORDER_MARKS:
        if head.startswith(mark):
            return encoding
    sample = head[:BINARY_HEAD_BYTES]
    without_mark = _utf16_without_mark(sample)
    if without_mark is not None:
        return without_mark
    if b"\x00" in sample:
        return None
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=whole_file)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _utf16_without_mark(sample: bytes) -> str | None:
    """``"utf-16-le"``/``"utf-16-be"`` when the sample is mostly ASCII text in UTF-16."""
    half = len(sample) // 2
    if half < 2:
        return None
    even_zeros = sample[0 : 2 * half : 2].count(0)
    odd_zeros = sample[1 : 2 * half : 2].count(0)
    if odd_zeros >= 0.9 * half and even_zeros <= 0.05 * half:
        return "utf-16-le"
    if even_zeros >= 0.9 * half and odd_zeros <= 0.05 * half:
        return "utf-16-be"
    return None


def _looks_binary(sample: bytes, encoding: str) -> bool:
    """True when more than 5 % of the decoded sample is control characters, undecodable bytes or
    code points no text uses (private-use, unassigned): random bytes behind a byte order mark
    decode as UTF-16 into such characters, an image renamed .csv into control characters."""
    text = sample.decode(encoding, errors="replace")
    if not text:
        return False
    strange = sum(
        1 for character in text if character not in _TEXT_WHITESPACE and _is_strange(character)
    )
    return strange > 0.05 * len(text)


_TEXT_WHITESPACE = frozenset("\t\n\r\f\v")


def _is_strange(character: str) -> bool:
    if character == "\ufffd":
        return True
    if character.isascii():
        return character < " " or character == "\x7f"
    return unicodedata.category(character) in ("Cc", "Co", "Cn", "Cs")


def error_handler(encoding: str) -> str:
    """The ``errors`` argument to read ``encoding`` with (see :data:`FALLBACK_ERRORS`)."""
    # A UTF-16/32 file with a broken code unit has nothing sensible to fall back to.
    return "replace" if encoding.startswith(("utf-16", "utf-32")) else FALLBACK_ERRORS


def open_text(path: str | os.PathLike, encoding: str) -> io.TextIOWrapper:
    """Open ``path`` for reading text in ``encoding`` (from :func:`detect_encoding`).

    Newlines are left as they are (``newline=""``), as the csv module needs.
    """
    return open(path, encoding=encoding, errors=error_handler(encoding), newline="")

"""2D pictures: PNG and SVG of valid SMILES, None for invalid ones, cached by SMILES and size."""

from __future__ import annotations

import struct

import pytest

from core.chem.depict import clear_cache, molecule_png, molecule_svg

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _empty_cache():
    clear_cache()
    yield
    clear_cache()


def png_size(data: bytes) -> tuple[int, int]:
    # The IHDR chunk follows the magic: length, "IHDR", width, height (big-endian).
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_png():
    data = molecule_png("CC(=O)Oc1ccccc1C(=O)O", 200, 150)
    assert isinstance(data, bytes)
    assert data.startswith(PNG_MAGIC)
    assert png_size(data) == (200, 150)
    assert png_size(molecule_png("c1ccccc1", 64, 48)) == (64, 48)


def test_svg():
    text = molecule_svg("CC(=O)Oc1ccccc1C(=O)O", 300, 220)
    assert isinstance(text, str)
    assert "<svg" in text
    assert "width='300px'" in text and "height='220px'" in text
    assert text.rstrip().endswith("</svg>")


def test_svg_highlight_changes_the_picture():
    plain = molecule_svg("c1ccccc1O")
    highlighted = molecule_svg("c1ccccc1O", highlight_atoms=(6,))
    assert "<svg" in highlighted
    assert highlighted != plain


@pytest.mark.parametrize("smiles", ["", "C1CC", "not a smiles", "CC(C)(C)(C)(C)C"])
def test_invalid_gives_none(smiles):
    assert molecule_png(smiles) is None
    assert molecule_svg(smiles) is None


def test_charged_and_stereo_molecules_draw():
    for smiles in ("C[N+](C)(C)C.[Cl-]", "C[C@H](N)C(=O)O", "C/C=C/C", "[Na+].[O-]C(=O)C"):
        assert molecule_png(smiles).startswith(PNG_MAGIC)
        assert "<svg" in molecule_svg(smiles)


def test_cache_returns_the_identical_object():
    first = molecule_png("CCO", 120, 90)
    assert molecule_png("CCO", 120, 90) is first
    svg = molecule_svg("CCO", 120, 90)
    assert molecule_svg("CCO", 120, 90) is svg
    assert molecule_png.cache_info().hits == 1
    assert molecule_svg.cache_info().hits == 1


def test_cache_key_includes_the_size():
    small = molecule_png("CCO", 100, 80)
    large = molecule_png("CCO", 200, 160)
    assert small is not large
    assert png_size(small) == (100, 80) and png_size(large) == (200, 160)


def test_clear_cache():
    first = molecule_svg("CCO")
    clear_cache()
    assert molecule_svg.cache_info().currsize == 0
    second = molecule_svg("CCO")
    assert second == first
    assert second is not first

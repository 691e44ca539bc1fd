"""A 2D interaction diagram of a ligand: its depiction with the contacts around it, as SVG.

:func:`interaction_diagram_svg` draws the ligand with RDKit (a 2D depiction, CoordGen), highlights
each ligand atom that makes a contact in its kind's colour (:data:`core.protein.contacts.KIND_COLORS`)
and places one label per residue and kind in two columns beside the molecule, each joined to its
ligand atoms by a dashed line of that colour. Labels are written in full
(``"ASP 25 A 2.9 Å H-bond"``); a legend of the colours runs along the bottom. No Qt: the Site tab
shows the text in a ``QSvgWidget`` and saves it as SVG or PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdDepictor
from rdkit.Chem.Draw import rdMolDraw2D

from core.protein.contacts import KIND_COLORS, KIND_LABELS, KINDS, PI_STACKING, Contact

WIDTH, HEIGHT = 1100, 760
LABEL_COLUMN = 250
"""Pixels kept on each side of the molecule for the labels."""
LABEL_HEIGHT = 24
FONT = "DejaVu Sans, Arial, Helvetica, sans-serif"


@dataclass(slots=True, frozen=True)
class DiagramLabel:
    """One label of the diagram: a residue's contacts of one kind with some ligand atoms."""

    kind: str
    residue_label: str
    text: str
    atoms: tuple[int, ...]
    """Ligand atoms the label's dashed lines go to."""


def _hex(rgb: tuple[float, float, float]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in rgb))


def diagram_labels(contacts: list[Contact]) -> list[DiagramLabel]:
    """The contacts grouped by residue and kind: ``"ASP 25 A 2.9/3.0 Å H-bond"`` (the shortest
    distance to each ligand atom involved, at most three), in the contacts' order."""
    groups: dict[tuple[str, int], list[Contact]] = {}
    for contact in contacts:
        groups.setdefault((contact.kind, contact.residue), []).append(contact)
    labels = []
    for (kind, _residue), members in groups.items():
        by_atom: dict[tuple[int, ...], float] = {}
        for contact in members:
            key = contact.ligand_atoms if kind == PI_STACKING else contact.ligand_atoms[:1]
            by_atom[key] = min(by_atom.get(key, np.inf), contact.distance)
        distances = sorted(by_atom.values())[:3]
        text = "/".join(f"{d:.1f}" for d in distances)
        kind_text = KIND_LABELS[kind]
        if kind == PI_STACKING and members[0].detail:
            kind_text += f" ({members[0].detail})"
        atoms = tuple(sorted({a for key in by_atom for a in key}))
        labels.append(
            DiagramLabel(
                kind=kind,
                residue_label=members[0].residue_label,
                text=f"{members[0].residue_label} {text} Å {kind_text}",
                atoms=atoms,
            )
        )
    return labels


def _spread(wanted: list[float], top: float, bottom: float, step: float) -> list[float]:
    """Positions as close to ``wanted`` (sorted) as possible, ``step`` apart, within
    ``[top, bottom]`` (squeezed when they do not fit)."""
    n = len(wanted)
    if n == 0:
        return []
    step = min(step, (bottom - top) / max(1, n - 1)) if n > 1 else step
    placed = list(wanted)
    for _ in range(2):
        for i in range(n):
            low = top if i == 0 else placed[i - 1] + step
            placed[i] = max(placed[i], low)
        for i in range(n - 1, -1, -1):
            high = bottom if i == n - 1 else placed[i + 1] - step
            placed[i] = min(placed[i], high)
    return placed


def interaction_diagram_svg(
    mol: Chem.Mol,
    contacts: list[Contact],
    title: str = "",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> str:
    """The ligand ``mol`` in 2D with its ``contacts`` (computed for this molecule's atom order:
    :func:`core.protein.contacts.ligand_contacts`) labelled around it; SVG text (UTF-8)."""
    with rdBase.BlockLogs():
        mol = Chem.Mol(mol)
        mol.RemoveAllConformers()
        try:
            Chem.SanitizeMol(mol)
        except (Chem.AtomValenceException, Chem.KekulizeException, ValueError):
            mol.UpdatePropertyCache(strict=False)
        rdDepictor.SetPreferCoordGen(True)
        rdDepictor.Compute2DCoords(mol)

    labels = diagram_labels(contacts)
    priority = {kind: i for i, kind in enumerate(KINDS)}
    atom_kind: dict[int, str] = {}
    for label in labels:
        for atom in label.atoms:
            current = atom_kind.get(atom)
            if current is None or priority[label.kind] < priority[current]:
                atom_kind[atom] = label.kind

    header_h, legend_h = (34 if title else 8), 34
    panel_w = width - 2 * LABEL_COLUMN
    panel_h = height - header_h - legend_h
    drawer = rdMolDraw2D.MolDraw2DSVG(width, height, panel_w, panel_h)
    drawer.SetOffset(LABEL_COLUMN, header_h)
    options = drawer.drawOptions()
    options.padding = 0.08
    options.bondLineWidth = 2
    options.highlightRadius = 0.45
    options.fixedFontSize = 15
    options.clearBackground = True
    # Opaque tints (SVG viewers differ on colours with alpha): the kind's colour over white.
    highlight = {
        atom: tuple(0.45 * c + 0.55 for c in KIND_COLORS[kind]) for atom, kind in atom_kind.items()
    }
    drawer.DrawMolecule(
        mol,
        highlightAtoms=list(highlight),
        highlightAtomColors=highlight,
        highlightBonds=[],
    )
    drawer.FinishDrawing()
    svg = drawer.GetDrawingText()
    points = np.array([tuple(drawer.GetDrawCoords(i)) for i in range(mol.GetNumAtoms())])
    if len(points) == 0:
        points = np.array([[width / 2, height / 2]])
    centre_x = float(points[:, 0].mean())

    anchors = []
    for label in labels:
        anchor = points[list(label.atoms)].mean(axis=0) if label.atoms else points.mean(axis=0)
        anchors.append(anchor)
    left = [i for i, a in enumerate(anchors) if a[0] < centre_x]
    right = [i for i, a in enumerate(anchors) if a[0] >= centre_x]
    capacity = max(1, int((height - header_h - legend_h) // LABEL_HEIGHT))
    # Balance the columns when one would overflow.
    while len(left) > capacity and len(left) > len(right):
        moved = max(left, key=lambda i: anchors[i][0])
        left.remove(moved)
        right.append(moved)
    while len(right) > capacity and len(right) > len(left):
        moved = min(right, key=lambda i: anchors[i][0])
        right.remove(moved)
        left.append(moved)

    lines: list[str] = []
    parts: list[str] = []
    top, bottom = header_h + LABEL_HEIGHT / 2, height - legend_h - LABEL_HEIGHT / 2
    for column, side in ((left, "left"), (right, "right")):
        column = sorted(column, key=lambda i: anchors[i][1])
        ys = _spread([float(anchors[i][1]) for i in column], top, bottom, LABEL_HEIGHT + 2)
        for i, y in zip(column, ys, strict=True):
            line, box = _label_svg(labels[i], points, y, side, width)
            lines.append(line)
            parts.append(box)
    if title:
        parts.append(
            f"<text x='{width / 2:.0f}' y='24' font-family='{FONT}' font-size='17' "
            f"font-weight='bold' text-anchor='middle' fill='#222'>{escape(title)}</text>"
        )
    parts.append(_legend_svg(width, height, legend_h))
    body = "\n".join(parts)
    svg = svg.replace("encoding='iso-8859-1'", "encoding='utf-8'")
    # The dashed lines go under the molecule (after RDKit's background), the labels over all.
    start = svg.find("<rect", svg.find("END OF HEADER"))
    closing = svg.find("</rect>", start)
    background_end = closing + len("</rect>") if start >= 0 and closing >= 0 else -1
    if background_end > 0:
        svg = svg[:background_end] + "\n" + "\n".join(lines) + svg[background_end:]
    else:
        body = "\n".join(lines) + "\n" + body
    return svg.replace("</svg>", body + "\n</svg>")


def _label_svg(
    label: DiagramLabel, points: np.ndarray, y: float, side: str, width: int
) -> tuple[str, str]:
    """The label's dashed lines and its box, as two SVG fragments."""
    color = _hex(KIND_COLORS[label.kind])
    text_w = 7.6 * len(label.text) + 14
    if side == "left":
        box_x = max(4.0, LABEL_COLUMN - 12 - text_w)
        end_x = box_x + text_w
    else:
        box_x = min(width - 4 - text_w, width - LABEL_COLUMN + 12)
        end_x = box_x
    out = []
    for atom in label.atoms if label.kind != PI_STACKING else ():
        x0, y0 = points[atom]
        out.append(
            f"<line x1='{x0:.1f}' y1='{y0:.1f}' x2='{end_x:.1f}' y2='{y:.1f}' stroke='{color}' "
            "stroke-width='1.6' stroke-dasharray='6,4' opacity='0.85'/>"
        )
    if label.kind == PI_STACKING and label.atoms:  # one line from the ring's centre
        x0, y0 = points[list(label.atoms)].mean(axis=0)
        out.append(
            f"<circle cx='{x0:.1f}' cy='{y0:.1f}' r='4' fill='{color}'/>"
            f"<line x1='{x0:.1f}' y1='{y0:.1f}' x2='{end_x:.1f}' y2='{y:.1f}' stroke='{color}' "
            "stroke-width='1.6' stroke-dasharray='6,4' opacity='0.85'/>"
        )
    box = (
        f"<rect x='{box_x:.1f}' y='{y - 10.5:.1f}' width='{text_w:.1f}' height='21' rx='5' "
        f"fill='#ffffff' stroke='{color}' stroke-width='1.8'/>"
        f"<text x='{box_x + 7:.1f}' y='{y + 5:.1f}' font-family='{FONT}' font-size='13' "
        f"fill='#1a1a1a'>{escape(label.text)}</text>"
    )
    return "\n".join(out), box


def _legend_svg(width: int, height: int, legend_h: int) -> str:
    y = height - legend_h / 2
    items = []
    x = width / 2 - 2 * 150 + 20
    for kind in KINDS:
        color = _hex(KIND_COLORS[kind])
        items.append(
            f"<line x1='{x:.0f}' y1='{y:.0f}' x2='{x + 26:.0f}' y2='{y:.0f}' stroke='{color}' "
            "stroke-width='3' stroke-dasharray='6,4'/>"
            f"<text x='{x + 32:.0f}' y='{y + 5:.0f}' font-family='{FONT}' font-size='13' "
            f"fill='#333'>{escape(KIND_LABELS[kind])}</text>"
        )
        x += 150
    return "\n".join(items)

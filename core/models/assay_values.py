"""Assay values as chemists write them: qualifiers, units, replicates, and the record of choices.

A measured cell is read as ``(qualifier, number, unit)``: ``10``, ``>10 µM``, ``<= 1 nM``,
``> 10000``. Concentrations (pM, nM, µM/uM, mM, M) become p-values, ``pXC50 = -log10(molar)``, and
a qualifier turns round with them (``>10 µM`` is ``pXC50 < 5``). Censored values (``>``, ``<``,
``>=``, ``<=``) are kept aside as censored: **they are left out of training and metrics**, counted
and listed, because none of DrugDesk's trainers can use a bound yet; using ``>10 µM`` as ``10 µM``
would teach a model a potency the molecule was never shown to have.

Replicates of one molecule (same InChIKey) are merged: the mean of the p-values (regression) or the
majority class (classification), with the spread (SD, n) kept per molecule.

Everything chosen is written into an :class:`AssayRecord` that a form or a command line shows
before training.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

UNITS = ("auto", "p", "pM", "nM", "uM", "mM", "M")
"""What a caller may say the values of a column are; ``auto`` detects (see :func:`read_values`)."""
MOLAR = {"pM": 1e-12, "nM": 1e-9, "uM": 1e-6, "mM": 1e-3, "M": 1.0}
UNIT_TITLES = {"p": "p-values", "pM": "pM", "nM": "nM", "uM": "µM", "mM": "mM", "M": "M"}
CENSORED_POLICY = "left out of training and metrics (counted and listed)"
DISAGREEMENT = 1.0
"""Replicates whose highest and lowest values differ by more than this (log units) are warned of."""
P_RANGE = (0.0, 15.0)
"""Where p-values of real assays lie (1 fM to 1 M is 15 to 0); outside it a unit is likely wrong."""
MISSING_TEXT = {"", "nan", "na", "n/a", "none", "null", "-"}
MAX_REASONS = 4
"""Reasons for dropped rows named in the record's first line; the others are counted."""

_MEASUREMENT = re.compile(
    r"^\s*(?P<qualifier>>=|<=|=>|=<|>>|<<|≥|≤|>|<|=|~)?\s*"
    r"(?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*"
    r"(?P<unit>[A-Za-zµμ][A-Za-zµμ0-9/.\-]*)?\s*$"
)
_ABOVE = {">", ">=", "=>", ">>", "≥"}
_BELOW = {"<", "<=", "=<", "<<", "≤"}
# Unit spellings after µ/μ -> u and lower-casing; "m" alone is molar, as "M" is in assay tables.
_UNIT_SPELLINGS = {
    "pm": "pM", "nm": "nM", "um": "uM", "mm": "mM", "m": "M",
    "pmol/l": "pM", "nmol/l": "nM", "umol/l": "uM", "mmol/l": "mM", "mol/l": "M",
    "mol/dm3": "M", "p": "p", "log": "p", "-log(m)": "p",
}  # fmt: skip
# A unit at the end of a column name: "IC50 (nM)", "Ki [µM]", "IC50_uM", "EC50 nM". A bare "M" only
# in brackets or after "_", and "mM" only so spelt: "mm" could be millimetres.
_NAME_UNIT = re.compile(
    r"(?:[\s_\-/,;]*[(\[]\s*(?P<bracketed>[pnuµμ]M|mM|M|[pnuµμ]m)\s*[)\]]"
    r"|[\s_\-/,;]+(?P<plain>[pnuµμ]M|mM|[pnuµμ]m)|_(?P<molar>M))\s*$"
)
_P_NAME = re.compile(
    r"^\s*(?:p|-\s*log\s*)[\s_(]?(?:[iexa]c50|xc50|gi50|ed50|k[idba]|a2|chembl|activity|affinity)"
    r"(?![a-z0-9])",
    re.IGNORECASE,
)
_CONCENTRATION_NAME = re.compile(
    r"(?:^|[^a-z0-9])(?:[iexa]c50|xc50|gi50|ed50|k[idb]|potency|conc|concentration)(?![a-z0-9])",
    re.IGNORECASE,
)


@dataclass(slots=True, frozen=True)
class Measurement:
    """One cell: qualifier ``=``, ``>`` or ``<`` (``>=`` and ``<=`` are bounds too), the number as
    written, and its unit (``nM``…, ``p``; ``None`` when the cell has none; ``raw_unit`` as
    written, also when it is no unit DrugDesk converts)."""

    qualifier: str
    number: float
    unit: str | None
    raw_unit: str | None = None
    text: str = ""


def normalise_unit(text: str) -> str | None:
    """``nM``, ``uM``… for a spelling (``µM``, ``umol/L``, ``nm``); ``None`` when unknown."""
    key = text.strip().replace("µ", "u").replace("μ", "u").lower().replace(" ", "")
    return _UNIT_SPELLINGS.get(key)


def parse_measurement(text: str) -> Measurement | None:
    """A :class:`Measurement`, or ``None`` when ``text`` is no number (with or without qualifier
    and unit). Empty and missing cells (``""``, ``NA``…) are not measurements either: check
    :func:`is_missing` first."""
    match = _MEASUREMENT.match(text)
    if match is None:
        return None
    number = float(match["number"])
    if not math.isfinite(number):
        return None
    written = match["qualifier"] or "="
    qualifier = ">" if written in _ABOVE else "<" if written in _BELOW else "="
    raw_unit = match["unit"]
    unit = normalise_unit(raw_unit) if raw_unit else None
    return Measurement(qualifier, number, unit, raw_unit, text.strip())


def is_missing(text: str) -> bool:
    return text.strip().lower() in MISSING_TEXT


def relation_qualifier(text: str) -> str | None:
    """``=``, ``>`` or ``<`` from a relation column's cell (ChEMBL writes ``'>'`` with quotes)."""
    cleaned = text.strip().strip("'\"").strip()
    if cleaned in _ABOVE:
        return ">"
    if cleaned in _BELOW:
        return "<"
    if cleaned in ("=", "~", ""):
        return "="
    return None


def unit_in_name(name: str) -> str | None:
    """The unit a column name ends with (``IC50 (nM)`` -> ``nM``), or ``None``."""
    match = _NAME_UNIT.search(name)
    if match is None:
        return None
    return normalise_unit(match["bracketed"] or match["plain"] or match["molar"])


def name_says_p_values(name: str) -> bool:
    """``pIC50``, ``pKi``, ``pChEMBL value``, ``-log IC50``…"""
    return _P_NAME.search(name) is not None


def name_says_concentration(name: str) -> bool:
    """``IC50``, ``Ki``, ``Potency``… (not p-prefixed)."""
    return not name_says_p_values(name) and _CONCENTRATION_NAME.search(name) is not None


def converted_name(name: str) -> str:
    """The name of a column once its concentrations are p-values: ``IC50 (nM)`` -> ``pIC50``,
    ``Standard Value`` -> ``Standard Value (pXC50)``."""
    stripped = _NAME_UNIT.sub("", name).strip(" _-") or name
    if re.fullmatch(r"[A-Za-z]{1,3}\d{0,2}", stripped):
        return f"p{stripped}"
    return f"{stripped} (pXC50)"


def _units_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {UNIT_TITLES.get(u, u)}" for u, n in counts.items())


# ------------------------------------------------------------------------------------------------
# The record


@dataclass(slots=True, frozen=True)
class CensoredValue:
    """A censored measurement kept aside: the file's row, the molecule, the target as trained, the
    bound in the trained units (``qualifier`` ``>``: the true value is above ``value``) and the
    cell as written."""

    row: int
    smiles: str
    target: str
    qualifier: str
    value: float
    text: str


@dataclass(slots=True, frozen=True)
class ReplicateGroup:
    """One molecule measured more than once for one target: the rows, the values (trained
    units), what they were merged into, their SD (regression, ``ddof=1``; NaN for classes), and
    whether they disagree (range over :data:`DISAGREEMENT` log units, or classes not unanimous)."""

    inchikey: str
    smiles: str
    target: str
    rows: tuple[int, ...]
    values: tuple[float, ...]
    merged: float
    sd: float
    disagree: bool

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass(slots=True, frozen=True)
class TargetRecord:
    """What was done to one target column.

    ``units``: ``p``, a concentration unit, ``mixed`` (several, each converted), ``as given``
    (numbers used as they are) or ``labels`` (classification); ``unit_source`` says where that
    came from in words; ``unit_counts`` how many values carried each unit (``(unit, n)``);
    ``converted`` how many concentrations became p-values; ``exact``/``censored_above``/
    ``censored_below``/``missing``/``unusable`` count the column's cells among parsed molecules.
    """

    column: str
    name: str
    units: str
    unit_source: str
    unit_counts: tuple[tuple[str, int], ...]
    converted: int
    exact: int
    censored_above: int
    censored_below: int
    missing: int
    unusable: int


@dataclass(slots=True, frozen=True)
class AssayRecord:
    """Every choice made in reading an assay table, for a person to see before training.

    ``rows_read``: records in the file; ``molecules``: what training gets (after merging
    replicates); ``dropped``: ``(reason, count)`` of rows left out; ``problem``: why training
    would refuse the table (``None`` when it would not).
    """

    source: str
    task: str
    units_asked: str
    rows_read: int
    molecules: int
    dropped: tuple[tuple[str, int], ...]
    targets: tuple[TargetRecord, ...]
    censored: tuple[CensoredValue, ...]
    replicates: tuple[ReplicateGroup, ...]
    replicate_rows_merged: int
    warnings: tuple[str, ...]
    censored_policy: str = CENSORED_POLICY
    problem: str | None = None

    @property
    def n_censored(self) -> int:
        return len(self.censored)

    def replicates_of(self, target: str) -> tuple[ReplicateGroup, ...]:
        return tuple(g for g in self.replicates if g.target == target)

    def lines(self) -> list[str]:
        """The record in a few sentences, most important first (the form and ``train`` show it)."""
        lines = []
        if self.problem:
            lines.append(f"Cannot train: {self.problem}")
            if not self.rows_read:
                return lines  # refused before any row was read: there is nothing more to say
        head = f"{self.rows_read:,} rows read -> {self.molecules:,} molecules ({self.task})"
        if self.dropped:
            # Reader errors can be many different texts: the commonest few, then a count.
            shown = [f"{n} {reason}" for reason, n in self.dropped[:MAX_REASONS]]
            rest = sum(n for _, n in self.dropped[MAX_REASONS:])
            head += "; dropped: " + ", ".join(shown + ([f"{rest} for other reasons"] * bool(rest)))
        lines.append(head + ".")
        for target in self.targets:
            lines.append(_target_line(target))
        if self.n_censored:
            above = sum(t.censored_above for t in self.targets)
            below = sum(t.censored_below for t in self.targets)
            lines.append(
                f"Censored values: {self.n_censored} ({above} '>', {below} '<' in trained "
                f"units), {self.censored_policy}."
            )
        for target in self.targets:
            groups = self.replicates_of(target.name)
            if groups:
                lines.append(_replicates_line(target.name, groups, self.task))
        lines.extend(f"Warning: {w}" for w in self.warnings)
        return lines

    def text(self) -> str:
        return "\n".join(self.lines())


def _target_line(target: TargetRecord) -> str:
    renamed = f" -> '{target.name}'" if target.name != target.column else ""
    counts = dict(target.unit_counts)
    if target.units == "labels":
        how = "class labels"
    elif target.converted:
        how = f"{_units_text(counts)} converted to pXC50 = -log10(M) ({target.unit_source})"
    elif target.units == "p":
        how = f"p-values, used as they are ({target.unit_source})"
    else:
        how = f"numbers used as given ({target.unit_source})"
    parts = [f"{target.exact} exact"]
    if target.censored_above or target.censored_below:
        parts.append(f"{target.censored_above + target.censored_below} censored")
    if target.missing:
        parts.append(f"{target.missing} empty")
    if target.unusable:
        parts.append(f"{target.unusable} unusable")
    return f"'{target.column}'{renamed}: {how}; {', '.join(parts)}."


def _replicates_line(name: str, groups: Sequence[ReplicateGroup], task: str) -> str:
    sizes = [g.n for g in groups]
    n_text = f"n {min(sizes)}" if min(sizes) == max(sizes) else f"n {min(sizes)}-{max(sizes)}"
    if task == "classification":
        spread = f"{sum(g.disagree for g in groups)} not unanimous"
        how = "majority class"
    else:
        sds = np.array([g.sd for g in groups])
        spread = f"SD median {np.median(sds):.2f}, max {np.max(sds):.2f}"
        how = "mean"
    return (
        f"Replicates of '{name}': {plural(len(groups), 'molecule')} measured more than once "
        f"({n_text}), merged by InChIKey ({how}); {spread}."
    )


# ------------------------------------------------------------------------------------------------
# Reading a target column


@dataclass(slots=True)
class TargetValues:
    """A regression column read: per row the value in trained units (NaN: none), its qualifier
    (``=``, ``>``, ``<``; ``""`` for none) and, for a row whose cell cannot be used, why."""

    values: np.ndarray
    qualifiers: list[str]
    problems: list[str | None]
    record: TargetRecord
    warnings: list[str]


def _fallback_unit(name: str, units: str, warnings: list[str]) -> tuple[str | None, str, bool]:
    """The unit of a bare number in column ``name``: ``(unit or None for as given, where from,
    whether the column is a concentration without unit)``."""
    named = unit_in_name(name)
    if units != "auto":
        if named is not None and named != units:
            warnings.append(
                f"'{name}': the name says {UNIT_TITLES[named]}; read as {UNIT_TITLES[units]}, "
                "as chosen"
            )
        return units, "as chosen", False
    if named is not None:
        return named, "unit from the column name", False
    if name_says_p_values(name):
        return "p", "a p-value by its column name", False
    if name_says_concentration(name):
        return None, "", True
    return None, "no unit in cells, column name or a unit column", False


def read_values(
    name: str,
    texts: Sequence[str],
    units: str = "auto",
    unit_texts: Sequence[str] | None = None,
    relation_texts: Sequence[str] | None = None,
    unit_column: str | None = None,
) -> TargetValues:
    """Read one regression column into values in trained units, with qualifiers.

    Parameters
    ----------
    name
        The column's name (it may say the unit, ``IC50 (nM)``, or p-values, ``pIC50``).
    texts
        The cells.
    units
        ``auto``, ``p`` or a concentration unit (:data:`UNITS`). The unit of a value is, first
        found: written in its cell (``10 µM``), in the row's unit column, ``units`` when not
        ``auto``, at the end of the column name; a name such as ``pIC50`` says p-values. Without
        any of these the numbers are used as given.
    unit_texts, relation_texts
        A unit column's and a relation column's cells (``'>'``), when the table has them.

    Raises
    ------
    ValueError
        Cells that are no numbers (count and examples); a column named as a concentration
        (``IC50``) with no unit anywhere; some values with a unit and others without, when the
        bare ones have no unit to fall back on; values said to be p-values that cannot be.
    """
    if units not in UNITS:
        raise ValueError(f"units must be one of {', '.join(UNITS)}, not {units!r}")
    warnings: list[str] = []
    n = len(texts)
    parsed: list[Measurement | None] = []
    bad = []
    for text in texts:
        if is_missing(text):
            parsed.append(None)
            continue
        measurement = parse_measurement(text)
        if measurement is None:
            bad.append(text)
        parsed.append(measurement)
    if bad:
        raise ValueError(
            f"target column '{name}': {len(bad)} values are not numbers, "
            f"e.g. {', '.join(repr(b) for b in bad[:5])}"
        )
    fallback, fallback_source, unnamed_concentration = _fallback_unit(name, units, warnings)

    # Each value's own unit: its cell's, else its row's unit column's.
    own: list[str | None] = [None] * n
    own_raw: list[str | None] = [None] * n
    sources = set()
    for i, m in enumerate(parsed):
        if m is None:
            continue
        if m.raw_unit:
            own[i], own_raw[i] = m.unit, m.raw_unit
            sources.add("units in the cells")
        elif unit_texts is not None and unit_texts[i].strip():
            own[i], own_raw[i] = normalise_unit(unit_texts[i]), unit_texts[i].strip()
            sources.add(f"unit column '{unit_column}'")
    with_unit = sum(u is not None or r is not None for u, r in zip(own, own_raw, strict=True))
    present = sum(m is not None for m in parsed)
    bare = present - with_unit
    if bare and fallback is None:
        if with_unit:
            example = next(m.text for m, r in zip(parsed, own_raw, strict=True) if m and r)
            raise ValueError(
                f"target column '{name}': {with_unit} values carry a unit (e.g. '{example}') and "
                f"{bare} do not; say which unit the bare values are in "
                "(units: nM, µM, mM, M, or p)"
            )
        if unnamed_concentration:
            raise ValueError(
                f"target column '{name}' looks like a concentration but no unit is given in its "
                "cells, its name or a unit column; say which (units: nM, µM, mM, M, or p for "
                "p-values)"
            )
    values = np.full(n, np.nan)
    qualifiers = [""] * n
    problems: list[str | None] = [None] * n
    counts: Counter[str] = Counter()
    converted = unusable = 0
    for i, m in enumerate(parsed):
        if m is None:
            continue
        qualifier = m.qualifier
        if relation_texts is not None and qualifier == "=":
            qualifier = relation_qualifier(relation_texts[i]) or "="
        unit = own[i] if own_raw[i] is not None else fallback
        if own_raw[i] is not None and own[i] is None:
            problems[i] = f"unit '{own_raw[i]}' is no concentration DrugDesk converts"
            unusable += 1
            continue
        if unit is None or unit == "p":
            values[i] = m.number
        else:
            if m.number <= 0:
                problems[i] = f"a concentration of {m.number:g} {UNIT_TITLES[unit]} has no p-value"
                unusable += 1
                continue
            values[i] = -math.log10(m.number * MOLAR[unit])
            # A bound on the concentration is the opposite bound on its p-value.
            qualifier = {">": "<", "<": ">"}.get(qualifier, qualifier)
            converted += 1
        counts[unit or "as given"] += 1
        qualifiers[i] = qualifier
    used_units = [u for u in counts if u != "as given"]
    if not used_units:
        kind = "as given"
    elif len(used_units) == 1:
        kind = used_units[0]
    else:
        kind = "mixed"
    source = ", ".join(sorted(sources)) if sources else fallback_source
    if bare and sources and fallback_source:
        source += f"; bare values: {fallback_source}"
    declared_p = np.array(
        [v for v, m, u, r in zip(values, parsed, own, own_raw, strict=True)
         if m is not None and (u if r is not None else fallback) == "p" and not np.isnan(v)]
    )  # fmt: skip
    if declared_p.size and (declared_p.max() > P_RANGE[1] + 5 or declared_p.min() < -5):
        raise ValueError(
            f"target column '{name}': values from {declared_p.min():g} to {declared_p.max():g} "
            "cannot be p-values; say their concentration unit (units: nM, µM, mM, M)"
        )
    measured = np.array([q != "" for q in qualifiers], dtype=bool)
    p_values = values[measured] if kind != "as given" else np.array([])
    outside = int(np.sum((p_values < P_RANGE[0]) | (p_values > P_RANGE[1])))
    if outside:
        warnings.append(
            f"'{name}': {outside} p-values outside {P_RANGE[0]:g}-{P_RANGE[1]:g}; check the units"
        )
    if kind == "as given":
        positive = values[~np.isnan(values)]
        if positive.size >= 3 and positive.min() > 0 and positive.max() / positive.min() >= 1e3:
            warnings.append(
                f"'{name}': values from {positive.min():g} to {positive.max():g} span "
                f"{math.log10(positive.max() / positive.min()):.0f} orders of magnitude; if they "
                "are concentrations, say their unit so they become p-values"
            )
    exact = sum(q == "=" for q in qualifiers)
    record = TargetRecord(
        column=name,
        name=converted_name(name) if converted else name,
        units=kind,
        unit_source=source,
        unit_counts=tuple(counts.items()),
        converted=converted,
        exact=exact,
        censored_above=sum(q == ">" for q in qualifiers),
        censored_below=sum(q == "<" for q in qualifiers),
        missing=n - present,
        unusable=unusable,
    )
    return TargetValues(values, qualifiers, problems, record, warnings)


# ------------------------------------------------------------------------------------------------
# Replicates


@dataclass(slots=True)
class MergedReplicates:
    """Rows grouped into molecules: ``groups`` (positions into the rows given, in order of first
    appearance), ``targets`` (molecules × targets, merged) and a :class:`ReplicateGroup` for each
    molecule and target with two or more values."""

    groups: list[list[int]]
    targets: np.ndarray
    replicates: list[ReplicateGroup]


def merge_replicates(
    keys: Sequence[str],
    smiles: Sequence[str],
    rows: Sequence[int],
    targets: np.ndarray,
    target_names: Sequence[str],
    task: str,
) -> MergedReplicates:
    """Group rows by ``keys`` (InChIKeys) and merge each group's values per target: the mean
    (regression) or the majority class (classification; a tie is NaN, left out). NaN cells take
    no part. ``smiles`` and ``rows`` (the file's row of each) name the groups in the record."""
    order: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        order.setdefault(key, []).append(i)
    groups = list(order.values())
    merged = np.full((len(groups), targets.shape[1]), np.nan)
    replicates = []
    for g, members in enumerate(groups):
        for t, name in enumerate(target_names):
            column = targets[members, t]
            present = tuple(float(v) for v in column[~np.isnan(column)])
            if not present:
                continue
            if task == "classification":
                votes = Counter(present).most_common()
                tie = len(votes) > 1 and votes[0][1] == votes[1][1]
                merged[g, t] = math.nan if tie else votes[0][0]
                sd, disagree = math.nan, len(votes) > 1
            else:
                merged[g, t] = float(np.mean(present))
                sd = float(np.std(present, ddof=1)) if len(present) > 1 else 0.0
                disagree = max(present) - min(present) > DISAGREEMENT
            if len(present) > 1:
                first = members[0]
                replicates.append(
                    ReplicateGroup(
                        keys[first], smiles[first], name,
                        tuple(rows[m] for m in members if not np.isnan(targets[m, t])),
                        present, float(merged[g, t]), sd, disagree,
                    )
                )  # fmt: skip
    return MergedReplicates(groups, merged, replicates)


def replicate_warnings(replicates: Sequence[ReplicateGroup], task: str) -> list[str]:
    """One warning per target whose replicates disagree: by more than :data:`DISAGREEMENT` log
    units (regression), or in class (classification); with two examples."""
    warnings = []
    for target in dict.fromkeys(g.target for g in replicates):
        bad = [g for g in replicates if g.target == target and g.disagree]
        if not bad:
            continue
        number = "{:g}" if task == "classification" else "{:.2f}"
        shown = "; ".join(
            f"{g.smiles[:40]}: {', '.join(number.format(v) for v in g.values)}" for g in bad[:2]
        )
        if task == "classification":
            warnings.append(
                f"{plural(len(bad), 'molecule')} with replicates of '{target}' in both classes "
                f"(majority used, ties left out), e.g. {shown}"
            )
        else:
            warnings.append(
                f"{plural(len(bad), 'molecule')} with replicates of '{target}' that differ by "
                f"more than {DISAGREEMENT:g} log unit (mean used), e.g. {shown}"
            )
    return warnings


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")

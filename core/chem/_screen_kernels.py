"""numba kernels of the pattern screen (:mod:`core.chem.screen`, :mod:`core.chem.atom_screen`).

Imported only where numba is installed and works; the screen falls back to its numpy code
(without the atom-by-atom check) otherwise. One call per molecule does every check, so that a
molecule costs one crossing from Python instead of a dozen numpy calls on small arrays.
"""

from __future__ import annotations

import os

import numpy as np

from core.chem.search import _numba_cache_dir

os.environ.setdefault("NUMBA_CACHE_DIR", _numba_cache_dir())

import numba  # after the cache folder is chosen

from core.chem.atom_screen import (
    CLASS_SLOTS,
    F_AROMATIC,
    F_CHARGE,
    F_DEGREE,
    F_ELEMENT,
    F_HYDROGENS,
    F_RING,
    F_TOTAL_DEGREE,
    F_TYPE,
    LOOKUP_SLOTS,
    MAX_CLASSES,
    MAYBE,
    NO,
    OP_AND,
    OP_AT_MOST_MAYBE,
    OP_CONST,
    OP_FEATURE,
    OP_IN_RING_COUNT,
    OP_MIN_RING_SIZE,
    OP_NOT,
    OP_OR,
    YES,
)

_jit = numba.njit(cache=True, nogil=True)

# Column of the bond memo for each bond code (single, double, triple, aromatic).
_CODE_INDEX = np.zeros(13, dtype=np.int64)
_CODE_INDEX[2], _CODE_INDEX[3], _CODE_INDEX[12] = 1, 2, 3


@_jit
def evaluate(start, length, ops, arg_a, arg_b, row, stack):  # pragma: no cover - compiled
    """The three-valued answer of one program for one atom (or bond) ``row`` of features."""
    top = 0
    for k in range(start, start + length):
        op = ops[k]
        a = arg_a[k]
        b = arg_b[k]
        if op == OP_CONST:
            stack[top] = a
            top += 1
        elif op == OP_FEATURE:
            stack[top] = YES if row[a] == b else NO
            top += 1
        elif op == OP_NOT:
            stack[top - 1] = YES - stack[top - 1]
        elif op == OP_AT_MOST_MAYBE:
            if stack[top - 1] > MAYBE:
                stack[top - 1] = MAYBE
        elif op == OP_AND:
            value = YES
            for j in range(top - a, top):
                if stack[j] < value:
                    value = stack[j]
            top -= a
            stack[top] = value
            top += 1
        elif op == OP_OR:
            value = NO
            for j in range(top - a, top):
                if stack[j] > value:
                    value = stack[j]
            top -= a
            stack[top] = value
            top += 1
        elif op == OP_IN_RING_COUNT:
            if b == -1:
                stack[top] = YES if row[F_RING] != 0 else NO
            elif row[F_RING] == 0:
                stack[top] = YES if b == 0 else NO
            else:
                stack[top] = MAYBE
            top += 1
        elif op == OP_MIN_RING_SIZE:
            if row[F_RING] == 0:
                stack[top] = YES if b == 0 else NO
            else:
                stack[top] = MAYBE
            top += 1
        else:
            stack[top] = MAYBE
            top += 1
    return stack[top - 1] if top > 0 else MAYBE


@_jit
def table_row(key, keys, lookup_keys, lookup_rows):  # pragma: no cover - compiled
    """The table row of invariant ``key`` (-1 if none): from a small cache of rows found
    before, else by binary search of the 1.6-million-row table (a dozen cache misses)."""
    slot = ((key * 2654435761) >> 8) & (LOOKUP_SLOTS - 1)
    if lookup_keys[slot] == key:
        return lookup_rows[slot]
    at = np.searchsorted(keys, key)
    row = at if at < keys.shape[0] and keys[at] == key else -1
    lookup_keys[slot] = key
    lookup_rows[slot] = row
    return row


@_jit
def read_molecule(
    invariants, aromatic, orders, keys, table_atoms, lookup_keys, lookup_rows
):  # pragma: no cover - compiled
    """(ok, features, neighbour_start, neighbour_atom, neighbour_code, rows) of a molecule: each
    atom's features (see :mod:`core.chem.atom_screen`), its neighbours with the bond codes and
    its row of the invariant table.
    ``ok`` is False when an atom's invariant is not in the table or shared by two atoms of it.
    ``lookup_keys``/``lookup_rows``: the cache of :func:`table_row` (keys -1 when empty)."""
    n = invariants.shape[0]
    features = np.zeros((n, 8), dtype=np.int64)
    start = np.zeros(n + 1, dtype=np.int64)
    rows = np.empty(n, dtype=np.int64)
    for i in range(n):
        at = table_row(invariants[i], keys, lookup_keys, lookup_rows)
        if at < 0 or table_atoms[at, 0] < 0:
            return False, features, start, start, start, rows
        rows[i] = at
        features[i, F_ELEMENT] = table_atoms[at, 0]
        features[i, F_TOTAL_DEGREE] = table_atoms[at, 1]
        features[i, F_HYDROGENS] = table_atoms[at, 2]
        features[i, F_CHARGE] = table_atoms[at, 3]
        features[i, F_RING] = table_atoms[at, 4]
    for i in aromatic:
        features[i, F_AROMATIC] = 1
    count = 0
    for i in range(n):
        degree = 0
        for j in range(n):
            if orders[i, j] != 0.0:
                degree += 1
        if degree > 62:  # atom classes keep degrees below 63
            return False, features, start, start, start, rows
        features[i, F_DEGREE] = degree
        features[i, F_TYPE] = features[i, F_ELEMENT] + 1000 * features[i, F_AROMATIC]
        count += degree
        start[i + 1] = count
    neighbour = np.empty(count, dtype=np.int64)
    code = np.empty(count, dtype=np.int64)
    at = 0
    for i in range(n):
        for j in range(n):
            order = orders[i, j]
            if order != 0.0:
                neighbour[at] = j
                if order == 1.5:
                    code[at] = 12
                else:
                    code[at] = np.int64(order)
                at += 1
    return True, features, start, neighbour, code, rows


@_jit
def atom_classes(features, rows, class_keys, class_ids, class_count, answers):  # pragma: no cover
    """Each atom's class: atoms with the same features share their programs' answers
    (``answers[class, program]``, -1 until asked), kept from molecule to molecule."""
    n = features.shape[0]
    if class_count[0] + n > MAX_CLASSES:
        class_keys[:] = -1
        answers[:, :] = -1
        class_count[0] = 0
    classes = np.empty(n, dtype=np.int64)
    for i in range(n):
        # The table row names element, connections, hydrogens, charge, mass and ring; then
        # aromaticity and the explicit degree (below 64 in any molecule RDKit reads).
        key = (rows[i] * 2 + features[i, F_AROMATIC]) * 64 + min(features[i, F_DEGREE], 63)
        slot = ((key * 2654435761) >> 7) & (CLASS_SLOTS - 1)
        while class_keys[slot] != -1 and class_keys[slot] != key:
            slot = (slot + 1) & (CLASS_SLOTS - 1)
        if class_keys[slot] == -1:
            class_keys[slot] = key
            class_ids[slot] = class_count[0]
            class_count[0] += 1
        classes[i] = class_ids[slot]
    return classes


@_jit
def star_fits(
    star,
    star_centre,
    star_first,
    star_count,
    neighbour_atom,
    neighbour_bond,
    program_start,
    program_length,
    ops,
    arg_a,
    arg_b,
    features,
    start,
    neighbour,
    code,
    stack,
    bond_row,
    classes,
    answers,
    bond_answers,
):  # pragma: no cover - compiled
    """Whether some atom of the molecule may be the centre of pattern star ``star``, with a
    neighbour that may be each of the star's neighbours (through a bond that may be its bond)."""
    # The remembered-answer lookups below are written out twice on purpose: moving them into a
    # function of their own made this kernel three times slower (numba passes the dozen arrays
    # on every call instead of inlining it).
    centre = star_centre[star]
    first = star_first[star]
    needed = star_count[star]
    for x in range(features.shape[0]):
        if start[x + 1] - start[x] < needed:
            continue
        answer = answers[classes[x], centre]
        if answer < 0:
            answer = evaluate(
                program_start[centre], program_length[centre], ops, arg_a, arg_b, features[x], stack
            )
            answers[classes[x], centre] = answer
        if answer == NO:
            continue
        fits = True
        for j in range(first, first + needed):
            atom_program = neighbour_atom[j]
            bond_program = neighbour_bond[j]
            found = False
            for e in range(start[x], start[x + 1]):
                kind = _CODE_INDEX[code[e]]
                answer = bond_answers[bond_program, kind]
                if answer < 0:
                    bond_row[0] = code[e]
                    answer = evaluate(
                        program_start[bond_program],
                        program_length[bond_program],
                        ops,
                        arg_a,
                        arg_b,
                        bond_row,
                        stack,
                    )
                    bond_answers[bond_program, kind] = answer
                if answer == NO:
                    continue
                y = neighbour[e]
                answer = answers[classes[y], atom_program]
                if answer < 0:
                    answer = evaluate(
                        program_start[atom_program],
                        program_length[atom_program],
                        ops,
                        arg_a,
                        arg_b,
                        features[y],
                        stack,
                    )
                    answers[classes[y], atom_program] = answer
                if answer == NO:
                    continue
                found = True
                break
            if not found:
                fits = False
                break
        if fits:
            return True
    return False


# Holds the GIL: the caches it fills (table rows, atom classes, answers, the stars' order) are
# shared by every caller in the process, and two threads must not fill them at once.
@numba.njit(cache=True)
def candidates(
    mol_words,
    invariants,
    aromatic,
    orders,
    keys,
    table_atoms,
    lookup_keys,
    lookup_rows,
    fingerprint_rows,
    fingerprint_of,
    pair_condition,
    pair_element,
    condition_needed,
    element_condition,
    owner,
    bond_orders,
    bond_needed,
    bond_first,
    bond_second,
    bond_condition,
    bond_owner,
    charged_needed,
    screened,
    unscreened,
    literal_clause,
    literal_entry,
    clause_owner,
    count,
    max_element,
    pattern_first,
    pattern_stars,
    pattern_star_list,
    stack_depth,
    star_entries,
    star_centre,
    star_first,
    star_count,
    neighbour_atom,
    neighbour_bond,
    program_start,
    program_length,
    ops,
    arg_a,
    arg_b,
    class_keys,
    class_ids,
    class_count,
    answers,
    bond_answers,
):  # pragma: no cover - compiled
    """(ok, possible patterns) of one molecule: :meth:`PatternScreen.candidates`' conditions
    and every pattern's stars. ``ok`` False: the molecule's atoms could not be read (then the
    caller screens it without stars)."""
    ok, features, start, neighbour, code, rows = read_molecule(
        invariants, aromatic, orders, keys, table_atoms, lookup_keys, lookup_rows
    )
    n_entries = fingerprint_of.shape[0]
    if not ok:
        return False, np.zeros(0, dtype=np.int64)
    possible = np.ones(n_entries, dtype=np.bool_)
    # Element counts.
    n = features.shape[0]
    counts = np.zeros(max_element, dtype=np.int64)
    charged = 0
    for i in range(n):
        counts[min(features[i, F_ELEMENT], max_element - 1)] += 1
        if features[i, F_CHARGE] != 0:
            charged += 1
    found = np.zeros(condition_needed.shape[0], dtype=np.int64)
    for p in range(pair_condition.shape[0]):
        found[pair_condition[p]] += counts[pair_element[p]]
    for r in range(owner.shape[0]):
        c = element_condition[r]
        if found[c] < condition_needed[c]:
            possible[owner[r]] = False
    # Bonds of an order between atoms of the allowed elements (each bond once: i < j).
    bond_failed = np.zeros(bond_needed.shape[0], dtype=np.bool_)
    for k in range(bond_needed.shape[0]):
        have = 0
        for i in range(n):
            zi = min(features[i, F_ELEMENT], max_element - 1)
            for e in range(start[i], start[i + 1]):
                j = neighbour[e]
                if j <= i or code[e] != bond_orders[k]:
                    continue
                zj = min(features[j, F_ELEMENT], max_element - 1)
                if (bond_first[zi, k] and bond_second[zj, k]) or (
                    bond_first[zj, k] and bond_second[zi, k]
                ):
                    have += 1
        bond_failed[k] = have < bond_needed[k]
    for r in range(bond_owner.shape[0]):
        if bond_failed[bond_condition[r]]:
            possible[bond_owner[r]] = False
    # Charged atoms.
    for e in range(n_entries):
        if charged_needed[e] > charged:
            possible[e] = False
    # Fingerprint bits, for the entries left: each distinct pattern fingerprint's bits must be
    # set in the molecule's (``fingerprint_rows``: one row of words per distinct fingerprint;
    # checked once per molecule, when an entry first asks).
    n_unique, words = fingerprint_rows.shape
    fingerprint_ok = np.full(n_unique, -1, dtype=np.int8)
    for e in range(n_entries):
        if not possible[e]:
            continue
        u = fingerprint_of[e]
        if fingerprint_ok[u] < 0:
            fingerprint_ok[u] = 1
            for w in range(words):
                if fingerprint_rows[u, w] & ~mol_words[w]:
                    fingerprint_ok[u] = 0
                    break
        if fingerprint_ok[u] == 0:
            possible[e] = False
    # Each pattern's stars, for the patterns nothing above ruled out.
    stack = np.empty(stack_depth + 1, dtype=np.int64)
    bond_row = np.zeros(8, dtype=np.int64)
    classes = atom_classes(features, rows, class_keys, class_ids, class_count, answers)
    # Each star's answer for this molecule, when first asked.
    star_memo = np.full(star_centre.shape[0], -1, dtype=np.int8)
    for e in range(star_entries):
        if not possible[e] or not screened[e]:
            continue
        first = pattern_first[e]
        for at in range(first, first + pattern_stars[e]):
            s = pattern_star_list[at]
            fits = star_memo[s]
            if fits < 0:
                fits = star_fits(
                    s,
                    star_centre,
                    star_first,
                    star_count,
                    neighbour_atom,
                    neighbour_bond,
                    program_start,
                    program_length,
                    ops,
                    arg_a,
                    arg_b,
                    features,
                    start,
                    neighbour,
                    code,
                    stack,
                    bond_row,
                    classes,
                    answers,
                    bond_answers,
                )
                star_memo[s] = fits
            if fits == 0:
                possible[e] = False
                if at != first:  # tried first next time
                    pattern_star_list[at] = pattern_star_list[first]
                    pattern_star_list[first] = s
                break
    for e in range(n_entries):
        if unscreened[e]:
            possible[e] = True
    # Required sub-patterns: twice, as the numpy code does.
    n_clauses = clause_owner.shape[0]
    met = np.zeros(n_clauses, dtype=np.int64)
    for _ in range(2):
        met[:] = 0
        for j in range(literal_clause.shape[0]):
            if possible[literal_entry[j]]:
                met[literal_clause[j]] += 1
        for c in range(n_clauses):
            if met[c] == 0:
                possible[clause_owner[c]] = False
    return True, np.flatnonzero(possible[:count])

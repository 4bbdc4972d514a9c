"""Disclosure control (definitions.md 「保密处理」): small groups hide their money measures.

Primary suppression: a group (cell) with fewer than ``MIN_ENTERPRISES``
enterprises keeps its counts, but its money reads ``None`` (``suppressed: True``)
for roles that may not see enterprise-level tax data.

Complementary suppression: no hidden cell may be recoverable from published
sums ("margins"): the table's total row; with several dims, each marginal group
(cells sharing every other dim's value sum to a cell of the table without that
dim); hierarchies: prefectures (6-digit codes) sum to their province
(``code[:2] + "0000"``), industry divisions to their GB/T 4754-2017 section.
Margins are assumed visible (worst case) unless their cells hold fewer than
three enterprises in all (then the margin is itself primary-suppressed). Each
margin is a linear equation over the hidden cells; a cell is *determined* when
its unit vector is in their span (exact elimination: this covers one unknown
left in a group, nested differences such as total minus provinces, and chains
across rows and columns). First every group with exactly one hidden cell gets
its unhidden cell with the fewest enterprises (then table order) hidden too;
then, while a cell is determined, a visible cell that its proof (the combination
of margins) does not cancel is hidden, until a fixed point.

A group without enterprises has no money (its zeros are known), so it counts
as visible in the audit. A single-cell group's margin equals the cell; counts are
of distinct enterprises, so a small single cell's margin is primary-suppressed
where it is published and adds no equation, while a larger one is published
through its margin and is hidden as a complement only as a last resort.

Residual risk: each table is protected on its own. Separately queried tables
(other filters, periods or groupings, whose complements differ) can in
principle be combined; and a cell given by margins alone (total minus a visible
province sum leaving one unknown-origin cell) cannot be protected here:
``plan`` reports it and ``suppress`` logs a warning. Tables too large to audit
(``AUDIT_MAX_*``) hide every cell's money.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

MIN_ENTERPRISES = 3
COUNT = "enterprises"
# The money measures; counts (enterprises, new enterprises, employees) stay visible.
MONEY = ("investment_wan", "tax_wan", "revenue_wan", "profit_wan")
# A single enterprise's confidential figures (tax and statistics deliveries).
ENTERPRISE_MONEY = ("tax_wan", "revenue_wan", "profit_wan", "total_assets_wan")
# Deterministic limits of the exact audit (a 2,400-cell table takes ~3 s).
AUDIT_MAX_CELLS = 4000
AUDIT_MAX_PASSES = 40
# Elimination runs mod this Mersenne prime: for 0/1 systems it agrees with exact
# rational arithmetic except with negligible probability.
_P = (1 << 61) - 1


def _province(code: Any) -> str | None:
    s = str(code) if code is not None else ""
    return s[:2] + "0000" if len(s) == 6 and s.isdigit() else None


@cache
def _sections() -> dict[str, str]:
    """Division (2 digits) -> section letter, from the package's GB/T 4754-2017 table."""
    from crossinvest.reference.industries import industry_rows

    return {r["code"]: r["section"] for r in industry_rows() if r["level"] == "大类"}


def _section(code: Any) -> str | None:
    return _sections().get(str(code)) if code is not None else None


# Dim -> its parent's value; the parent is published as a dim of its own.
PARENTS: dict[str, Callable[[Any], str | None]] = {
    "origin_prefecture": _province,
    "dest_prefecture": _province,
    "industry_division": _section,
}


def _count(row: dict[str, Any]) -> int:
    return int(row.get(COUNT) or 0)


def margin_groups(rows: Sequence[dict[str, Any]], dims: Sequence[str]) -> list[tuple[int, ...]]:
    """Every set of row indices whose sum is published: total, marginal and parent groups.

    >>> rows = [{"origin_prefecture": "330100"}, {"origin_prefecture": "330200"},
    ...         {"origin_prefecture": "320100"}]
    >>> margin_groups(rows, ["origin_prefecture"])
    [(0, 1), (0, 1, 2), (2,)]
    """
    found: set[tuple[int, ...]] = {tuple(range(len(rows)))} if rows else set()
    for d in dims:
        others = [x for x in dims if x != d]
        buckets: dict[tuple[Any, ...], list[int]] = {}
        for i, r in enumerate(rows):
            rest = tuple(r.get(x) for x in others)
            if len(dims) > 1:
                buckets.setdefault(("m", *rest), []).append(i)
            parent = PARENTS[d](r.get(d)) if d in PARENTS else None
            if parent is not None:  # no parent (unknown code): no hierarchy margin
                buckets.setdefault(("p", parent, *rest), []).append(i)
        found.update(tuple(b) for b in buckets.values())
    return sorted(found)


def _axpy(dst: dict[int, int], f: int, src: dict[int, int], skip: int) -> None:
    """``dst -= f * src`` modulo ``_P``, without ``src``'s entry ``skip``; zeros dropped."""
    for k, v in src.items():
        if k != skip:
            nv = (dst.get(k, 0) - f * v) % _P
            if nv:
                dst[k] = nv
            else:
                dst.pop(k, None)


def certificates(hidden: set[int], groups: Sequence[Sequence[int]]) -> dict[int, dict[int, int]]:
    """Hidden cells whose value follows from the groups' sums, each with its proof.

    Gaussian elimination over the hidden cells to reduced row echelon form: a
    cell is determined iff its unit vector is in the row space, i.e. its pivot
    row has no other hidden entry. Each row also carries the combination of
    groups it came from (keys ``-1 - j`` for group ``j``): the proof returned,
    as {group index: coefficient}.

    >>> certificates({0, 1, 2}, [(0, 1, 2), (1, 2), (3, 4)])
    {0: {0: 1, 1: 2305843009213693950}}
    """
    piv: dict[int, dict[int, int]] = {}
    for j in sorted(range(len(groups)), key=lambda j: len(groups[j])):  # sparse rows first
        g = groups[j]
        row = {c: 1 for c in g if c in hidden}
        if row:
            row[-1 - j] = 1
        while cols := [k for k in row if k >= 0]:
            c = min(cols)
            if c not in piv:
                inv = pow(row[c], _P - 2, _P)
                piv[c] = {k: v * inv % _P for k, v in row.items()}
                break
            _axpy(row, row.pop(c), piv[c], c)
    # Back-substitution, last pivot first: rows already reduced stay free of other pivots.
    for c in sorted(piv, reverse=True):
        row = piv[c]
        for k in [k for k in row if k > c and k in piv]:
            _axpy(row, row.pop(k), piv[k], k)
    return {
        c: {-1 - k: v for k, v in row.items() if k < 0}
        for c, row in piv.items()
        if sum(k >= 0 for k in row) == 1
    }


def plan(
    rows: Sequence[dict[str, Any]],
    dims: Sequence[str] = (),
    total: dict[str, Any] | None = None,
) -> tuple[set[int], set[int]]:
    """(hidden row indices, hidden rows that stay determined for want of a complement)."""
    n = len(rows)
    counts = [_count(r) for r in rows]
    hidden = {i for i in range(n) if counts[i] < MIN_ENTERPRISES}
    everything = tuple(range(n))
    eqs: list[tuple[int, ...]] = []
    pinned: set[int] = set()
    for g in margin_groups(rows, dims):
        if g == everything and total is not None:
            visible = _count(total) >= MIN_ENTERPRISES
        else:
            visible = sum(counts[i] for i in g) >= MIN_ENTERPRISES
        if not visible:
            continue  # the margin is itself primary-suppressed where it is published
        if len(g) == 1:
            pinned.add(g[0])  # its margin publishes it elsewhere: a complement of last resort
        else:
            eqs.append(g)
    # A group without enterprises has no money: anyone knows its zeros, so hiding it
    # protects nothing. The audit treats such cells as visible and never picks them.
    zero = {i for i in range(n) if counts[i] == 0}
    secret = hidden - zero
    stuck = _complement(secret, eqs, pinned | zero, counts, zero) if secret and eqs else set()
    return secret | zero, stuck


def suppress(
    rows: Sequence[dict[str, Any]],
    dims: Sequence[str] = (),
    total: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Copies of ``rows`` with money measures of small groups and their complements set to ``None``.

    ``dims``: the table's grouping dims (each row carries its value under the
    dim's name); ``total``: the table's total row, whose count says whether the
    total margin is published. ``suppress([total])`` suppresses a lone total.
    The input is not changed.

    >>> rows = [{"origin_province": p, "enterprises": n, "tax_wan": t}
    ...         for p, n, t in [("110000", 2, 5.0), ("320000", 9, 7.0), ("330000", 4, 2.0)]]
    >>> [(r["tax_wan"], r["suppressed"]) for r in suppress(rows, ["origin_province"])]
    [(None, True), (7.0, False), (None, True)]
    >>> suppress([{"enterprises": 2, "tax_wan": 1.0}])[0]["tax_wan"] is None
    True
    """
    hidden, stuck = plan(rows, dims, total)
    if stuck:
        log.warning("disclosure: %d hidden cell(s) stay recoverable (no complement)", len(stuck))
    out = []
    for i, r in enumerate(rows):
        row = dict(r, suppressed=i in hidden)
        if i in hidden:
            for m in MONEY:
                if m in row:
                    row[m] = None
        out.append(row)
    return out


def _complement(
    hidden: set[int],
    eqs: list[tuple[int, ...]],
    pinned: set[int],
    counts: list[int],
    known: set[int],
) -> set[int]:
    """Grow ``hidden`` until no hidden cell is determined; return those left determined."""

    def pick(groups: Iterable[tuple[int, ...]]) -> int | None:
        for g in groups:
            free = [i for i in g if i not in hidden and i not in known]
            if free:  # fewest enterprises first, cells published elsewhere last
                return min(free, key=lambda i: (i in pinned, counts[i], i))
        return None

    def cheap() -> None:  # the common case: a group with exactly one hidden cell
        changed = True
        while changed:
            changed = False
            for g in eqs:
                if sum(i in hidden for i in g) == 1 and (c := pick([g])) is not None:
                    hidden.add(c)
                    changed = True

    # Then the exact audit, for what differences and chains of groups reveal: a
    # determined cell's proof combines groups; hiding a visible cell that the
    # combination does not cancel breaks it.
    stuck: set[int] = set()
    cheap()
    passes = 0
    while proofs := {c: y for c, y in certificates(hidden, eqs).items() if c not in stuck}:
        passes += 1
        if passes > AUDIT_MAX_PASSES or len(counts) > AUDIT_MAX_CELLS:
            # Too large to audit in a request: hide every cell's money (a fixed rule,
            # so the same table always gets the same answer).
            log.warning("disclosure: %d-cell table too large to audit, all hidden", len(counts))
            hidden.update(set(range(len(counts))) - known)
            return set()
        added: set[int] = set()
        for c, y in sorted(proofs.items()):
            weight: dict[int, int] = {}
            for j, coef in y.items():
                for i in eqs[j]:
                    if i not in hidden:
                        weight[i] = (weight.get(i, 0) + coef) % _P
            free = [i for i, w in weight.items() if w and i not in known]
            if not free:
                stuck.add(c)  # the margins alone give it: nothing here can help
            elif not added.intersection(free):  # else this pass already broke the proof
                added.add(min(free, key=lambda i: (i in pinned, counts[i], i)))
        hidden |= added
        cheap()
    return stuck


def suppress_total(total: dict[str, Any]) -> dict[str, Any]:
    """A copy of a lone total row, its money hidden when it has fewer than three enterprises."""
    return suppress([total])[0]

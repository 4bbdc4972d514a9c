"""Disclosure control (definitions.md): small groups hide their money measures.

A group with fewer than 3 enterprises keeps its counts but shows no tax,
revenue or investment (its money measures) to a role that may not see enterprise-level tax data.
Where exactly one group of a table would be hidden, the next smallest is hidden
too, so that the hidden figure cannot be recovered from the total row.
"""

from __future__ import annotations

from typing import Any

MIN_ENTERPRISES = 3
# The money measures; counts (enterprises, employees) stay visible.
MONEY = ("investment_wan", "tax_wan", "revenue_wan")


def suppress(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return copies of ``rows`` with money measures of small groups set to ``None``.

    >>> out = suppress([{"enterprises": 1, "tax_wan": 5.0}, {"enterprises": 9, "tax_wan": 7.0},
    ...                 {"enterprises": 4, "tax_wan": 2.0}])
    >>> [(r["tax_wan"], r["suppressed"]) for r in out]
    [(None, True), (7.0, False), (None, True)]
    """
    out = [dict(r, suppressed=False) for r in rows]
    small = [i for i, r in enumerate(out) if (r.get("enterprises") or 0) < MIN_ENTERPRISES]
    if len(small) == 1:
        # Complementary suppression: hide the smallest of the others as well.
        others = sorted(
            (i for i in range(len(out)) if i not in small),
            key=lambda i: (out[i].get("enterprises") or 0, i),
        )
        small += others[:1]
    for i in small:
        for m in MONEY:
            if m in out[i]:
                out[i][m] = None
        out[i]["suppressed"] = True
    return out

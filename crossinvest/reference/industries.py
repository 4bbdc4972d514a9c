"""GB/T 4754-2017, the national industry classification, from the package's CSV."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

LEVELS = {"门类": "section", "大类": "division", "中类": "group", "小类": "class"}


@cache
def industry_rows() -> list[dict]:
    """One dict per entry: level (门类/大类/中类/小类), section, code, name, division and section names.

    >>> [r["name"] for r in industry_rows() if r["code"] == "6513"]
    ['应用软件开发']
    """
    text = resources.files("crossinvest.data").joinpath("gbt4754-2017.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    sections = {r["section"]: r["name"] for r in rows if r["level"] == "门类"}
    divisions = {r["code"]: r["name"] for r in rows if r["level"] == "大类"}
    out = []
    for r in rows:
        code = r["code"] or None
        out.append(
            {
                "level": r["level"],
                "section": r["section"],
                "code": code if code else r["section"],
                "name": r["name"],
                "division_code": code[:2] if code else None,
                "division_name": divisions.get(code[:2]) if code else None,
                "section_name": sections.get(r["section"]),
            }
        )
    return out

"""GB/T 4754-2017, the national industry classification, from the package's CSV.

``crossinvest/data/gbt4754-2017.csv`` (a copy of the spec's table) has columns
``level,section,code,name`` for its four levels 门类 (20 sections A-T), 大类 (97
two-digit divisions), 中类 (three digits) and 小类 (four digits, the level the
registry's 行业代码 uses). A 门类 row has no code in the CSV; its ``code`` here
is its section letter, so ``code`` is unique across the table.

>>> [(r["section"], r["division_name"]) for r in industry_rows() if r["code"] == "6513"]
[('I', '软件和信息技术服务业')]
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

LEVELS = ("门类", "大类", "中类", "小类")
_DIGITS = {"大类": 2, "中类": 3, "小类": 4}
# Known mistakes in the spec's copy of the table: (level, code, name) as written
# -> (level, code) per GB/T 4754-2017. 3741 飞机制造 is a 小类 of 中类 374.
ERRATA = {("中类", "374", "飞机制造"): ("小类", "3741")}


@cache
def industry_rows() -> list[dict]:
    """One dict per entry: level, section, code, name, division code/name, section name."""
    text = (
        resources.files("crossinvest.data").joinpath("gbt4754-2017.csv").read_text(encoding="utf-8")
    )
    rows = list(csv.DictReader(text.splitlines()))
    sections = {r["section"]: r["name"] for r in rows if r["level"] == "门类"}
    divisions = {r["code"]: r["name"] for r in rows if r["level"] == "大类"}
    out = []
    for r in rows:
        level, code = ERRATA.get(
            (r["level"], r["code"].strip(), r["name"]), (r["level"], r["code"].strip())
        )
        if level not in LEVELS or (
            level != "门类" and not (code.isdigit() and len(code) == _DIGITS[level])
        ):
            raise ValueError(f"gbt4754-2017.csv: bad row {r}")
        out.append(
            {
                "level": level,
                "section": r["section"],
                "code": code or r["section"],
                "name": r["name"],
                "division_code": code[:2] or None,
                "division_name": divisions.get(code[:2]) if code else None,
                "section_name": sections[r["section"]],
            }
        )
    if len({r["code"] for r in out}) != len(out):
        raise ValueError("gbt4754-2017.csv: duplicate codes")
    return out

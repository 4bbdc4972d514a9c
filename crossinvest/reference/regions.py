"""GB/T 2260 division codes, historical ones included, from python-stdnum's ``loc.dat``.

``loc.dat`` lists, per province, every code it ever had with the years each
name was valid, e.g. ``0103 county="[-2011]卢湾区"`` under 31 上海市. We turn
it into one row per code with its current or last name, province and
prefecture, and add the codes the statistics need that are not divisions:
100000 「国家级登记」 and the non-domestic 71/81/82.

>>> r = region_rows()
>>> [x for x in r if x["code"] == "310103"][0]["name"], [x for x in r if x["code"] == "310103"][0]["province_name"]
('卢湾区', '上海市')
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import stdnum

LOC_DAT = Path(stdnum.__file__).parent / "cn" / "loc.dat"
MUNICIPALITIES = ("11", "12", "31", "50")
NON_DOMESTIC = {"71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区"}
NATIONAL_CODE = "100000"
NATIONAL_NAME = "国家级登记"

_SPAN = re.compile(r"^\[(\d{4})?-(\d{4})?\](.*)$")


def _spans(text: str) -> list[tuple[int | None, int | None, str]]:
    """'[1983-1998]南山矿区,[2002-]达坂城区' -> [(1983, 1998, '南山矿区'), (2002, None, '达坂城区')]."""
    out = []
    for part in text.split(","):
        m = _SPAN.match(part.strip())
        if m:
            out.append((int(m[1]) if m[1] else None, int(m[2]) if m[2] else None, m[3]))
        else:
            out.append((None, None, part.strip()))
    return out


@cache
def region_rows() -> list[dict]:
    """One dict per code: code, name, level, province/prefecture code and name, validity, domestic."""
    provinces: dict[str, str] = {}
    raw: list[tuple[str, list[tuple[int | None, int | None, str]]]] = []
    prov = ""
    for line in LOC_DAT.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line.startswith(" "):
            prov, rest = line.split(" ", 1)
            provinces[prov] = re.search(r'province="([^"]*)"', rest)[1]  # type: ignore[index]
            continue
        code, rest = line.strip().split(" ", 1)
        raw.append((prov + code, _spans(re.search(r'county="([^"]*)"', rest)[1])))  # type: ignore[index]
    names: dict[str, tuple[str, int | None, int | None]] = {}
    for code, spans in raw:
        start, end, name = spans[-1]
        first = spans[0][0]
        names[code] = (name, first if first is not None else start, end)
    rows = []
    for code, (name, valid_from, valid_to) in names.items():
        p = code[:2]
        if code[2:] == "0000":
            level = "province"
        elif code[4:] == "00":
            level = "prefecture"
        else:
            level = "county"
        pname = provinces.get(p) or name
        if p in MUNICIPALITIES:
            pref_code, pref_name = p + "0000", pname
        else:
            pref_code = code[:4] + "00"
            pref_name = names.get(pref_code, (None,))[0] if level != "province" else None
        rows.append(
            {
                "code": code,
                "name": pname if level == "province" else name,
                "level": level,
                "province_code": p + "0000",
                "province_name": pname,
                "prefecture_code": pref_code if level != "province" else None,
                "prefecture_name": pref_name if level != "province" else None,
                "county_name": name if level == "county" else None,
                "valid_from": valid_from,
                "valid_to": valid_to,
                "is_current": valid_to is None,
                "domestic": p not in NON_DOMESTIC,
            }
        )
    have = {r["code"] for r in rows}
    for p, pname in NON_DOMESTIC.items():
        if p + "0000" not in have:
            rows.append(
                {"code": p + "0000", "name": pname, "level": "province", "province_code": p + "0000",
                 "province_name": pname, "prefecture_code": None, "prefecture_name": None, "county_name": None,
                 "valid_from": None, "valid_to": None, "is_current": True, "domestic": False}
            )
    for r in rows:
        if r["province_code"][:2] in NON_DOMESTIC:
            r["province_name"] = NON_DOMESTIC[r["province_code"][:2]]
            if r["level"] == "province":
                r["name"] = r["province_name"]
    rows.append(
        {"code": NATIONAL_CODE, "name": NATIONAL_NAME, "level": "national", "province_code": NATIONAL_CODE,
         "province_name": NATIONAL_NAME, "prefecture_code": NATIONAL_CODE, "prefecture_name": NATIONAL_NAME,
         "county_name": None, "valid_from": None, "valid_to": None, "is_current": True, "domestic": True}
    )
    return rows


@cache
def _by_code() -> dict[str, dict]:
    return {r["code"]: r for r in region_rows()}


def region_name(code: str | None) -> str | None:
    """The name of a division code, historical codes included.

    >>> region_name("310115"), region_name("310103"), region_name("999999")
    ('浦东新区', '卢湾区', None)
    """
    r = _by_code().get(code or "")
    return r["name"] if r else None

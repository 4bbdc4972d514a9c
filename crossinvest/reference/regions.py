"""GB/T 2260 division codes, historical ones included, from python-stdnum's ``loc.dat``.

``loc.dat`` lists, under each two-digit province, every four-digit suffix the
province ever used, with the years each name was valid::

    31 province="上海市"
      0000 county="上海市"
      0103 county="[-2011]卢湾区"
      0110 county="[-1991]东郊区,[1992-]东丽区"     (under 12 天津市)

``XX0000`` is the province itself and ``XXXX00`` a prefecture (for the four
municipalities 市辖区/县, which are not prefectures: there the prefecture level
is the municipality itself, definitions.md). We turn it into one row per code
with its latest name, the years it was valid, its province and prefecture, and
add the codes the statistics need that are not divisions: 100000
「国家级登记」 and the non-domestic 71/81/82.

>>> r = {x["code"]: x for x in region_rows()}
>>> r["310103"]["name"], r["310103"]["province_name"], r["310103"]["valid_to"]
('卢湾区', '上海市', 2011)
>>> r["653125"]["prefecture_name"], r["653125"]["full_name"]
('喀什地区', '新疆维吾尔自治区喀什地区莎车县')
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
LEVELS = ("national", "province", "prefecture", "county")

_PROVINCE = re.compile(r'^(\d{2}) province="([^"]*)"$')
_ENTRY = re.compile(r'^ {2}(\d{4}) county="([^"]*)"$')
_SPAN = re.compile(r"^\[(\d{4})?-(\d{4})?\](.+)$")

Span = tuple[int | None, int | None, str]


def parse_spans(text: str) -> list[Span]:
    """``'[-1991]东郊区,[1992-]东丽区'`` -> ``[(None, 1991, '东郊区'), (1992, None, '东丽区')]``.

    A name without brackets is valid throughout (``(None, None, name)``).
    """
    out: list[Span] = []
    for part in text.split(","):
        m = _SPAN.match(part.strip())
        out.append(
            (int(m[1]) if m[1] else None, int(m[2]) if m[2] else None, m[3])
            if m
            else (None, None, part.strip())
        )
    return out


def read_loc_dat(path: Path = LOC_DAT) -> dict[str, list[Span]]:
    """Every six-digit code in ``loc.dat`` with its name spans, in file order."""
    codes: dict[str, list[Span]] = {}
    province = None
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if m := _PROVINCE.match(line):
            province = m[1]
            codes.setdefault(province + "0000", [(None, None, m[2])])
        elif (m := _ENTRY.match(line)) and province:
            codes[province + m[1]] = parse_spans(m[2])
        else:
            raise ValueError(f"{path}:{n}: unexpected line {line!r}")
    return codes


def _level(code: str) -> str:
    if code[2:] == "0000":
        return "province"
    return "prefecture" if code[4:] == "00" else "county"


def _latest(spans: list[Span]) -> Span:
    # Open-ended (current) spans last, then by end year: the last one is the latest name.
    return max(spans, key=lambda s: (s[1] is None, s[1] or 0, s[0] or 0))


@cache
def region_rows() -> list[dict]:
    """One dict per code (see ``ref_regions`` in ``reference.plugin`` for the columns)."""
    codes = read_loc_dat()
    # A county whose prefecture loc.dat lacks still needs that level: derive it.
    for code in list(codes):
        pref = code[:4] + "00"
        if _level(code) == "county" and pref not in codes and code[:2] not in MUNICIPALITIES:
            codes[pref] = [(None, None, f"{_latest(codes[code[:2] + '0000'])[2]}{pref}")]
    rows = []
    for code, spans in sorted(codes.items()):
        start = (
            None
            if any(s[0] is None for s in spans)
            else min(s[0] for s in spans if s[0] is not None)
        )
        _, end, name = _latest(spans)
        p = code[:2]
        level = _level(code)
        former = [s[2] for s in spans if s[2] != name]
        rows.append(
            {
                "code": code,
                "name": name,
                "level": level,
                "province_code": p + "0000",
                "prefecture_code": None
                if level == "province"
                else (p + "0000" if p in MUNICIPALITIES else code[:4] + "00"),
                "valid_from": start,
                "valid_to": end,
                "is_current": end is None,
                "domestic": p not in NON_DOMESTIC,
                "former_names": list(dict.fromkeys(former)),
            }
        )
    by_code = {r["code"]: r for r in rows}
    for p, name in NON_DOMESTIC.items():  # loc.dat spells 81/82 in traditional characters
        row = by_code.setdefault(
            p + "0000",
            {
                "code": p + "0000",
                "level": "province",
                "valid_from": None,
                "valid_to": None,
                "is_current": True,
                "former_names": [],
            },
        )
        row.update(name=name, province_code=p + "0000", prefecture_code=None, domestic=False)
    for r in by_code.values():
        r["province_name"] = by_code[r["province_code"]]["name"]
        r["prefecture_name"] = (
            by_code[r["prefecture_code"]]["name"] if r["prefecture_code"] else None
        )
        r["county_name"] = r["name"] if r["level"] == "county" else None
        parts = [r["province_name"], r["prefecture_name"], r["county_name"] or r["name"]]
        r["full_name"] = "".join(dict.fromkeys(x for x in parts if x))
    by_code[NATIONAL_CODE] = {
        "code": NATIONAL_CODE,
        "name": NATIONAL_NAME,
        "level": "national",
        "province_code": NATIONAL_CODE,
        "province_name": NATIONAL_NAME,
        "prefecture_code": NATIONAL_CODE,
        "prefecture_name": NATIONAL_NAME,
        "county_name": None,
        "full_name": NATIONAL_NAME,
        "valid_from": None,
        "valid_to": None,
        "is_current": True,
        "domestic": True,
        "former_names": [],
    }
    return [by_code[c] for c in sorted(by_code)]


@cache
def _by_code() -> dict[str, dict]:
    return {r["code"]: r for r in region_rows()}


def region(code: str | None) -> dict | None:
    """The ``ref_regions`` row of a code as a dict, or None."""
    return _by_code().get(code or "")


def region_name(code: str | None) -> str | None:
    """The name of a division code, historical codes included.

    >>> region_name("310115"), region_name("310103"), region_name("999999")
    ('浦东新区', '卢湾区', None)
    """
    r = _by_code().get(code or "")
    return r["name"] if r else None

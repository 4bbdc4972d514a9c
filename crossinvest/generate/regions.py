"""GB/T 2260 division codes for the generator, read from python-stdnum's ``loc.dat``.

The generator needs more than a code list: historical codes with their years
(卢湾区 310103 until 2011), the names of a code's prefecture and province for
addresses and enterprise names, and weighted tables of where enterprises and
investors are. It parses ``loc.dat`` itself so it does not depend on
``crossinvest.reference`` being finished.

>>> r = load_regions()
>>> r.name_at(310103, 2005), r.name_at(310103, 2018) is None
('卢湾区', True)
>>> r.province_short(65)
'新疆'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import stdnum

LOC_DAT = Path(stdnum.__file__).parent / "cn" / "loc.dat"
MUNICIPALITIES = (11, 12, 31, 50)
NON_DOMESTIC = (71, 81, 82)
NATIONAL = 100000  # registered by the national administration (国家级登记)

# Shanghai's 16 districts since 2016, with a rough share of registered enterprises.
# fmt: off
SHANGHAI_DISTRICTS: dict[int, float] = {
    310101: 3.0, 310104: 4.0, 310105: 3.0, 310106: 4.0, 310107: 3.0, 310109: 3.0, 310110: 4.0, 310112: 8.0,
    310113: 7.0, 310114: 8.0, 310115: 20.0, 310116: 5.0, 310117: 7.0, 310118: 7.0, 310120: 7.0, 310151: 7.0,
}
# fmt: on
# current district -> (historical code, first year it no longer applies, share of
# enterprises established before then that still carry it)
SHANGHAI_HISTORICAL: dict[int, tuple[int, int, float]] = {
    310101: (310103, 2011, 0.35),  # 卢湾区 merged into 黄浦区
    310106: (310108, 2015, 0.40),  # 闸北区 merged into 静安区
    310115: (310119, 2009, 0.15),  # 南汇区 merged into 浦东新区
    310151: (310230, 2016, 0.50),  # 崇明县 became 崇明区
}
# current support county -> (code before its last change, first year of the new
# code, share of older enterprises that still carry the old one)
# fmt: off
DESTINATION_HISTORICAL: dict[int, tuple[int, int, float]] = {
    540222: (542323, 2015, 0.4), 540223: (542324, 2015, 0.4), 540224: (542325, 2015, 0.4),  # 日喀则撤地设市
    540225: (542326, 2015, 0.4), 540233: (542334, 2015, 0.4),
    420506: (420521, 2001, 0.5),  # 宜昌县 -> 夷陵区
}
# fmt: on
# Counterpart-support (对口支援) and east-west cooperation counties.
# fmt: off
SUPPORT_COUNTIES: tuple[int, ...] = (
    653125, 653124, 653126, 653130,  # 喀什: 莎车 泽普 叶城 巴楚
    540222, 540223, 540224, 540225, 540233,  # 日喀则: 江孜 定日 萨迦 拉孜 亚东
    632621, 632622, 632623, 632624, 632625, 632626,  # 果洛
    420506, 500101,  # 夷陵 万州 (三峡)
    520302, 520303, 520304, 520322, 520323, 520324, 520325, 520326, 520327, 520328,
    520329, 520330, 520381, 520382,  # 遵义
)
# fmt: on
# Where investors into Shanghai come from (every province has some).
# fmt: off
INVESTOR_PROVINCES: dict[int, float] = {
    33: 16, 32: 16, 11: 10, 44: 9, 34: 6, 35: 6, 37: 5, 42: 3, 51: 3, 41: 3, 43: 2.5, 36: 2.5,
    12: 2, 50: 2, 21: 2, 13: 2, 61: 1.5, 53: 1.2, 45: 1, 14: 1, 23: 1, 52: 1, 22: 0.8, 15: 0.8,
    65: 0.8, 46: 0.8, 62: 0.5, 64: 0.3, 63: 0.3, 54: 0.2,
}
# fmt: on
# Where Shanghai invests (outbound destinations).
# fmt: off
DESTINATION_PROVINCES: dict[int, float] = {
    32: 18, 33: 16, 34: 8, 44: 6, 37: 5, 11: 4, 35: 4, 42: 3, 51: 3, 36: 3, 41: 3, 43: 2.5,
    50: 2, 53: 2, 52: 2, 65: 2, 54: 1, 63: 1, 12: 1.5, 13: 1.5, 21: 1, 61: 1, 45: 1, 46: 1,
    14: 0.6, 15: 0.6, 22: 0.5, 23: 0.6, 62: 0.5, 64: 0.3,
}
# fmt: on
SUPPORT_SHARE = 0.15  # of outbound enterprises in a support county
# Home provinces of natural-person investors who are not Shanghai residents
# (persons spread evenly over the (division, birth day) cells of these).
# fmt: off
PERSON_PROVINCES: dict[int, float] = {
    33: 12, 32: 12, 34: 8, 41: 6, 37: 6, 51: 5, 42: 5, 36: 5, 43: 4, 35: 4, 44: 4, 13: 3,
    11: 3, 50: 3, 23: 2, 21: 2, 22: 1.5, 14: 2, 61: 2, 52: 2, 53: 2, 45: 2, 12: 1, 15: 1,
    62: 1, 65: 1, 46: 0.5, 64: 0.5, 63: 0.3, 54: 0.3,
}
# fmt: on
_NON_COUNTY = re.compile(r"^(市辖区|县|郊区县)$|直辖")
_RANGE = re.compile(r"^\[(\d*)-(\d*)\](.*)$")
_STRIP_PROVINCE = re.compile(
    r"(维吾尔自治区|壮族自治区|回族自治区|自治区|特别行政区|特別行政區|省|市)$"
)
_LONG_PREFECTURES = ("黔东南", "黔西南", "西双版纳", "博尔塔拉", "巴音郭楞", "克孜勒苏", "大兴安岭")


@dataclass
class Division:
    code: int
    names: list[tuple[str, int | None, int | None]] = field(default_factory=list)

    def name_at(self, year: int) -> str | None:
        for name, start, end in self.names:
            if (start is None or start <= year) and (end is None or end >= year):
                return name
        return None

    def last_name(self) -> str:
        return self.names[-1][0]

    def years(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """Sub-ranges of [lo, hi] in which the code was in use."""
        out = []
        for _, start, end in self.names:
            a, b = max(lo, start or lo), min(hi, end or hi)
            if a <= b:
                out.append((a, b))
        return out


class Regions:
    """Parsed ``loc.dat`` with name helpers."""

    def __init__(self, path: Path = LOC_DAT) -> None:
        self.divisions: dict[int, Division] = {}
        self.provinces: dict[int, str] = {}
        prov = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if not line.startswith(" "):
                code, rest = line.split(" ", 1)
                prov = int(code)
                self.provinces[prov] = rest.split('"')[1]
                continue
            code, rest = line.strip().split(" ", 1)
            div = Division(prov * 10000 + int(code))
            for part in rest.split('"')[1].split(","):
                m = _RANGE.match(part)
                if m:
                    div.names.append(
                        (
                            m.group(3),
                            int(m.group(1)) if m.group(1) else None,
                            int(m.group(2)) if m.group(2) else None,
                        )
                    )
                else:
                    div.names.append((part, None, None))
            self.divisions[div.code] = div

    def name_at(self, code: int, year: int) -> str | None:
        d = self.divisions.get(code)
        return d.name_at(year) if d else None

    def name_any(self, code: int, year: int) -> str:
        """Name in ``year``, else the last name the code had."""
        d = self.divisions[code]
        return d.name_at(year) or d.last_name()

    def is_county(self, code: int, year: int | None = None) -> bool:
        d = self.divisions.get(code)
        if d is None or code % 100 == 0 or code // 10000 in NON_DOMESTIC:
            return False
        name = d.name_at(year) if year is not None else d.last_name()
        return bool(name) and not _NON_COUNTY.search(name)

    def counties(self, year: int) -> list[int]:
        return [c for c in self.divisions if self.is_county(c, year)]

    def province_short(self, prov: int) -> str:
        name = self.provinces[prov].replace("特別行政區", "特别行政区").replace("澳門", "澳门")
        return _STRIP_PROVINCE.sub("", name)

    def prefecture(self, code: int, year: int) -> str:
        """Prefecture name ('' for municipalities and province-administered counties)."""
        if code // 10000 in MUNICIPALITIES:
            return ""
        d = self.divisions.get(code // 100 * 100)
        if d is None:
            return ""
        name = d.name_at(year) or d.last_name()
        return "" if "直辖" in name else name

    def city_short(self, code: int, year: int) -> str:
        """The place word an enterprise name starts with: 遵义, 喀什, 北京, 果洛 …"""
        prov = code // 10000
        if prov in MUNICIPALITIES:
            return self.province_short(prov)
        pref = self.prefecture(code, year)
        if not pref:
            return re.sub(r"(市|县)$", "", self.name_any(code, year))
        for long in _LONG_PREFECTURES:
            if pref.startswith(long):
                return long
        if pref.endswith("自治州"):
            return pref[:2]
        return re.sub(r"(地区|盟|市)$", "", pref)

    def address_prefix(self, code: int, year: int) -> str:
        prov = code // 10000
        county = self.name_any(code, year)
        return f"{self.provinces[prov]}{self.prefecture(code, year)}{county}"

    def authority(self, code: int, year: int) -> str:
        county = self.name_any(code, year)
        if code // 10000 in MUNICIPALITIES:
            return f"{self.provinces[code // 10000]}{county}市场监督管理局"
        return f"{self.prefecture(code, year)}{county}市场监督管理局"


@lru_cache(maxsize=1)
def load_regions() -> Regions:
    return Regions()


@dataclass
class PlaceTable:
    """Codes with weights and the strings the generator writes for each."""

    codes: np.ndarray
    weights: np.ndarray
    address: list[str]
    city: list[str]
    authority: list[str]
    province: list[str]


def place_table(regions: Regions, codes: list[int], weights: list[float], year: int) -> PlaceTable:
    return PlaceTable(
        codes=np.array(codes, dtype=np.int64),
        weights=np.array(weights, dtype=np.float64),
        address=[regions.address_prefix(c, year) for c in codes],
        city=[regions.city_short(c, year) for c in codes],
        authority=[regions.authority(c, year) for c in codes],
        province=[regions.province_short(c // 10000) for c in codes],
    )


def _spread(
    regions: Regions, year: int, provinces: dict[int, float], exclude=()
) -> tuple[list[int], list[float]]:
    """Every county valid in ``year`` with its province's weight split evenly."""
    by_prov: dict[int, list[int]] = {}
    for c in regions.counties(year):
        if c // 10000 in provinces and c not in exclude:
            by_prov.setdefault(c // 10000, []).append(c)
    codes, weights = [], []
    for prov, cs in sorted(by_prov.items()):
        cs.sort()
        codes += cs
        weights += [provinces[prov] / len(cs)] * len(cs)
    return codes, weights


def destination_table(regions: Regions, year: int) -> tuple[PlaceTable, np.ndarray]:
    """Outbound destinations; the second value flags counterpart-support counties."""
    support = [c for c in SUPPORT_COUNTIES if regions.name_at(c, year)]
    codes, weights = _spread(regions, year, DESTINATION_PROVINCES, exclude=set(support))
    total = sum(weights)
    codes += support
    weights += [total * SUPPORT_SHARE / (1 - SUPPORT_SHARE) / len(support)] * len(support)
    # Codes the support counties had before their last change, drawn for older
    # enterprises only (weight 0 here, see DESTINATION_HISTORICAL).
    old = [h for h, _, _ in DESTINATION_HISTORICAL.values() if h in regions.divisions]
    codes += old
    weights += [0.0] * len(old)
    flags = np.array([c in set(support) or c in set(old) for c in codes])
    return place_table(regions, codes, weights, year), flags


def investor_table(regions: Regions, year: int) -> PlaceTable:
    """Home divisions of legal-person investors outside Shanghai, a few historical."""
    codes, weights = _spread(regions, year, INVESTOR_PROVINCES)
    old = [
        c
        for c, d in regions.divisions.items()
        if c // 10000 in INVESTOR_PROVINCES
        and regions.is_county(c)
        and not d.name_at(year)
        and d.years(2000, year - 1)
    ]
    old.sort()
    total = sum(weights)
    codes += old
    weights += [total * 0.04 / len(old)] * len(old)
    return place_table(regions, codes, weights, year)


def shanghai_table(regions: Regions, year: int) -> PlaceTable:
    """The 16 districts followed by the historical codes still found in records."""
    codes = list(SHANGHAI_DISTRICTS) + [h for h, _, _ in SHANGHAI_HISTORICAL.values()]
    weights = list(SHANGHAI_DISTRICTS.values()) + [0.0] * len(SHANGHAI_HISTORICAL)
    table = place_table(regions, codes, weights, year)
    # Authorities of merged districts are those of the district that absorbed them.
    for cur, (hist, _, _) in SHANGHAI_HISTORICAL.items():
        table.authority[codes.index(hist)] = table.authority[codes.index(cur)]
    return table


@dataclass
class PersonTable:
    """(division, birth day) cells for resident IDs, enumerated in order.

    stdnum.cn.ric checks that the division existed in the birth year, so each
    code only takes birth days inside the years it was in use.
    """

    codes: np.ndarray
    first_day: np.ndarray  # days since 1970-01-01
    n_days: np.ndarray
    cum: np.ndarray  # cells before each row

    @property
    def cells(self) -> int:
        return int(self.cum[-1] + self.n_days[-1])


def person_table(regions: Regions, year: int, provinces) -> PersonTable:
    lo, hi = 1950, year - 20
    codes, first, days = [], [], []
    for c in sorted(regions.divisions):
        if c // 10000 not in provinces or not regions.is_county(c):
            continue
        ranges = regions.divisions[c].years(lo, hi)
        if not ranges:
            continue
        a, b = ranges[0]
        start = np.datetime64(f"{a}-01-01")
        end = np.datetime64(f"{b}-12-31")
        codes.append(c)
        first.append(int((start - np.datetime64("1970-01-01")) / np.timedelta64(1, "D")))
        days.append(int((end - start) / np.timedelta64(1, "D")) + 1)
    n_days = np.array(days, dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(n_days)[:-1]])
    return PersonTable(
        np.array(codes, dtype=np.int64), np.array(first, dtype=np.int64), n_days, cum
    )

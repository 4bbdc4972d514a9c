"""Query parameters shared by pages and the API, declared once with tight patterns.

Patterns are part of the OpenAPI contract: anything they admit is answered with
2xx (possibly empty), anything else with 400, never 500.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from crossinvest.web.datasets.stats import KIND_DIMS

PERIOD_PATTERN = r"^(19[5-9][0-9]|20[0-9][0-9])(Q[1-4]|-(0[1-9]|1[0-2]))?$"
REGION_CODES = r"^[0-9]{6}(,[0-9]{6}){0,49}$"
SECTIONS = r"^[A-T](,[A-T]){0,19}$"
DIVISIONS = r"^[0-9]{2}(,[0-9]{2}){0,96}$"
SUPPORT = r"^[0-9]{6}(,[0-9]{6}){0,49}$"

# An origin-side filter takes one code: a total over distinct enterprises is not
# defined across several origins (an enterprise may belong to more than one).
ONE_CODE = r"^[0-9]{6}$"

FILTER_PATTERNS = {
    "origin_province": ONE_CODE,
    "origin_prefecture": ONE_CODE,
    "district": REGION_CODES,
    "dest_province": REGION_CODES,
    "dest_prefecture": REGION_CODES,
    "industry_section": SECTIONS,
    "industry_division": DIVISIONS,
    "support_region": SUPPORT,
}


def by_pattern(kind: str) -> str:
    alt = "|".join(KIND_DIMS[kind])
    return rf"^({alt})(,({alt})){{0,2}}$"


Period = Annotated[
    str,
    Query(
        pattern=PERIOD_PATTERN,
        description="统计期：年 2018、季度 2018Q3 或月 2018-07",
        examples=["2018"],
    ),
]
OptionalPeriod = Annotated[
    str | None,
    Query(pattern=PERIOD_PATTERN, description="统计期；缺省为最近有数据的年度", examples=["2018"]),
]
Penetrate = Annotated[
    bool, Query(description="穿透计算（definitions.md「Ownership penetration」）")
]
IncludePersons = Annotated[bool, Query(description="含自然人股东")]
Limit = Annotated[int, Query(ge=1, le=1000, description="每页行数")]
Format = Annotated[str, Query(pattern="^(csv|xlsx)$", description="csv 或 xlsx")]


def _f(dim: str, pattern: str | None = None) -> object:
    pattern = pattern or FILTER_PATTERNS[dim]
    many = "（逗号分隔的代码）" if pattern != ONE_CODE else "（一个代码）"
    return Query(pattern=pattern, description=f"筛选 {dim}{many}")


def inbound_filters(
    origin_province: Annotated[str | None, _f("origin_province")] = None,
    origin_prefecture: Annotated[str | None, _f("origin_prefecture")] = None,
    district: Annotated[str | None, _f("district")] = None,
    industry_section: Annotated[str | None, _f("industry_section")] = None,
    industry_division: Annotated[str | None, _f("industry_division")] = None,
) -> dict[str, list[str]]:
    """Filters of an inbound statistic, as ``{dim: [codes]}``."""
    return _collect(locals())


def outbound_filters(
    dest_province: Annotated[str | None, _f("dest_province")] = None,
    dest_prefecture: Annotated[str | None, _f("dest_prefecture")] = None,
    district: Annotated[
        str | None, _f("district", ONE_CODE)
    ] = None,  # the Shanghai investor's: origin side
    industry_section: Annotated[str | None, _f("industry_section")] = None,
    industry_division: Annotated[str | None, _f("industry_division")] = None,
    support_region: Annotated[str | None, _f("support_region")] = None,
) -> dict[str, list[str]]:
    """Filters of an outbound statistic, as ``{dim: [codes]}``."""
    return _collect(locals())


def _collect(values: dict[str, str | None]) -> dict[str, list[str]]:
    return {k: sorted(set(v.split(","))) for k, v in values.items() if v}


FILTERS = {"inbound": inbound_filters, "outbound": outbound_filters}

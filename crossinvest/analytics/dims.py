"""The dimensions a statistic can be grouped by, and which side of an investment each describes.

A dimension describes either the **investor side** (the origin of the qualifying
investors: a group, which an enterprise with investors from two places belongs
to twice) or the **enterprise side** (a property of the invested enterprise, one
value per enterprise). ``district`` — the Shanghai district — is whichever side is
in Shanghai: the invested enterprise for inbound, the Shanghai investor for
outbound.

>>> origin_level("inbound", ["origin_province", "district"])
1
>>> origin_level("outbound", ["district"])
3
>>> parse_dims("origin_province, industry_section")
['origin_province', 'industry_section']
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("inbound", "outbound")


@dataclass(frozen=True)
class Dim:
    name: str
    label: str  # Chinese label for tables and CSV headers


DIMS: dict[str, Dim] = {
    d.name: d
    for d in (
        Dim("origin_province", "来源省份"),
        Dim("origin_prefecture", "来源地市"),
        Dim("district", "上海区"),
        Dim("dest_province", "所在省份"),
        Dim("dest_prefecture", "所在地市"),
        Dim("industry_section", "行业门类"),
        Dim("industry_division", "行业大类"),
        Dim("support_region", "对口支援地区"),
    )
}

# Origin levels: 0 = no origin dimension (the enterprise as a whole), 1 = province,
# 2 = prefecture, 3 = Shanghai district of the investor (outbound only).
ORIGIN_LEVEL = {"origin_province": 1, "origin_prefecture": 2}

UNKNOWN_NAME = "未知"
NO_SUPPORT_NAME = "非对口支援地区"

MEASURES = (
    "enterprises",
    "new_enterprises",
    "investment_wan",
    "tax_wan",
    "revenue_wan",
    "employees",
)
MEASURE_LABELS = {
    "enterprises": "企业数",
    "new_enterprises": "新设企业数",
    "investment_wan": "投资额（万元）",
    "tax_wan": "税收（万元）",
    "revenue_wan": "营业收入（万元）",
    "employees": "从业人员",
}


class DimError(ValueError):
    """An unknown dimension or kind (message in Chinese)."""


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise DimError(f"未知统计类型「{kind}」：应为 inbound（来沪投资）或 outbound（在外地投资）")
    return kind


def parse_dims(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """Split ``a,b`` (or take a list), check every name, keep order, drop repeats."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for raw in parts:
        name = raw.strip()
        if not name:
            continue
        if name not in DIMS:
            raise DimError(f"未知维度「{name}」：应为 {'、'.join(DIMS)} 之一")
        if name not in out:
            out.append(name)
    if not out:
        raise DimError(f"缺少分组维度：--by 应为 {'、'.join(DIMS)} 之一或以逗号分隔的多个")
    return out


def is_origin_dim(kind: str, dim: str) -> bool:
    """Does ``dim`` describe the investor (origin) side for this kind?"""
    return dim in ORIGIN_LEVEL or (dim == "district" and kind == "outbound")


def dim_level(kind: str, dim: str) -> int:
    """The origin level a dimension needs (0 for enterprise-side dimensions)."""
    if dim == "district" and kind == "outbound":
        return 3
    return ORIGIN_LEVEL.get(dim, 0)


def origin_level(kind: str, dims: list[str]) -> int:
    """The finest origin level any of ``dims`` needs."""
    return max((dim_level(kind, d) for d in dims), default=0)

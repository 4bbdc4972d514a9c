"""Enterprise search and profile pages.

The profile shows the linked record exactly as ``crossinvest enterprise USCC
--json`` (registry fields, investors with origin and rule, tax by month, stats
by year, links) plus the ownership chain upward as an ECharts graph.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from crossinvest.access.gate import Gate
from crossinvest.web.datasets.docs import ANCHOR
from crossinvest.web.i18n import t
from crossinvest.web.respond import CurrentActor, answer_page
from crossinvest.web.views.api_enterprises import KEY_PATTERN, LIST_LABELS

router = APIRouter(include_in_schema=False)

# Profile sections by the key the statistics layer uses, with their title keys.
SECTION_TITLES = {
    "enterprise": "profile.registry",
    "penetrated_origins": "profile.penetrated",
    "investors": "profile.investors",
    "tax": "profile.tax",
    "tax_by_month": "profile.tax",
    "stats": "profile.stats",
    "stats_by_year": "profile.stats",
    "links": "profile.links",
}
# Chinese headers of the profile's fields (unknown fields show their key).
FIELD_LABELS = {
    **LIST_LABELS,
    "reg_no": "注册号",
    "entity_type": "企业类型",
    "legal_representative": "法定代表人",
    "currency": "币种",
    "registration_authority": "登记机关",
    "address": "住所",
    "region_source": "区划来源",
    "deregistered_on": "注销日期",
    "investor_name": "股东名称",
    "investor_type": "股东类型",
    "is_person": "自然人",
    "investor_key": "股东代码",
    "origin_code": "来源地代码",
    "origin_name": "来源地",
    "origin_rule": "来源规则",
    "origin_rule_name": "来源判定依据",
    "origin_rule_text": "来源判定依据",
    "industry_name": "行业",
    "location": "所在地",
    "investor_id_type": "股东证照类型",
    "investor_id": "股东证照号码",
    "paid_capital_wan": "实缴出资（万元）",
    "contributed_on": "出资日期",
    "investor_in_registry": "股东在登记库中",
    "kind": "方向",
    "via_person": "经自然人",
    "share": "穿透比例",
    "month": "月份",
    "tax_types": "税种",
    "total_assets_wan": "资产总计（万元）",
    "record_name": "记录名称",
    "record_id": "记录代码",
    "rows": "记录行数",
    "used_in_figures": "计入统计",
    "subscribed_capital_wan": "认缴出资（万元）",
    "share_ratio": "出资比例",
    "investor_region_code": "股东所在行政区划",
    "period": "所属期",
    "link": "关联方式",
    "year": "年度",
    "profit_wan": "利润（万元）",
    "source": "数据源",
    "record_key": "记录键",
    "method": "方法",
    "weight": "匹配权重",
    "reviewer": "审核人",
    "decided_at": "审核时间",
}
SEARCH_COLUMNS = (
    "uscc",
    "name",
    "region_code",
    "industry_code",
    "established_on",
    "registered_capital_wan",
    "status",
)


def _search(g: Gate, lang: str, q: str | None, cursor: str | None) -> tuple[str, dict[str, Any]]:
    data = g.read("search", q=q, cursor=cursor, limit=50) if q else {"rows": [], "next": None}
    nxt = None
    if data["next"]:
        from urllib.parse import urlencode

        nxt = "/enterprises?" + urlencode({"q": q, "cursor": data["next"]})
    return "search.html", {
        "q": q or "",
        "rows": data["rows"],
        "next": nxt,
        "columns": [(c, LIST_LABELS.get(c, c)) for c in SEARCH_COLUMNS],
    }


@router.get("/enterprises")
async def search_page(
    request: Request,
    actor: CurrentActor,
    q: Annotated[str | None, Query(max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return await answer_page(request, actor, lambda g, lang: _search(g, lang, q, cursor))


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A profile row for a table cell each: a nested part (an investor's origin, a region)
    shows by its name, and by the rule that decided it where it has one."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out[f"{k}_name"] = v.get("name") or v.get("code")
            if "rule_text" in v:
                out[f"{k}_rule_text"] = v["rule_text"]
        elif isinstance(v, list):
            out[k] = "、".join(str(x) for x in v)
        else:
            out[k] = v
    return out


def _table(rows: list[dict]) -> dict[str, Any]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols and not isinstance(r[k], (dict, list))]
    return {"columns": cols, "rows": rows}


def _tax_chart(rows: list[dict], lang: str) -> dict[str, Any] | None:
    """Bar chart data from the tax rows: a month column and an amount column."""
    if not rows:
        return None
    keys = list(rows[0])
    month = next((k for k in keys if k in ("period", "month", "ym")), None)
    amount = next((k for k in keys if k.endswith("_wan")), None)
    if month is None or amount is None:
        return None
    series = {"key": amount, "name": t(f"m.{amount}", lang), "data": [r[amount] for r in rows]}
    return {"categories": [str(r[month])[:7] for r in rows], "series": [series]}


def _profile(g: Gate, lang: str, key: str) -> tuple[str, dict[str, Any]]:
    prof = g.read("profile", key=key)
    chain = g.read("chain", key=key)
    sections = []
    facts: dict[str, Any] = {}
    for name, value in prof.items():
        if isinstance(value, dict):
            sections.append(
                {"id": name, "title": t(SECTION_TITLES.get(name, name), lang), "kv": _flat(value)}
            )
        elif isinstance(value, list):
            rows = [_flat(v) if isinstance(v, dict) else {"value": v} for v in value]
            sec = {"id": name, "title": t(SECTION_TITLES.get(name, name), lang), **_table(rows)}
            if name.startswith("tax"):
                sec["chart"] = _tax_chart(rows, lang)
            sections.append(sec)
        else:
            facts[name] = value
    if facts:
        sections.insert(0, {"id": "facts", "title": t("profile.registry", lang), "kv": facts})
    name = next((s["kv"].get("name") for s in sections if "kv" in s and s["kv"].get("name")), key)
    return "enterprise.html", {
        "key": key,
        "name": name,
        "sections": sections,
        "chain": chain,
        "api": f"/api/v1/enterprises/{key}",
        "chain_api": f"/api/v1/enterprises/{key}/chain",
        "anchor": ANCHOR["origin"],
        "chain_anchor": ANCHOR["penetrate"],
        "labels": FIELD_LABELS if lang == "zh" else {},
    }


@router.get("/enterprises/{key}")
async def profile_page(
    request: Request, actor: CurrentActor, key: Annotated[str, Path(pattern=KEY_PATTERN)]
) -> Response:
    return await answer_page(request, actor, lambda g, lang: _profile(g, lang, key))

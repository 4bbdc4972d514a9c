"""总览 page: headline figures of both flows with year-on-year change and trends."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from crossinvest.access.gate import Gate
from crossinvest.web.datasets.docs import ANCHOR
from crossinvest.web.i18n import t
from crossinvest.web.respond import CurrentActor, answer_page

router = APIRouter(include_in_schema=False)

TREND_MEASURES = ("investment_wan", "tax_wan")


def _trend(points: list[dict[str, Any]], lang: str) -> dict[str, Any]:
    return {
        "categories": [p["period"] for p in points],
        "series": [
            {"key": m, "name": t(f"m.{m}", lang), "data": [p.get(m) for p in points]}
            for m in TREND_MEASURES
        ]
        + [
            {
                "key": "enterprises",
                "name": t("m.enterprises", lang),
                "data": [p.get("enterprises") for p in points],
                "axis": 1,
            }
        ],
    }


def build(g: Gate, lang: str, year: int | None, penetrate: bool) -> tuple[str, dict[str, Any]]:
    sections = []
    for kind in ("inbound", "outbound"):
        data = g.read("overview", kind=kind, year=year, penetrate=penetrate)
        q = (
            f"kind={kind}"
            + (f"&year={data['year']}" if data["year"] else "")
            + ("&penetrate=true" if penetrate else "")
        )
        sections.append(
            {
                "kind": kind,
                "data": data,
                "api": f"/api/v1/overview?{q}",
                "by_year": _trend(data["by_year"], lang),
                "by_quarter": _trend(data["by_quarter"], lang),
            }
        )
    shown = sections[0]["data"]["year"]
    return "overview.html", {
        "sections": sections,
        "year": shown,
        "penetrate": penetrate,
        "anchor": ANCHOR["measures"],
        "years": [] if shown is None else list(range(shown, shown - 6, -1)),
    }


@router.get("/")
async def overview_page(
    request: Request,
    actor: CurrentActor,
    year: Annotated[int | None, Query(ge=1950, le=2099)] = None,
    penetrate: bool = False,
) -> Response:
    return await answer_page(request, actor, lambda g, lang: build(g, lang, year, penetrate))

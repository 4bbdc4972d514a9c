"""口径 page and API: the statistical definitions every figure links to."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crossinvest.web.envelope import ok
from crossinvest.web.models import documented
from crossinvest.web.respond import CurrentActor, answer_json, answer_page

router = APIRouter()


@router.get("/definitions", include_in_schema=False)
async def definitions_page(request: Request, actor: CurrentActor) -> Response:
    return await answer_page(
        request, actor, lambda g, lang: ("definitions.html", g.read("definitions"))
    )


@router.get(
    "/api/v1/definitions",
    tags=["definitions 口径"],
    responses=documented(dict[str, Any]),
    summary="statistical definitions",
)
async def definitions_api(request: Request, actor: CurrentActor) -> Response:
    return await answer_json(request, actor, lambda g: ok(g.read("definitions")))

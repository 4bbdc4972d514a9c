"""数据 page: loads, quarantined rows with reasons, freshness, link review queue, upload.

Not cached: it shows the writer's queue, which changes without a new version.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from crossinvest.access.gate import Gate
from crossinvest.web.respond import CurrentActor, answer_page, state_of
from crossinvest.web.views.api_data import BATCH_COLUMNS, LINK_COLUMNS

router = APIRouter(include_in_schema=False)

SOURCE_NAMES = {"registry": "企业登记", "shareholders": "股东出资", "tax": "税收", "stats": "统计"}


def build(
    g: Gate, request: Request, batch: int | None, job: int | None
) -> tuple[str, dict[str, Any]]:
    state = state_of(request)
    ctx: dict[str, Any] = {
        # freshness is the page's floor: whoever may not read it gets 403
        "freshness": g.read("freshness")["rows"],
        "batches": g.read("batches", limit=50)["rows"] if g.allowed("batches") else [],
        "batch_columns": BATCH_COLUMNS[:-1],
        "quarantine": g.read("quarantine", batch=batch, limit=50)
        if g.allowed("quarantine")
        else None,
        "links": g.read("links", limit=50)["rows"] if g.allowed("links") else [],
        "link_columns": LINK_COLUMNS,
        # the writer's queue names files and batches: the office's staff only
        "jobs": [j.as_json() for j in reversed(state.writer.jobs())][:20]
        if g.actor.can("batches")
        else [],
        "highlight_job": job,
        "batch": batch,
        "sources": SOURCE_NAMES,
        "inbox": str(state.home.root / "inbox") if g.actor.can("batches", "write") else "",
        "can_load": g.actor.can("batches", "write"),
    }
    return "data.html", ctx


@router.get("/data")
async def data_page(
    request: Request,
    actor: CurrentActor,
    batch: Annotated[int | None, Query(ge=0)] = None,
    job: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    return await answer_page(
        request, actor, lambda g, lang: build(g, request, batch, job), cache=False
    )

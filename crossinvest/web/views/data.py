"""数据 page: loads, quarantined rows with reasons, freshness, link review queue, upload.

Not cached: it shows the writer's queue, which changes without a new version.

The review queue's 接受 / 拒绝 buttons post to ``/data/links/{id}`` (with the
session's CSRF token in the action URL, checked by ``web.guard``); the decision is
queued on the writer like the API's (``api_data.submit_link_decision``), and the
answer redirects back here, so a reload never repeats it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from crossinvest.access.gate import Gate
from crossinvest.web.envelope import ApiError
from crossinvest.web.i18n import t
from crossinvest.web.respond import CurrentActor, answer_page, state_of
from crossinvest.web.views.api_data import (
    BATCH_COLUMNS,
    LINK_COLUMNS,
    _check_origin,
    submit_link_decision,
)

router = APIRouter(include_in_schema=False)

SOURCE_NAMES = {"registry": "企业登记", "shareholders": "股东出资", "tax": "税收", "stats": "统计"}
# How long the page's decision waits for the writer before redirecting (a decision
# takes well under a second; behind a long load the page says it is queued instead).
DECISION_WAIT_S = 10.0


def link_notice(job: dict[str, Any] | None, lang: str) -> tuple[str, str] | None:
    """(css class, text) saying what became of a link decision job, or None.

    >>> link_notice({"kind": "link", "status": "queued", "job": 3,
    ...              "params": {"link": 7, "decision": "accepted"}}, "zh")
    ('done', '关联 7 的决定已提交（任务 3），完成后刷新本页查看。')
    """
    if not job or job.get("kind") != "link":
        return None
    link, decision = job["params"]["link"], job["params"]["decision"]
    if job["status"] in ("queued", "running"):
        return "done", t("data.link_queued", lang).format(link=link, job=job["job"])
    if job["status"] != "done":
        return "error", t("data.link_failed", lang).format(
            link=link, message=(job.get("error") or {}).get("message", "")
        )
    result = job["result"] or {}
    if result.get("unchanged"):
        return "done", t("data.link_unchanged", lang).format(
            link=link, status=t(f"data.status_{result['status']}", lang)
        )
    text = t(f"data.link_{decision}", lang).format(
        link=link, record=result.get("record_key"), enterprise=result.get("enterprise_key")
    )
    if result.get("others_rejected"):
        text += t("data.link_others", lang).format(n=result["others_rejected"])
    return "done", text


def build(
    g: Gate,
    request: Request,
    lang: str,
    batch: int | None,
    job: int | None,
    missing_link: int | None,
) -> tuple[str, dict[str, Any]]:
    state = state_of(request)
    found = state.writer.job(job) if job is not None and g.actor.can("batches") else None
    notice = link_notice(found.as_json() if found else None, lang)
    if missing_link is not None:
        notice = ("error", t("data.link_missing", lang).format(link=missing_link))
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
        "can_decide": g.actor.can("links", "write"),
        "notice": notice,
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
    missing_link: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Response:
    return await answer_page(
        request,
        actor,
        lambda g, lang: build(g, request, lang, batch, job, missing_link),
        cache=False,
    )


@router.post("/data/links/{link_id}")
async def decide_link_page(
    request: Request,
    actor: CurrentActor,
    link_id: Annotated[int, PathParam(ge=0, le=2**62)],
    decision: Annotated[str, Form(pattern="^(accepted|rejected)$")],
) -> Response:
    """接受 / 拒绝 on the review queue: queue the decision, wait briefly, go back."""
    _check_origin(request)
    try:
        job, _ = await submit_link_decision(
            request, actor, link_id, decision, origin="page", status=303
        )
    except ApiError as e:
        if e.status != 404:
            raise
        return RedirectResponse(f"/data?missing_link={link_id}#links", status_code=303)
    await run_in_threadpool(job.done.wait, DECISION_WAIT_S)
    return RedirectResponse(f"/data?job={job.id}#links", status_code=303)

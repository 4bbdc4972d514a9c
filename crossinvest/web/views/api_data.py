"""JSON API of the data page: loads, quarantine, freshness, links; and writes.

Writes (loading a file, rolling a batch back, deciding a link in the review
queue) never run in the request: they are queued on the server's single writer
thread and answered ``202`` with a job to poll (``GET /api/v1/loads/{job}``).
"""

# No postponed annotations here: routes made in factories use local Annotated aliases,
# which FastAPI must resolve at definition time.

import hmac
import re
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Header, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field

from crossinvest.access.gate import Gate, authorize
from crossinvest.web.envelope import ApiError, json_response, not_found, ok
from crossinvest.web.export import MEDIA, content_disposition, export_bytes
from crossinvest.web.guard import audit_fields
from crossinvest.web.models import Job as JobModel
from crossinvest.web.models import ListData, documented, exported
from crossinvest.web.respond import CurrentActor, answer, answer_json, state_of
from crossinvest.web.views.params import Format, Limit

router = APIRouter(prefix="/api/v1", tags=["data 数据"])

Source = Annotated[str, Query(pattern="^(registry|shareholders|tax|stats)$")]
QUARANTINE_CURSOR = r"^[0-9]{1,18}:[0-9]{1,18}$"

BATCH_COLUMNS = [
    ("batch", "批次"),
    ("source", "数据源"),
    ("file", "文件"),
    ("rows_read", "读取行数"),
    ("rows_loaded", "载入行数"),
    ("rows_rejected", "隔离行数"),
    ("rows_warned", "警告行数"),
    ("status", "状态"),
    ("loaded_at", "载入时间"),
    ("rolled_back_at", "撤销时间"),
    ("sha256", "SHA-256"),
]
QUARANTINE_COLUMNS = [
    ("batch", "批次"),
    ("source", "数据源"),
    ("file", "文件"),
    ("row", "行号"),
    ("reasons_text", "原因"),
    ("raw", "原始内容"),
]
LINK_COLUMNS = [
    ("id", "编号"),
    ("source", "数据源"),
    ("record_key", "记录键"),
    ("record_name", "记录名称"),
    ("enterprise_key", "企业键"),
    ("enterprise_name", "企业名称"),
    ("method", "方法"),
    ("weight", "匹配权重"),
    ("status", "状态"),
]


def _list_meta(data: dict[str, Any], anchor: str = "") -> dict[str, Any]:
    return {
        "next": data["next"],
        "count": len(data["rows"]),
        "definitions": f"/definitions{anchor}",
    }


@router.get("/batches", responses=documented(ListData), summary="every load")
async def batches(
    request: Request,
    actor: CurrentActor,
    source: Source | None = None,
    cursor: Annotated[int | None, Query(ge=0, description="上一页最后的批次号")] = None,
    limit: Limit = 100,
) -> Response:
    def produce(g: Gate) -> dict:
        data = g.read("batches", cursor=cursor, limit=limit, source=source)
        return ok({"rows": data["rows"]}, _list_meta(data))

    return await answer_json(request, actor, produce)


@router.get("/quarantine", responses=documented(ListData), summary="quarantined rows with reasons")
async def quarantine(
    request: Request,
    actor: CurrentActor,
    batch: Annotated[int | None, Query(ge=0)] = None,
    cursor: Annotated[str | None, Query(pattern=QUARANTINE_CURSOR, description="批次:行号")] = None,
    limit: Limit = 100,
) -> Response:
    def produce(g: Gate) -> dict:
        data = g.read("quarantine", batch=batch, cursor=cursor, limit=limit)
        return ok({"rows": data["rows"]}, _list_meta(data))

    return await answer_json(request, actor, produce)


@router.get("/freshness", responses=documented(ListData), summary="freshness per source")
async def freshness(request: Request, actor: CurrentActor) -> Response:
    return await answer_json(request, actor, lambda g: ok({"rows": g.read("freshness")["rows"]}))


@router.get("/links", responses=documented(ListData), summary="record links (review queue)")
async def links(
    request: Request,
    actor: CurrentActor,
    status: Annotated[str, Query(pattern="^(review|auto|accepted|rejected)$")] = "review",
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
    limit: Limit = 100,
) -> Response:
    def produce(g: Gate) -> dict:
        data = g.read("links", status=status, cursor=cursor, limit=limit)
        return ok({"rows": data["rows"]}, _list_meta(data))

    return await answer_json(request, actor, produce)


EXPORTS = {
    "batches": (BATCH_COLUMNS, {}),
    "quarantine": (QUARANTINE_COLUMNS, {}),
    "links": (LINK_COLUMNS, {"status": "review"}),
}


def _register_export(table: str) -> None:
    columns, params = EXPORTS[table]
    Batch = Annotated[int | None, Query(ge=0, description="只导出该批次（隔离行）")]

    @router.get(
        f"/{table}/export",
        summary=f"export {table} as CSV or XLSX",
        operation_id=f"{table}_export",
        responses=exported(),
    )
    async def export_table(
        request: Request, actor: CurrentActor, format: Format = "csv", batch: Batch = None
    ) -> Response:
        def produce(g: Gate) -> bytes:
            extra = {"batch": batch} if table == "quarantine" else dict(params)
            rows: list[dict] = []
            cursor: Any = None
            while True:  # every page: an export is the whole table
                data = g.read(table, "export", cursor=cursor, limit=1000, **extra)
                rows += data["rows"]
                if data["next"] is None:
                    break
                cursor = int(data["next"]) if table == "batches" else data["next"]
            for r in rows:
                if "reasons" in r:
                    r["reasons_text"] = "；".join(
                        f"{x['column']}：{x['reason']}" for x in r["reasons"]
                    )
            return export_bytes(format, columns, rows)

        return await answer(
            request,
            actor,
            produce,
            media_type=MEDIA[format],
            cache=False,
            headers={"Content-Disposition": content_disposition(table, format)},
        )


for _table in EXPORTS:
    _register_export(_table)


# --- writes -------------------------------------------------------------------------


class LoadRequest(BaseModel):
    source: str = Field(pattern="^(registry|shareholders|tax|stats)$")
    path: str = Field(min_length=1, max_length=4096, description="服务器本机上的文件路径")
    strict: bool = False


def _same_machine(request: Request) -> bool:
    client = request.client.host if request.client else ""
    server = (request.scope.get("server") or ("",))[0]
    return client in ("127.0.0.1", "::1", "localhost", "testclient") or client == server


def _check_origin(request: Request) -> None:
    """A browser form post must come from our own pages (no cross-site posts)."""
    origin = request.headers.get("origin")
    if origin and origin.split("://", 1)[-1] != request.headers.get("host", ""):
        raise ApiError(403, "forbidden", "跨站请求被拒绝", "cross-site request refused")


def _accepted(job: Any) -> Response:
    return json_response(ok(job.as_json(), {"next": f"/api/v1/loads/{job.id}"}), 202)


@router.post(
    "/loads",
    status_code=202,
    responses=documented(JobModel),
    summary="load a file on the server (CLI)",
)
async def submit_load(
    request: Request,
    actor: CurrentActor,
    body: LoadRequest,
    x_crossinvest_token: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    """The command line's hand-over: the token in server.json proves the caller is on this machine."""
    state = state_of(request)
    if not (x_crossinvest_token and hmac.compare_digest(x_crossinvest_token, state.token)):
        raise ApiError(
            403, "forbidden", "令牌无效：请用本机的 crossinvest 命令提交", "invalid server token"
        )
    if not _same_machine(request):
        raise ApiError(
            403, "forbidden", "只接受本机提交的路径", "paths are accepted from this machine only"
        )
    authorize(actor, "batches", "write")
    path = Path(body.path)
    if not path.is_file():
        raise ApiError(
            400, "bad_request", f"文件 {path}：不存在或不是文件", "file not found on the server"
        )
    return _accepted(state.writer.submit_load(body.source, path, strict=body.strict, origin="cli"))


_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff（）()]+")


@router.post(
    "/loads/upload", status_code=202, responses=documented(JobModel), summary="upload a delivery"
)
async def upload(
    request: Request,
    actor: CurrentActor,
    source: Annotated[str, Form(pattern="^(registry|shareholders|tax|stats)$")],
    file: Annotated[UploadFile, File(description="CSV、TSV 或 XLSX")],
    strict: Annotated[bool, Form()] = False,
) -> Response:
    _check_origin(request)
    authorize(actor, "batches", "write")
    state = state_of(request)
    name = _SAFE_NAME.sub("_", Path(file.filename or "upload").name).strip("._") or "upload"
    folder = state.home.tmp / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / name
    with target.open("wb") as out:
        shutil.copyfileobj(file.file, out, 1 << 20)
    job = state.writer.submit_load(
        source,
        target,
        strict=strict,
        origin="upload",
        on_done=lambda _job: shutil.rmtree(folder, ignore_errors=True),
    )
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(f"/data?job={job.id}", status_code=303)
    return _accepted(job)


@router.post(
    "/batches/{batch}/rollback",
    status_code=202,
    responses=documented(JobModel),
    summary="undo one load",
)
async def rollback(
    request: Request,
    actor: CurrentActor,
    batch: Annotated[int, PathParam(ge=0)],
    x_crossinvest_token: Annotated[str | None, Header(max_length=200)] = None,
) -> Response:
    _check_origin(request)
    authorize(actor, "batches", "write")
    state = state_of(request)
    return _accepted(
        state.writer.submit_rollback(batch, origin="cli" if x_crossinvest_token else "api")
    )


class LinkDecision(BaseModel):
    """An analyst's decision on a link of the review queue."""

    decision: Literal["accepted", "rejected"] = Field(
        description="accepted 接受（同一记录的其他候选随之拒绝）或 rejected 拒绝"
    )


async def submit_link_decision(
    request: Request, actor: Any, link_id: int, decision: str, *, origin: str, status: int
) -> tuple[Any, Response]:
    """Authorise, check the link exists, queue the decision on the writer, audit it.

    Returns the job and its ``202`` envelope. The audit row is this request's one row,
    under the event ``decide`` with the decision in its detail (``status``: what the
    caller answers, 202 for the API, 303 for the page's redirect).
    """
    authorize(actor, "links", "write")
    state = state_of(request)
    jobs: list[Any] = []

    def produce(g: Gate) -> dict:
        found = g.read("link", link_id=link_id)
        if found is None:
            raise not_found(f"关联 {link_id} 不存在", f"link {link_id} not found")
        jobs.append(state.writer.submit_link_decision(link_id, decision, actor.id, origin=origin))
        return ok(jobs[0].as_json(), {"next": f"/api/v1/loads/{jobs[0].id}"})

    resp = await answer_json(request, actor, produce, cache=False)
    resp.status_code = 202
    job = jobs[0]
    _, fields = audit_fields(request.scope, request, status)
    fields["detail"] = {"link": link_id, "decision": decision, "job": job.id}
    request.app.state.access.audit("decide", **fields)
    request.state.ci_audited = True
    return job, resp


@router.post(
    "/links/{link_id}/decision",
    status_code=202,
    responses=documented(JobModel),
    summary="accept or reject a link of the review queue",
)
async def decide_link(
    request: Request,
    actor: CurrentActor,
    link_id: Annotated[int, PathParam(ge=0, le=2**62, description="关联编号")],
    body: LinkDecision,
) -> Response:
    """接受或拒绝一个待审核关联：写入由服务器的单一写入线程执行，答复 202 及任务
    （``GET /api/v1/loads/{job}``）。任务结果即 ``crossinvest links accept|reject --json``
    的输出；对已是该状态的关联，结果为 ``unchanged: true``。"""
    _check_origin(request)
    _, resp = await submit_link_decision(
        request, actor, link_id, body.decision, origin="api", status=202
    )
    return resp


@router.get("/loads", responses=documented(ListData), summary="write jobs of this server run")
async def jobs(request: Request, actor: CurrentActor) -> Response:
    authorize(actor, "batches", "read")
    rows = [j.as_json() for j in reversed(state_of(request).writer.jobs())]
    return json_response(ok({"rows": rows}, {"count": len(rows)}))


@router.get("/loads/{job}", responses=documented(JobModel), summary="one write job")
async def job(
    request: Request, actor: CurrentActor, job: Annotated[int, PathParam(ge=0)]
) -> Response:
    authorize(actor, "batches", "read")
    found = state_of(request).writer.job(job)
    if found is None:
        raise not_found(f"任务 {job} 不存在", f"job {job} not found")
    return json_response(ok(found.as_json()))

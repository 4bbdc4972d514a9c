"""OpenAPI shapes of the envelope and its data, and the shared query parameters.

Answers are serialised by hand (``envelope.dumps``) for speed; these models
document them, and schemathesis checks that every answer conforms.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")
    generated_at: str
    definitions: str
    next: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    message_en: str
    details: Any = None


class Envelope(BaseModel, Generic[T]):
    ok: bool
    data: T | None
    meta: Meta
    error: ErrorBody | None


class ErrorEnvelope(BaseModel):
    ok: bool
    data: None
    meta: Meta
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorEnvelope, "description": "请求参数有误 / bad request"},
    401: {
        "model": ErrorEnvelope,
        "description": "需要登录或 API 密钥 / sign-in or API key required",
    },
    403: {"model": ErrorEnvelope, "description": "无权访问 / forbidden"},
    404: {"model": ErrorEnvelope, "description": "未找到 / not found"},
}


def documented(model: Any, *extra: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route answering ``Envelope[model]``, plus the error statuses."""
    out: dict[int | str, dict[str, Any]] = {200: {"model": Envelope[model]}}  # type: ignore[valid-type]
    out.update(ERRORS)
    for status in extra:
        out[status] = {"model": ErrorEnvelope}
    return out


def exported() -> dict[int | str, dict[str, Any]]:
    """``responses=`` for an export route: CSV or XLSX, or an error envelope."""
    content = {
        "text/csv; charset=utf-8": {"schema": {"type": "string"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
            "schema": {"type": "string", "format": "binary"}
        },
    }
    return {200: {"content": content, "description": "CSV（UTF-8 BOM）或 XLSX"}, **ERRORS}


Row = dict[str, Any]


class StatsData(BaseModel):
    kind: str
    period: str
    reference_date: str
    by: list[str]
    penetrate: bool
    include_persons: bool
    filters: dict[str, list[str]]
    rows: list[Row]
    total: Row


class ListData(BaseModel):
    rows: list[Row]


class Job(BaseModel):
    job: int
    kind: str
    origin: str
    params: dict[str, Any]
    status: str
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    submitted_at: str | None
    started_at: str | None
    finished_at: str | None

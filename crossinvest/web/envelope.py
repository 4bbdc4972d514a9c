"""The one JSON envelope every API answer uses, and the errors that fill it.

Success::

    {"ok": true, "data": ..., "meta": {"generated_at": ..., "version": N,
     "definitions": "/definitions#...", "next": null, ...}, "error": null}

Failure (4xx for bad input, never a 500 for any input)::

    {"ok": false, "data": null, "meta": {...}, "error": {"code": "bad_request",
     "message": "中文说明", "message_en": "English", "details": ...}}
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from crossinvest.access.gate import Forbidden


class ApiError(Exception):
    """An error the API answers with ``status`` and an error envelope."""

    def __init__(self, status: int, code: str, message: str, message_en: str, details: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.message_en = message_en
        self.details = details


def bad_request(message: str, message_en: str, details: Any = None) -> ApiError:
    return ApiError(400, "bad_request", message, message_en, details)


def not_found(message: str, message_en: str) -> ApiError:
    return ApiError(404, "not_found", message, message_en)


def _default(o: Any) -> Any:
    if isinstance(o, dt.datetime):
        return o.isoformat(timespec="seconds")
    if isinstance(o, dt.date):
        return o.isoformat()
    if isinstance(o, decimal.Decimal):
        return float(o)
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _finite(o: Any) -> Any:
    """NaN/inf are not JSON: they become null (rare; DuckDB can produce NaN from 0/0)."""
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_finite(v) for v in o]
    return o


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON, Chinese unescaped."""
    try:
        text = json.dumps(
            obj, ensure_ascii=False, separators=(",", ":"), default=_default, allow_nan=False
        )
    except ValueError:
        text = json.dumps(
            _finite(obj),
            ensure_ascii=False,
            separators=(",", ":"),
            default=_default,
            allow_nan=False,
        )
    return text.encode("utf-8")


def now_iso() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def ok(data: Any, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The success envelope (a dict; ``dumps`` it)."""
    base = {"generated_at": now_iso(), "definitions": "/definitions", "next": None}
    base.update(meta or {})
    return {"ok": True, "data": data, "meta": base, "error": None}


def fail(err: ApiError, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    error = {"code": err.code, "message": err.message, "message_en": err.message_en}
    if err.details is not None:
        error["details"] = err.details
    base = {"generated_at": now_iso(), "definitions": "/definitions", "next": None}
    base.update(meta or {})
    return {"ok": False, "data": None, "meta": base, "error": error}


JSON_MEDIA = "application/json"


def json_response(payload: dict[str, Any] | bytes, status: int = 200) -> Response:
    body = payload if isinstance(payload, bytes) else dumps(payload)
    return Response(body, status_code=status, media_type=JSON_MEDIA)


# --- exception handlers: every error of an API path becomes an envelope ---------

_STATUS_CODES = {
    400: ("bad_request", "请求参数有误", "bad request"),
    401: ("unauthorized", "需要登录", "sign-in required"),
    403: ("forbidden", "无权访问", "forbidden"),
    404: ("not_found", "未找到", "not found"),
    405: ("method_not_allowed", "不支持该请求方法", "method not allowed"),
    406: ("not_acceptable", "不支持该格式", "not acceptable"),
    409: ("conflict", "请求与当前状态冲突", "conflict"),
    413: ("too_large", "上传内容过大", "payload too large"),
    415: ("unsupported_media_type", "不支持的内容类型", "unsupported media type"),
    422: ("bad_request", "请求参数有误", "invalid parameters"),
    503: ("unavailable", "服务暂不可用", "service unavailable"),
}


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


async def api_error_handler(request: Request, exc: ApiError) -> Response:
    if _wants_html(request):
        from crossinvest.web.render import error_page

        return error_page(request, exc.status, exc.message, exc.message_en)
    return json_response(fail(exc), exc.status)


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> Response:
    code, zh, en = _STATUS_CODES.get(exc.status_code, ("error", "请求失败", "request failed"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in (zh, en) else None
    err = ApiError(exc.status_code, code, zh, en if detail is None else f"{en}: {detail}")
    resp = await api_error_handler(request, err)
    for k, v in (exc.headers or {}).items():
        resp.headers[k] = v
    return resp


async def validation_error_handler(request: Request, exc: RequestValidationError) -> Response:
    details = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    names = "、".join(d["loc"][-1] for d in details if d["loc"]) or "?"
    err = bad_request(f"参数 {names} 无效", f"invalid parameter(s): {names}", details)
    return await api_error_handler(request, err)


async def forbidden_handler(request: Request, exc: Forbidden) -> Response:
    return await api_error_handler(request, ApiError(403, "forbidden", str(exc), exc.message_en))


async def unexpected_handler(request: Request, exc: Exception) -> Response:
    # A bug, never an input problem; the envelope still holds and the log keeps the trace.
    import logging

    logging.getLogger("crossinvest.web").exception("unhandled error on %s", request.url.path)
    err = ApiError(500, "internal", "服务器内部错误，已记录日志", "internal error (logged)")
    return await api_error_handler(request, err)


def install_handlers(app: Any) -> None:
    app.add_exception_handler(ApiError, api_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Forbidden, forbidden_handler)
    app.add_exception_handler(Exception, unexpected_handler)

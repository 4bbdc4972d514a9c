"""Jinja2 rendering: the environment, number formats, and the error page."""

from __future__ import annotations

import json
import math
from functools import cache, partial
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from crossinvest.web.i18n import lang_of, t

TEMPLATES = Path(__file__).parent / "templates"


def fmt_num(value: Any, digits: int = 0) -> str:
    """Thousands-separated number; ``—`` for unknown or suppressed.

    >>> fmt_num(1234567.891, 2), fmt_num(None), fmt_num(12)
    ('1,234,567.89', '—', '12')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if isinstance(value, int) and digits == 0:
        return f"{value:,}"
    return f"{float(value):,.{digits}f}"


def fmt_pct(value: Any) -> str:
    """A ratio as a signed percentage: 0.123 -> '+12.3%'."""
    if value is None:
        return "—"
    return f"{value * 100:+.1f}%"


def to_json(value: Any) -> Markup:
    """JSON safe to put inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def with_query(request: Request, **changes: Any) -> str:
    """The current URL with query parameters changed (``None`` removes one)."""
    params = dict(request.query_params)
    params.pop("lang", None)
    for k, v in changes.items():
        if v is None or v is False:
            params.pop(k, None)
        else:
            params[k] = "1" if v is True else str(v)
    from urllib.parse import urlencode

    q = urlencode(params)
    return request.url.path + ("?" + q if q else "")


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_num
    env.filters["pct"] = fmt_pct
    env.filters["tojson_safe"] = to_json
    from crossinvest.access.audit import local_time

    env.filters["bjt"] = local_time  # stored UTC times shown in Beijing time
    return env


# (label key, href, the permission that shows it): a page an actor may not
# read is not offered (it would answer 403 anyway).
NAV = (
    ("overview", "/", "stats"),
    ("inbound", "/inbound", "stats"),
    ("outbound", "/outbound", "stats"),
    ("enterprises", "/enterprises", "enterprise"),
    ("data", "/data", "batches"),
    ("catalogue", "/catalogue", "catalogue"),
    ("usage", "/usage", "usage"),
    ("admin", "/admin", "admin"),
    ("definitions", "/definitions", "definitions"),
)


def _csrf_of(request: Request) -> str:
    """The session's CSRF token, for forms that change something (``?csrf_token=``)."""
    res = request.scope.get("state", {}).get("ci_resolution")
    return (res.csrf if res is not None else None) or ""


def render(request: Request, name: str, ctx: dict[str, Any], lang: str, actor: Any) -> str:
    """Render template ``name`` with the shared page context."""
    base = {
        "request": request,
        "lang": lang,
        "t": partial(t, lang=lang),
        "actor": actor,
        "nav": [(k, href) for k, href, guard in NAV if actor.can(guard)],
        "csrf": _csrf_of(request),
        "path": request.url.path,
        "with_query": partial(with_query, request),
        "other_lang": "en" if lang == "zh" else "zh",
    }
    base.update(ctx)
    return environment().get_template(name).render(**base)


def error_page(request: Request, status: int, message: str, message_en: str) -> HTMLResponse:
    lang = lang_of(request)
    from crossinvest.access.actor import resolve_actor

    html = render(
        request,
        "error.html",
        {"status": status, "message": message_en if lang == "en" else message, "page": None},
        lang,
        resolve_actor(request),
    )
    return HTMLResponse(html, status_code=status)

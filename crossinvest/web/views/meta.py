"""``/api/v1/health`` for monitoring: warehouse version, writer queue, cache counts."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from crossinvest.web.envelope import json_response, ok
from crossinvest.web.models import documented
from crossinvest.web.respond import state_of

router = APIRouter(prefix="/api/v1", tags=["meta"])


@router.get("/health", responses=documented(dict[str, Any]), summary="server health")
async def health(request: Request) -> Response:
    state = state_of(request)
    data = {
        "status": "ok",
        "warehouse_version": state.cache.version,
        "writer_pending": state.writer.pending(),
        "warming_up": state.warming,
        # Upkeep the writer runs for no one's request (the search's name index).
        "upkeep_running": state.writer.upkeep_running(),
        "uptime_s": round(time.time() - state.started_at, 1),
        "cache": {"hits": state.cache.hits, "misses": state.cache.misses},
    }
    return json_response(ok(data))

"""``GET /api/v1/me``: who the server takes the requester for."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from crossinvest.web.envelope import json_response, ok
from crossinvest.web.models import documented
from crossinvest.web.respond import CurrentActor

router = APIRouter(prefix="/api/v1", tags=["access 权限"])


@router.get("/me", responses=documented(dict[str, Any]), summary="who the server takes you for")
async def me(actor: CurrentActor) -> Response:
    return json_response(ok(actor.as_json()))

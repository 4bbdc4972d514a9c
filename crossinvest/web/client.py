"""Handing a load to a running server, for the command line.

DuckDB lets one process write. While ``crossinvest serve`` runs it holds the
warehouse, so ``crossinvest ingest`` (on ``WarehouseBusy``) posts the file's
path and the server's per-start token to the server over loopback, and waits
for the server's writer thread to finish the load. Standard library only.

>>> # doctest: +SKIP
>>> submit_load(current_home(), "tax", Path("tax.csv"), strict=False)["rows_loaded"]
687
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from crossinvest.config import Home


class ServerUnavailable(RuntimeError):
    """No running server to hand the load to (no server.json, or it does not answer)."""


class LoadRefusedByServer(RuntimeError):
    """The server refused the file as a whole; nothing was loaded (``ingest`` exit 2)."""


class LoadFailed(RuntimeError):
    """The server's load failed unexpectedly; the warehouse is unchanged."""


def _server_info(home: Home) -> dict[str, Any]:
    from crossinvest.web.server import server_file

    try:
        return json.loads(server_file(home).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ServerUnavailable(f"没有运行中的 crossinvest serve（{server_file(home)}）") from e


def _call(
    url: str, token: str, method: str = "GET", body: dict | None = None, timeout: float = 30
) -> dict:
    data = None if body is None else json.dumps(body).encode("utf-8")
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("X-Crossinvest-Token", token)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        try:
            return json.loads(e.read().decode("utf-8"))
        except ValueError:
            raise ServerUnavailable(f"服务返回 HTTP {e.code}") from e
    except (urllib.error.URLError, OSError) as e:
        raise ServerUnavailable(f"无法连接 crossinvest serve（{url}）：{e}") from e


def submit_load(
    home: Home, source: str, path: Path, strict: bool = False, *, timeout: float | None = None
) -> dict[str, Any]:
    """Load ``path`` through the running server; return the ingest JSON of contract.md.

    Raises ``ServerUnavailable`` (no server), ``LoadRefusedByServer`` (file refused,
    message in Chinese) or ``LoadFailed``.
    """
    info = _server_info(home)
    base, token = info["url"], info["token"]
    answer = _call(
        f"{base}/api/v1/loads",
        token,
        "POST",
        {"source": source, "path": str(Path(path).resolve()), "strict": strict},
    )
    if not answer.get("ok"):
        err = answer.get("error") or {}
        raise LoadRefusedByServer(err.get("message") or "服务拒绝了该文件")
    job = answer["data"]
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.05
    while job["status"] in ("queued", "running"):
        if deadline is not None and time.monotonic() > deadline:
            raise LoadFailed(f"等待载入任务 {job['job']} 超时")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)
        job = _call(f"{base}/api/v1/loads/{job['job']}", token)["data"]
    if job["status"] == "done":
        return job["result"]
    message = (job.get("error") or {}).get("message") or job["status"]
    if job["status"] == "refused":
        raise LoadRefusedByServer(message)
    raise LoadFailed(message)

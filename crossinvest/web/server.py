"""``crossinvest serve``: run the web application with uvicorn.

The server binds its socket first, then writes ``CROSSINVEST_HOME/server.json``
(address, pid and a token made fresh at every start, mode 0600) so that the
command line, finding the warehouse locked, can hand a load to it over
loopback (``web.client.submit_load``). The file is removed when the server stops.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from pathlib import Path
from typing import Any

from crossinvest.config import Home, current_home

SERVER_FILE = "server.json"


def server_file(home: Home) -> Path:
    return home.root / SERVER_FILE


def _loopback_url(host: str, port: int) -> str:
    # A wildcard bind is reached over loopback; a specific address as itself.
    if host in ("0.0.0.0", "", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def write_server_file(home: Home, host: str, port: int, token: str) -> dict[str, Any]:
    info = {
        "url": _loopback_url(host, port),
        "host": host,
        "port": port,
        "pid": os.getpid(),
        "token": token,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    path = server_file(home)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    return info


def remove_server_file(home: Home, token: str) -> None:
    """Remove server.json if it is still ours (a newer server may have replaced it)."""
    path = server_file(home)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("token") == token:
            path.unlink()
    except (OSError, ValueError):
        pass


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class UnsafeSettings(RuntimeError):
    """The settings would expose data to the network without sign-in."""


def check_open_access(home: Home, host: str) -> None:
    """Refuse ``anonymous_role`` (no sign-in) on any address other than loopback."""
    role = home.settings().get("anonymous_role")
    if role and host not in ("127.0.0.1", "::1", "localhost"):
        raise UnsafeSettings(
            f"设置 anonymous_role={role!r} 让未登录的请求以该角色访问，只允许在本机地址上服务；"
            f"请从 {home.settings_file} 删除该设置并用 crossinvest users add 开设账户，"
            f"或改用 --host 127.0.0.1"
        )


def serve(
    home: Home | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    log_level: str = "warning",
    on_ready: Any = None,
) -> None:
    """Serve until interrupted. ``port=0`` picks a free port (written to server.json)."""
    import uvicorn

    from crossinvest.web.app import create_app

    home = (home or current_home()).ensure()
    check_open_access(home, host)
    token = secrets.token_urlsafe(24)
    sock = bind(host, port)
    actual_port = sock.getsockname()[1]
    app = create_app(home, token=token, warm=True)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, timeout_graceful_shutdown=10
    )
    server = uvicorn.Server(config)
    info = write_server_file(home, host, actual_port, token)
    if on_ready is not None:
        on_ready(info)
    try:
        server.run(sockets=[sock])
    finally:
        remove_server_file(home, token)
        sock.close()


def main(argv: list[str] | None = None) -> int:
    """``python -m crossinvest.web.server``: the same server as ``crossinvest serve``."""
    import argparse

    ap = argparse.ArgumentParser(description="crossinvest 网页与接口服务")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args(argv)
    serve(
        host=args.host,
        port=args.port,
        on_ready=lambda info: print(f"crossinvest 已启动：{info['url']}/", flush=True),
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())

"""Browser fixtures: a real ``crossinvest serve`` on demo-like data, and Debian's chromium.

Playwright drives ``/usr/bin/chromium`` (Debian's package, never a downloaded
browser); the server is the command users run, on a copy of the demo warehouse.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from crossinvest.web.testing import demo_home

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


# Accounts in the browser server's home (the analysts' pages need none: the home
# runs as a workstation, but a session, once signed in, takes precedence).
PASSWORD = "Browser-test-2026"
ACCOUNTS = {"b-admin": "admin", "b-district": "district", "b-agency": "agency"}


def _accounts(home) -> str:  # type: ignore[no-untyped-def]
    """Create ``ACCOUNTS``; return the district given to the district account."""
    from crossinvest.access.accounts import create_user
    from crossinvest.access.store import open_store
    from crossinvest.warehouse.connection import connect

    with connect(home) as wh:
        district = wh.con.execute(
            "SELECT region_code FROM registry WHERE region_code LIKE '31%' "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()[0]
    con = open_store(home)
    for name, role in ACCOUNTS.items():
        create_user(con, name, role=role, password=PASSWORD, org=f"单位{name}",
                    districts=[district] if role == "district" else None)  # fmt: skip
    con.close()
    return district


@pytest.fixture(scope="session")
def district(server: str) -> str:
    return server.district  # type: ignore[attr-defined]


class ServerURL(str):
    district: str


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a running server over a copy of the demo warehouse."""
    home = demo_home(tmp_path_factory.mktemp("browser") / "home")
    district = _accounts(home)
    env = dict(os.environ, CROSSINVEST_HOME=str(home.root))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossinvest.web.server", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    info = home.root / "server.json"
    deadline = time.monotonic() + 120
    while not info.exists():
        if proc.poll() is not None:
            raise RuntimeError(
                f"crossinvest serve exited: {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("crossinvest serve did not start in 120 s")
        time.sleep(0.1)
    url = ServerURL(json.loads(info.read_text())["url"])
    url.district = district
    try:
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "chromium missing: apt-get install -y chromium fonts-noto-cjk (make system-deps)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", accept_downloads=True
    )
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    ctx.close()


def screenshot(pg, name: str) -> Path:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=True)
    return path

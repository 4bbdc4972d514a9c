"""Loads while serving: the writer thread, MVCC reads, cache invalidation, hand-over, inbox.

The central test holds a load inside its transaction (a plugin blocks in
``after_load``) and checks that the server keeps answering with the figures
from before the load, then with the new ones once it commits. The added tax is
known in advance, so the expected figure is computed here, not by the server.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crossinvest.config import Home
from crossinvest.hooks import hookimpl
from crossinvest.plugins import get_plugin_manager
from crossinvest.web.app import create_app
from crossinvest.web.client import LoadRefusedByServer, ServerUnavailable, submit_load
from crossinvest.web.inbox import InboxWatcher
from crossinvest.web.state import ServerState
from crossinvest.web.testing import demo_home, open_workstation

TAX_HEADER = "纳税人识别号,纳税人名称,税款所属期,税种,实缴税额\n"
ADDED_YUAN = 123456.78  # tax delivered in 元; the figures are in 万元


@pytest.fixture
def demo(tmp_path: Path) -> Home:
    return demo_home(tmp_path / "home")


def wait_job(client: TestClient, job: int, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = client.get(f"/api/v1/loads/{job}").json()["data"]
        if data["status"] not in ("queued", "running"):
            return data
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not finish")


def an_inbound_enterprise(client: TestClient, year: int) -> dict:
    rows = client.get(
        "/api/v1/stats/inbound/enterprises", params={"period": year, "limit": 50}
    ).json()["data"]["rows"]
    return next(r for r in rows if r["uscc"])


def tax_file(path: Path, ent: dict, year: int) -> Path:
    path.write_text(
        TAX_HEADER + f"{ent['uscc']},{ent['name']},{year}-06,印花税,{ADDED_YUAN}\n",
        encoding="utf-8",
    )
    return path


def total(client: TestClient, year: int, by: str = "district") -> dict:
    r = client.get("/api/v1/stats/inbound", params={"period": year, "by": by})
    assert r.status_code == 200, r.text
    return r.json()["data"]["total"]


class HoldLoad:
    """A plugin that stops every load inside its transaction until released."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def after_load(self, con, batch) -> None:  # type: ignore[no-untyped-def]
        self.entered.set()
        assert self.release.wait(120), "test never released the load"


def test_reads_during_a_load_see_the_old_figures_then_the_new(demo: Home, tmp_path: Path) -> None:
    hold = HoldLoad()
    pm = get_plugin_manager()
    with TestClient(create_app(demo, inbox_interval=None)) as client:
        year = client.get("/api/v1/latest-year").json()["data"]["year"]
        ent = an_inbound_enterprise(client, year)
        before = total(client, year)
        assert total(client, year) == before  # second answer from the cache
        path = tax_file(tmp_path / "extra_tax.csv", ent, year)
        pm.register(hold, name="test-hold-load")
        try:
            with path.open("rb") as f:
                r = client.post(
                    "/api/v1/loads/upload", data={"source": "tax"}, files={"file": (path.name, f)}
                )
            assert r.status_code == 202, r.text
            job = r.json()["data"]["job"]
            assert hold.entered.wait(120)
            # mid-load: the load has written its rows but not committed
            health = client.get("/api/v1/health").json()["data"]
            assert health["warehouse_version"] % 2 == 1
            assert total(client, year) == before
            during = total(client, year, by="industry_section")  # computed now, not cached
            assert during["tax_wan"] == pytest.approx(before["tax_wan"])
            assert client.get(f"/api/v1/loads/{job}").json()["data"]["status"] == "running"
        finally:
            hold.release.set()
            pm.unregister(hold)
        done = wait_job(client, job)
        assert done["status"] == "done" and done["result"]["rows_loaded"] == 1
        after = total(client, year)
        assert after["tax_wan"] == pytest.approx(before["tax_wan"] + ADDED_YUAN / 10000)
        assert total(client, year, by="industry_section")["tax_wan"] == pytest.approx(
            after["tax_wan"]
        )
        assert after["enterprises"] == before["enterprises"]
        batches = client.get("/api/v1/batches", params={"limit": 1}).json()["data"]["rows"]
        assert (
            batches[0]["batch"] == done["result"]["batch"] and batches[0]["file"] == "extra_tax.csv"
        )

        # rolling the load back (through the same writer) restores the figures
        r = client.post(f"/api/v1/batches/{done['result']['batch']}/rollback")
        assert r.status_code == 202
        assert wait_job(client, r.json()["data"]["job"])["status"] == "done"
        assert total(client, year)["tax_wan"] == pytest.approx(before["tax_wan"])


def test_refused_upload_reports_why_and_changes_nothing(demo: Home, samples: Path) -> None:
    with TestClient(create_app(demo, inbox_interval=None)) as client:
        n = len(client.get("/api/v1/batches", params={"limit": 1000}).json()["data"]["rows"])
        path = samples / "bad_missing_column.csv"
        with path.open("rb") as f:
            r = client.post(
                "/api/v1/loads/upload", data={"source": "tax"}, files={"file": (path.name, f)}
            )
        job = wait_job(client, r.json()["data"]["job"])
        assert job["status"] == "refused"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in job["error"]["message"])
        assert (
            len(client.get("/api/v1/batches", params={"limit": 1000}).json()["data"]["rows"]) == n
        )
        page = client.get("/data", headers={"accept": "text/html"})
        assert page.status_code == 200 and job["error"]["message"][:10] in page.text


def test_path_loads_need_the_server_token(demo: Home, tmp_path: Path) -> None:
    with TestClient(create_app(demo, inbox_interval=None)) as client:
        year = client.get("/api/v1/latest-year").json()["data"]["year"]
        path = tax_file(tmp_path / "t.csv", an_inbound_enterprise(client, year), year)
        body = {"source": "tax", "path": str(path)}
        assert client.post("/api/v1/loads", json=body).status_code == 403
        assert (
            client.post(
                "/api/v1/loads", json=body, headers={"X-Crossinvest-Token": "nope"}
            ).status_code
            == 403
        )
        token = client.app.state.ci.token
        r = client.post("/api/v1/loads", json=body, headers={"X-Crossinvest-Token": token})
        assert r.status_code == 202
        assert wait_job(client, r.json()["data"]["job"])["result"]["rows_loaded"] == 1
        missing = client.post(
            "/api/v1/loads",
            json=body | {"path": str(tmp_path / "none.csv")},
            headers={"X-Crossinvest-Token": token},
        )
        assert missing.status_code == 400


def test_cross_site_upload_is_refused(demo: Home, tmp_path: Path) -> None:
    with TestClient(create_app(demo, inbox_interval=None)) as client:
        r = client.post(
            "/api/v1/loads/upload",
            data={"source": "tax"},
            files={"file": ("t.csv", TAX_HEADER.encode())},
            headers={"Origin": "http://evil.example"},
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"


def test_inbox_loads_files_that_hold_still(demo: Home, tmp_path: Path) -> None:
    state = ServerState.open(demo, inbox_interval=None)
    try:
        with TestClient(create_app(state=state)) as client:
            year = client.get("/api/v1/latest-year").json()["data"]["year"]
            ent = an_inbound_enterprise(client, year)
        watcher = InboxWatcher(demo.root / "inbox", state.writer, interval=3600)
        dropped = tax_file(demo.root / "inbox" / "tax" / "drop.csv", ent, year)
        (demo.root / "inbox" / "tax" / "notes.doc").write_text("ignored")
        assert watcher.scan_once() == []  # first sight: wait for it to hold still
        jobs = watcher.scan_once()
        assert len(jobs) == 1 and not dropped.exists()
        assert jobs[0].done.wait(120) and jobs[0].status == "done"
        loaded = demo.root / "inbox" / "tax" / "loaded" / "drop.csv"
        assert loaded.exists()
        report = json.loads(loaded.with_name("drop.csv.result.json").read_text(encoding="utf-8"))
        assert report["status"] == "done" and report["result"]["rows_loaded"] == 1
        assert jobs[0].origin == "inbox"
    finally:
        state.close()


def test_cli_hands_a_load_to_the_running_server(demo: Home, tmp_path: Path) -> None:
    """A real ``crossinvest serve`` process; the command line's client posts a path to it."""
    with pytest.raises(ServerUnavailable):
        submit_load(demo, "tax", tmp_path / "x.csv")
    env = dict(os.environ, CROSSINVEST_HOME=str(demo.root))
    proc = subprocess.Popen(
        [sys.executable, "-m", "crossinvest.web.server", "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    info_path = demo.root / "server.json"
    try:
        deadline = time.monotonic() + 120
        while not info_path.exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        info = json.loads(info_path.read_text())
        assert info["url"].startswith("http://127.0.0.1:") and len(info["token"]) >= 20
        assert oct(info_path.stat().st_mode & 0o777) == "0o600"
        import urllib.request

        with urllib.request.urlopen(info["url"] + "/api/v1/latest-year", timeout=30) as resp:
            year = json.loads(resp.read())["data"]["year"]
        with urllib.request.urlopen(
            info["url"] + f"/api/v1/stats/inbound/enterprises?period={year}&limit=5", timeout=30
        ) as resp:
            ent = next(r for r in json.loads(resp.read())["data"]["rows"] if r["uscc"])
        result = submit_load(
            demo, "tax", tax_file(tmp_path / "handover.csv", ent, year), timeout=120
        )
        assert (
            result["rows_loaded"] == 1
            and result["file"] == "handover.csv"
            and result["duplicate_file"] is False
        )
        again = submit_load(demo, "tax", tmp_path / "handover.csv", timeout=120)
        assert again["duplicate_file"] is True
        bad = tmp_path / "bad.csv"
        bad.write_text("纳税人名称,税种\n某公司,增值税\n", encoding="utf-8")
        with pytest.raises(LoadRefusedByServer):
            submit_load(demo, "tax", bad, timeout=120)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert not info_path.exists()


def test_writer_job_is_invisible_until_it_commits(tmp_path: Path) -> None:
    """The mechanism alone, with any write: readers see the old state until COMMIT, then the new."""
    from crossinvest.warehouse.connection import transaction

    home = open_workstation(Home(tmp_path / "h").ensure())
    inside, release = threading.Event(), threading.Event()

    def write(wh) -> dict:  # type: ignore[no-untyped-def]
        with transaction(wh.con):
            wh.con.execute(
                "INSERT INTO batches VALUES (7, 'tax', 't.csv', 'abc', NULL, 'csv', 'utf-8', 1, 1, 0, 0, "
                "'loaded', now()::TIMESTAMP, NULL, 0.1)"
            )
            inside.set()
            assert release.wait(60)
        return {"batch": 7}

    with TestClient(create_app(home, inbox_interval=None)) as client:
        assert client.get("/api/v1/batches").json()["data"]["rows"] == []  # cached now
        job = client.app.state.ci.writer.submit("test", write, params={}, origin="api")
        assert inside.wait(60)
        assert client.get("/api/v1/batches").json()["data"]["rows"] == []
        assert (
            client.get("/api/v1/batches", params={"limit": 5}).json()["data"]["rows"] == []
        )  # uncached read
        release.set()
        assert job.done.wait(60) and job.status == "done"
        rows = client.get("/api/v1/batches").json()["data"]["rows"]
        assert [r["batch"] for r in rows] == [7]


def test_a_failing_job_leaves_the_server_serving(tmp_path: Path) -> None:
    home = open_workstation(Home(tmp_path / "h").ensure())

    def boom(wh) -> dict:  # type: ignore[no-untyped-def]
        raise RuntimeError("disk on fire")

    with TestClient(create_app(home, inbox_interval=None)) as client:
        job = client.app.state.ci.writer.submit("test", boom, params={}, origin="api")
        assert job.done.wait(60)
        data = client.get(f"/api/v1/loads/{job.id}").json()["data"]
        assert data["status"] == "failed" and "disk on fire" in data["error"]["message"]
        assert client.get("/api/v1/health").json()["data"]["warehouse_version"] % 2 == 0
        assert client.get("/api/v1/batches").status_code == 200

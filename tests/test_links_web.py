"""Deciding the link review queue on the web: the API, the 数据 page's buttons, who may, the audit.

The demo data has no links in review (its records link automatically), so the
fixture puts some there through the server's own writer: a record's automatic
link becomes 'review', a second candidate for the same record is added, and the
two enterprises' figures are refreshed, so the figures start from a state where
the record counts for neither. Expected amounts come straight from the tax rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crossinvest.access.accounts import create_user
from crossinvest.access.keys import create_key
from crossinvest.access.store import open_store, store_path
from crossinvest.web.app import create_app
from crossinvest.web.testing import demo_home
from tests.test_sharing import PASSWORD, World, get_routes

API = "/api/v1/links/{id}/decision"
PAGE = "/data/links/{id}"
ROLES = ("admin", "analyst", "district", "agency", "api", "anonymous")
STAFF = {"admin", "analyst"}
UNKNOWN = 987_654_321


def _finish(world: World, job: int, timeout: float = 120) -> dict[str, Any]:
    """Poll the write job until it is finished; its JSON."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = world.get("analyst", f"/api/v1/loads/{job}")
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        if data["status"] not in ("queued", "running"):
            return data
        time.sleep(0.1)
    raise AssertionError(f"job {job} did not finish")


def _links(world: World, status: str) -> dict[int, dict[str, Any]]:
    r = world.get("analyst", "/api/v1/links", params={"status": status, "limit": 1000})
    assert r.status_code == 200, r.text
    return {row["id"]: row for row in r.json()["data"]["rows"]}


def _jobs(world: World) -> int:
    return len(world.get("analyst", "/api/v1/loads").json()["data"]["rows"])


def _inbound_2018(world: World) -> dict[str, dict[str, Any]]:
    r = world.get("analyst", "/api/v1/stats/inbound/enterprises?period=2018&limit=1000")
    assert r.status_code == 200 and r.json()["meta"]["next"] is None
    return {row["enterprise_key"]: row for row in r.json()["data"]["rows"]}


def _total_tax(world: World) -> float:
    """The inbound statistics' 2018 tax total (the figure, not the list)."""
    url = "/api/v1/stats/inbound?period=2018&by=district"
    return world.get("analyst", url).json()["data"]["total"]["tax_wan"] or 0.0


def _setup_queue(wh: Any, e2: str) -> dict[str, Any]:
    """Writer job: three records' automatic links go to review; the first gets a rival."""
    from crossinvest.linkage.review import _refresh_figures
    from crossinvest.warehouse.connection import transaction

    con = wh.con
    picks = con.execute(
        """
        SELECT l.link_id, l.record_key, l.enterprise_key,
               (SELECT sum(tax_paid_wan) FROM tax t WHERE t.taxpayer_key = l.record_key
                AND t.period >= DATE '2018-01-01' AND t.period < DATE '2019-01-01') AS amount
        FROM record_links l
        WHERE l.source = 'tax' AND l.status = 'auto' AND l.enterprise_key <> ?
          AND (SELECT count(*) FROM record_links o WHERE o.source = 'tax'
               AND o.record_key = l.record_key) = 1
        ORDER BY amount DESC NULLS LAST, l.link_id LIMIT 3
        """,
        [e2],
    ).fetchall()
    assert len(picks) == 3 and picks[0][3] > 0
    with transaction(con):
        for p in picks:
            con.execute("UPDATE record_links SET status = 'review' WHERE link_id = ?", [p[0]])
        con.execute(
            """INSERT INTO record_links (source, record_key, enterprise_key, method, weight, status,
                                     batch_id, created_at, record_name)
           SELECT source, record_key, ?, 'splink', 3.5, 'review', batch_id, now(), record_name
           FROM record_links WHERE link_id = ?""",
            [e2, picks[0][0]],
        )
        rival = con.execute(
            "SELECT link_id FROM record_links WHERE record_key = ? AND enterprise_key = ?",
            [picks[0][1], e2],
        ).fetchone()[0]
        # the figures start without the record, as they would after any load
        _refresh_figures(con, [p[2] for p in picks] + [e2])
    return {
        "rival": rival,  # record R -> E2, to be accepted
        "original": picks[0][0],  # record R -> E1, rejected by that acceptance
        "record": picks[0][1],
        "amount": float(picks[0][3]),
        "to_reject": picks[1][0],
        "untouched": picks[2][0],
    }


class Links(World):
    q: dict[str, Any]
    e2: dict[str, Any]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Links]:
    home = demo_home(tmp_path_factory.mktemp("links-web") / "home", anonymous_role=None)
    con = open_store(home)
    for who, role in (("admin", "admin"), ("analyst", "analyst"), ("agency", "agency")):
        create_user(con, who, role=role, password=PASSWORD, display_name=who, org=f"单位-{who}")
    create_user(con, "district", role="district", password=PASSWORD, districts=["310115"])
    create_user(con, "api", role="api", password=None, org="对接系统")
    key, _ = create_key(con, "api", name="对接系统", datasets=["stats", "links"], days=30)
    con.close()
    app = create_app(home, inbox_interval=None)
    with TestClient(app, base_url="https://testserver") as client:
        headers: dict[str, dict[str, str]] = {
            "anonymous": {},
            "api": {"Authorization": f"Bearer {key}"},
        }
        for who in ("admin", "analyst", "district", "agency"):
            r = client.post("/api/v1/session", json={"username": who, "password": PASSWORD})
            assert r.status_code == 200, r.text
            headers[who] = {
                "Cookie": f"ci_session={r.cookies['ci_session']}",
                "X-CSRF-Token": r.json()["data"]["csrf_token"],
            }
            client.cookies.clear()
        w = Links(home, client, headers)
        inbound = _inbound_2018(w)
        e2 = next(r for k, r in sorted(inbound.items()) if (r["region_code"] or "")[:2] == "31")
        job = app.state.ci.writer.submit(
            "test-setup",
            lambda wh: _setup_queue(wh, e2["enterprise_key"]),
            params={},
            origin="test",
        )
        assert job.done.wait(120) and job.status == "done", job.error
        w.q = job.result
        w.e2 = e2
        yield w


def _form(world: World, who: str, link_id: int, decision: str, *, csrf: bool = True) -> Any:
    token = world.headers[who].get("X-CSRF-Token", "")
    url = PAGE.format(id=link_id) + (f"?csrf_token={token}" if csrf else "")
    headers = {k: v for k, v in world.headers[who].items() if k != "X-CSRF-Token"}
    return world.client.post(
        url, data={"decision": decision}, headers=headers, follow_redirects=False
    )


def test_the_queue_lists_the_links_in_review_with_their_ids(world: Links) -> None:
    review = _links(world, "review")
    q = world.q
    assert {q["rival"], q["original"], q["to_reject"], q["untouched"]} <= set(review)
    assert review[q["rival"]]["enterprise_key"] == world.e2["enterprise_key"]
    assert review[q["rival"]]["record_key"] == review[q["original"]]["record_key"] == q["record"]


def test_a_district_user_is_refused_and_nothing_changes(world: Links) -> None:
    q, before = world.q, _jobs(world)
    r = world.post("district", API.format(id=q["untouched"]), json={"decision": "accepted"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden", r.text
    assert "无权" in r.json()["error"]["message"]
    r = _form(world, "district", q["untouched"], "rejected")
    assert r.status_code == 403
    assert _links(world, "review")[q["untouched"]]["status"] == "review"
    assert _jobs(world) == before, "no write job was queued"


def test_requests_without_the_csrf_token_are_refused(world: Links) -> None:
    q, before = world.q, _jobs(world)
    r = world.post(
        "analyst", API.format(id=q["untouched"]), json={"decision": "accepted"}, csrf=False
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = _form(world, "analyst", q["untouched"], "accepted", csrf=False)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    assert _links(world, "review")[q["untouched"]]["status"] == "review"
    assert _jobs(world) == before


def test_unknown_link_is_404_and_bad_decisions_are_400(world: Links) -> None:
    before = _jobs(world)
    r = world.post("analyst", API.format(id=UNKNOWN), json={"decision": "accepted"})
    assert r.status_code == 404, r.text
    body = r.json()
    assert body["ok"] is False and body["error"]["code"] == "not_found"
    assert body["error"]["message"] == f"关联 {UNKNOWN} 不存在"
    for bad in ({"decision": "maybe"}, {"decision": "review"}, {}, {"decision": None}):
        r = world.post("analyst", API.format(id=world.q["untouched"]), json=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_request", (bad, r.text)
    # the page says so instead of failing
    r = _form(world, "analyst", UNKNOWN, "accepted")
    assert r.status_code == 303 and r.headers["location"].startswith("/data?missing_link=")
    page = world.get("analyst", r.headers["location"]).text
    assert f"关联 {UNKNOWN} 不存在" in page
    assert _jobs(world) == before


def test_accepting_through_the_api_moves_the_figures(world: Links) -> None:
    q, e2 = world.q, world.e2
    key = e2["enterprise_key"]
    tax_before = _inbound_2018(world)[key]["tax_wan"] or 0.0
    total_before = _total_tax(world)

    r = world.post("analyst", API.format(id=q["rival"]), json={"decision": "accepted"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["ok"] is True and body["data"]["kind"] == "link"
    assert body["data"]["params"] == {
        "link": q["rival"],
        "decision": "accepted",
        "reviewer": "analyst",
    }
    assert body["meta"]["next"] == f"/api/v1/loads/{body['data']['job']}"
    job = _finish(world, body["data"]["job"])
    assert job["status"] == "done", job
    assert job["result"]["status"] == "accepted" and job["result"]["others_rejected"] == 1

    accepted, rejected = _links(world, "accepted"), _links(world, "rejected")
    assert accepted[q["rival"]]["reviewer"] == "analyst"
    assert rejected[q["original"]]["reviewer"] == "analyst"  # the record's other candidate
    assert not {q["rival"], q["original"]} & set(_links(world, "review"))

    # the record's 2018 tax now counts for E2: its row of the list and the statistics' total
    tax_after = _inbound_2018(world)[key]["tax_wan"] or 0.0
    assert tax_after == pytest.approx(tax_before + q["amount"], abs=0.01)
    assert _total_tax(world) == pytest.approx(total_before + q["amount"], abs=0.01)

    # deciding it again changes nothing and says so
    r = world.post("admin", API.format(id=q["rival"]), json={"decision": "accepted"})
    again = _finish(world, r.json()["data"]["job"])
    assert again["result"] == {"id": q["rival"], "status": "accepted", "unchanged": True}
    assert _links(world, "accepted")[q["rival"]]["reviewer"] == "analyst"

    # the decision is in the audit log as a decision, by the analyst, on the links dataset
    con = sqlite3.connect(store_path(world.home))
    rows = con.execute(
        "SELECT username, status, dataset, detail FROM audit WHERE event = 'decide' AND path = ?",
        [API.format(id=q["rival"])],
    ).fetchall()
    con.close()
    assert [(u, s, d) for u, s, d, _ in rows] == [
        ("analyst", 202, "links"),
        ("admin", 202, "links"),
    ]
    assert json.loads(rows[0][3])["decision"] == "accepted"


def test_rejecting_through_the_page(world: Links) -> None:
    q = world.q
    page = world.get("analyst", "/data").text
    token = world.headers["analyst"]["X-CSRF-Token"]
    action = f'action="/data/links/{q["to_reject"]}?csrf_token={token}"'
    assert action in page, "the queue row carries its decision forms"

    r = _form(world, "analyst", q["to_reject"], "rejected")
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/data\?job=(\d+)#links", r.headers["location"])
    assert m, r.headers["location"]
    job = _finish(world, int(m.group(1)))
    assert job["status"] == "done" and job["result"]["status"] == "rejected"
    assert _links(world, "rejected")[q["to_reject"]]["reviewer"] == "analyst"

    page = world.get("analyst", f"/data?job={m.group(1)}").text
    assert f"已拒绝关联 {q['to_reject']}" in page
    assert f'data-link="{q["to_reject"]}"' not in page, "it left the queue"
    con = sqlite3.connect(store_path(world.home))
    audited = con.execute(
        "SELECT count(*) FROM audit WHERE event = 'decide' AND path = ? AND status = 303",
        [PAGE.format(id=q["to_reject"])],
    ).fetchone()[0]
    con.close()
    assert audited == 1


def test_only_staff_see_the_buttons(world: Links) -> None:
    untouched = f'action="/data/links/{world.q["untouched"]}?csrf_token='
    for who in ("admin", "analyst"):
        page = world.get(who, "/data").text
        assert untouched in page and "接受" in page and "拒绝" in page, who
    assert ">Accept<" in world.get("analyst", "/data?lang=en").text
    for who in ("district", "agency"):
        r = world.get(who, "/data")
        assert r.status_code == 200 and "/data/links/" not in r.text, who


def test_who_may_decide_every_role(world: Links) -> None:
    """Both routes × every role, on a link that does not exist: staff reach the lookup."""
    paths = {p for p, m in get_routes(world.client.app) if "POST" in m}
    assert {API.replace("{id}", "{link_id}"), PAGE.replace("{id}", "{link_id}")} <= paths
    wrong = []
    for who in ROLES:
        r = world.post(who, API.format(id=UNKNOWN), json={"decision": "rejected"})
        want = 401 if who == "anonymous" else 404 if who in STAFF else 403
        if r.status_code != want:
            wrong.append(f"{who} API: {r.status_code} (expected {want})")
        r = world.post(
            who,
            PAGE.format(id=UNKNOWN) + f"?csrf_token={world.headers[who].get('X-CSRF-Token', '')}",
            data={"decision": "rejected"},
            follow_redirects=False,
        )
        want = 401 if who == "anonymous" else 303 if who in STAFF else 403
        if r.status_code != want:
            wrong.append(f"{who} page: {r.status_code} (expected {want})")
    assert wrong == [], "\n".join(wrong)

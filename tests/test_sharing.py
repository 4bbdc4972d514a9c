"""The sharing service end to end: the authorisation matrix, district isolation, audit, CSRF.

The matrix is generated from the application's route table: every GET route
must be classified in ``ROUTE_GUARD`` (a new route that is not fails the test
until someone decides who may read it), and is then called by every role, in
two districts, with the expected answer derived from ``ROLE_POLICY``.
"""

from __future__ import annotations

import io
import itertools
import json
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crossinvest.access.accounts import create_user
from crossinvest.access.grants import grant
from crossinvest.access.keys import create_key
from crossinvest.access.store import open_store, store_path
from crossinvest.config import Home
from crossinvest.warehouse.connection import connect
from crossinvest.web.app import create_app
from crossinvest.web.testing import demo_home

PASSWORD = "Correct-horse-7"
PUBLIC = "public"

# What each test account may read: the policy, written independently of ROLES.
BASE_PARTNER = {"stats", "freshness", "definitions", "catalogue", "requests"}
ROLE_POLICY: dict[str, set[str]] = {
    "admin": {
        "stats", "enterprise", "enterprise_money", "batches", "quarantine", "links", "freshness",
        "definitions", "catalogue", "usage", "admin", "audit", "requests",
    },
    "analyst": {
        "stats", "enterprise", "enterprise_money", "batches", "quarantine", "links", "freshness",
        "definitions", "catalogue", "usage",
    },
    "district_a": BASE_PARTNER | {"enterprise"},
    "district_b": BASE_PARTNER | {"enterprise"},
    "agency": set(BASE_PARTNER),
    "agency_granted": BASE_PARTNER | {"enterprise"},
    "api": {"stats"},  # its key is issued for the statistics only
    "anonymous": set(),
}  # fmt: skip

# Every GET route of the application -> the permission it needs.
ROUTE_GUARD: dict[str, str] = {
    "/": "stats",
    "/inbound": "stats",
    "/outbound": "stats",
    "/enterprises": "enterprise",
    "/enterprises/{key}": "enterprise",
    "/data": "freshness",  # the page shows each reader what it may see (partners: freshness)
    "/definitions": "definitions",
    "/catalogue": "catalogue",
    "/usage": "usage",
    "/admin": "admin",
    "/admin/audit": "audit",
    "/login": PUBLIC,
    "/api/docs": PUBLIC,
    "/api/v1/openapi.json": PUBLIC,
    "/api/v1/me": PUBLIC,
    "/api/v1/health": PUBLIC,
    "/api/v1/catalogue": "catalogue",
    "/api/v1/requests": "requests",
    "/api/v1/grants": "catalogue",
    "/api/v1/users": "admin",
    "/api/v1/keys": "admin",
    "/api/v1/audit": "audit",
    "/api/v1/usage": "usage",
    "/api/v1/stats/inbound": "stats",
    "/api/v1/stats/inbound/export": "stats",
    "/api/v1/stats/outbound": "stats",
    "/api/v1/stats/outbound/export": "stats",
    "/api/v1/overview": "stats",
    "/api/v1/dimensions": "stats",
    "/api/v1/latest-year": "stats",
    "/api/v1/enterprises": "enterprise",
    "/api/v1/enterprises/{key}": "enterprise",
    "/api/v1/enterprises/{key}/chain": "enterprise",
    "/api/v1/stats/inbound/enterprises": "enterprise",
    "/api/v1/stats/inbound/enterprises/export": "enterprise",
    "/api/v1/stats/outbound/enterprises": "enterprise",
    "/api/v1/stats/outbound/enterprises/export": "enterprise",
    "/api/v1/batches": "batches",
    "/api/v1/batches/export": "batches",
    "/api/v1/quarantine": "quarantine",
    "/api/v1/quarantine/export": "quarantine",
    "/api/v1/links": "links",
    "/api/v1/links/export": "links",
    "/api/v1/loads": "batches",
    "/api/v1/loads/{job}": "batches",
    "/api/v1/freshness": "freshness",
    "/api/v1/definitions": "definitions",
}

# Query strings that make each route answer a real table (period and dimensions).
QUERY = {
    "/inbound": "period=2018",
    "/outbound": "period=2018",
    "/enterprises": "q=上海",
    "/api/v1/stats/inbound": "period=2018&by=district",
    "/api/v1/stats/inbound/export": "period=2018&by=district&format=csv",
    "/api/v1/stats/outbound": "period=2018&by=district",
    "/api/v1/stats/outbound/export": "period=2018&by=district&format=xlsx",
    "/api/v1/overview": "kind=inbound",
    "/api/v1/dimensions": "kind=inbound",
    "/api/v1/enterprises": "q=公司",
    "/api/v1/stats/inbound/enterprises": "period=2018",
    "/api/v1/stats/inbound/enterprises/export": "period=2018&format=csv",
    "/api/v1/stats/outbound/enterprises": "period=2018",
    "/api/v1/stats/outbound/enterprises/export": "period=2018&format=xlsx",
    "/api/v1/batches/export": "format=csv",
    "/api/v1/quarantine/export": "format=csv",
    "/api/v1/links/export": "format=csv",
}
# Routes whose resource does not exist for anyone in this test (allowed -> 404).
MISSING = {"/api/v1/loads/{job}"}


def get_routes(app: Any) -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, through included routers."""
    out: list[tuple[str, set[str]]] = []
    for r in app.routes:
        contexts = getattr(r, "effective_route_contexts", None)
        if contexts is not None:
            out += [(c.path, set(c.methods)) for c in contexts()]
        elif getattr(r, "methods", None):
            out.append((r.path, set(r.methods)))
    return out


class World:
    """The app, its accounts and how each of them authenticates."""

    def __init__(self, home: Home, client: TestClient, headers: dict[str, dict[str, str]]):
        self.home = home
        self.client = client
        self.headers = headers
        self.district: dict[str, str] = {}
        self.usccs: dict[str, set[str]] = {}
        self.sample: dict[str, str] = {}  # district -> one of its enterprises' USCC
        self.key_a = ""
        self.key_b = ""

    def get(self, who: str, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers[who], **kw.pop("headers", {})}, **kw)

    def post(self, who: str, url: str, *, csrf: bool = True, **kw: Any) -> Any:
        h = dict(self.headers[who])
        if not csrf:
            h.pop("X-CSRF-Token", None)
        return self.client.post(url, headers={**h, **kw.pop("headers", {})}, **kw)


def _two_districts(home: Home) -> tuple[str, str, dict[str, set[str]], dict[str, str]]:
    with connect(home) as wh:
        rows = wh.con.execute(
            "SELECT region_code, count(*) AS n FROM registry WHERE region_code LIKE '31%' "
            "AND uscc IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1 LIMIT 2"
        ).fetchall()
        a, b = rows[0][0], rows[1][0]
        usccs = {
            d: {r[0] for r in wh.con.execute(
                "SELECT uscc FROM registry WHERE region_code = ? AND uscc IS NOT NULL", [d]
            ).fetchall()}
            for d in (a, b)
        }  # fmt: skip
        sample = {
            d: wh.con.execute(
                "SELECT uscc FROM registry WHERE region_code = ? AND uscc IS NOT NULL "
                "ORDER BY uscc LIMIT 1",
                [d],
            ).fetchone()[0]
            for d in (a, b)
        }
    return a, b, usccs, sample


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = demo_home(tmp_path_factory.mktemp("sharing") / "home", anonymous_role=None)
    a, b, usccs, sample = _two_districts(home)
    con = open_store(home)
    ids: dict[str, int] = {}
    for who, role, districts in (
        ("admin", "admin", None),
        ("analyst", "analyst", None),
        ("district_a", "district", [a]),
        ("district_b", "district", [b]),
        ("agency", "agency", None),
        ("agency_granted", "agency", None),
        ("api", "api", None),
    ):
        u = create_user(
            con,
            who.replace("_", "-"),
            role=role,
            password=None if role == "api" else PASSWORD,
            display_name=who,
            org=f"单位-{who}",
            districts=districts,
        )
        ids[who] = u.id
    grant(
        con, ids["agency_granted"], "enterprise", by=ids["admin"], purpose="重点企业服务", days=30
    )
    key, _ = create_key(con, "api", name="对接系统", datasets=["stats"], days=30)
    con.close()

    app = create_app(home, inbox_interval=None)
    with TestClient(app, base_url="https://testserver") as client:
        headers: dict[str, dict[str, str]] = {
            "anonymous": {},
            "api": {"Authorization": f"Bearer {key}"},
        }
        for who in ROLE_POLICY:
            if who in headers:
                continue
            r = client.post(
                "/api/v1/session", json={"username": who.replace("_", "-"), "password": PASSWORD}
            )
            assert r.status_code == 200, r.text
            cookie = r.cookies.get("ci_session")
            assert cookie, "the session cookie is set"
            headers[who] = {
                "Cookie": f"ci_session={cookie}",
                "X-CSRF-Token": r.json()["data"]["csrf_token"],
            }
            client.cookies.clear()  # each request carries exactly the credentials given
        w = World(home, client, headers)
        w.district = {"district_a": a, "district_b": b}
        w.usccs = {"district_a": usccs[a], "district_b": usccs[b]}
        w.sample = sample
        yield w


def _url(world: World, path: str, who: str) -> str:
    own = world.district.get(who, world.district["district_a"])
    url = path.replace("{key}", world.sample[own]).replace("{job}", "999999")
    q = QUERY.get(path)
    return f"{url}?{q}" if q else url


def _text(response: Any) -> str:
    """Everything a response delivers, as text (XLSX unzipped)."""
    if response.content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(response.content)) as z:
            return "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
    return response.content.decode("utf-8", "replace")


# The enterprises behind an outbound figure are registered outside Shanghai, so
# outside any district user's scope.
OUTSIDE_EVERY_DISTRICT = {
    "/api/v1/stats/outbound/enterprises",
    "/api/v1/stats/outbound/enterprises/export",
}


def _expected(world: World, who: str, path: str) -> int:
    guard = ROUTE_GUARD[path]
    if guard == PUBLIC:
        return 200
    if who == "anonymous":
        return 401 if path.startswith("/api/") else 303
    if guard not in ROLE_POLICY[who]:
        return 403
    if who.startswith("district") and path in OUTSIDE_EVERY_DISTRICT:
        return 403
    return 404 if path in MISSING else 200


def test_every_get_route_is_classified(world: World) -> None:
    paths = {p for p, methods in get_routes(world.client.app) if "GET" in methods}
    unclassified = sorted(paths - set(ROUTE_GUARD))
    assert unclassified == [], f"decide who may read these routes (ROUTE_GUARD): {unclassified}"
    assert sorted(set(ROUTE_GUARD) - paths) == []


def test_authorisation_matrix(world: World) -> None:
    """Every GET route × every role (two districts): the expected status, nothing more."""
    paths = sorted(p for p, methods in get_routes(world.client.app) if "GET" in methods)
    wrong: list[str] = []
    for path, who in itertools.product(paths, ROLE_POLICY):
        r = world.get(who, _url(world, path, who), follow_redirects=False)
        want = _expected(world, who, path)
        if r.status_code != want:
            wrong.append(f"{who} {path}: {r.status_code} (expected {want}) {r.text[:120]}")
        elif want == 303:
            assert r.headers["location"].startswith("/login?next=")
    assert wrong == [], "\n".join(wrong)


def test_district_never_sees_another_districts_enterprises(world: World) -> None:
    """On every route a district user may read (pages, API, exports), no USCC of the other district."""
    paths = sorted(p for p, m in get_routes(world.client.app) if "GET" in m)
    checked = 0
    for who, other in (("district_a", "district_b"), ("district_b", "district_a")):
        foreign = world.usccs[other] - world.usccs[who]
        assert foreign
        for path in paths:
            if _expected(world, who, path) != 200:
                continue
            text = _text(world.get(who, _url(world, path, who)))
            leaked = [u for u in foreign if u in text]
            assert leaked == [], f"{who} sees {other}'s enterprises on {path}: {leaked[:3]}"
            checked += 1
        # and the other district's enterprise profile is simply not found
        r = world.get(who, f"/api/v1/enterprises/{world.sample[world.district[other]]}")
        assert r.status_code == 404
    assert checked > 20


def test_district_statistics_cover_its_enterprises_only(world: World) -> None:
    """A district user's totals equal the analyst's figures filtered to that district."""
    a = world.district["district_a"]
    mine = world.get("district_a", "/api/v1/stats/inbound?period=2018&by=district").json()["data"]
    assert {r["district"] for r in mine["rows"]} <= {a}
    full = world.get("analyst", f"/api/v1/stats/inbound?period=2018&by=district&district={a}")
    assert mine["total"]["enterprises"] == full.json()["data"]["total"]["enterprises"]
    everyone = world.get("analyst", "/api/v1/stats/inbound?period=2018&by=district").json()
    assert everyone["data"]["total"]["enterprises"] > mine["total"]["enterprises"]


def test_every_access_leaves_an_audit_row(world: World) -> None:
    marks = {}
    for i, who in enumerate(("analyst", "district_a", "agency", "api", "anonymous")):
        mark = f"test-purpose-{i}"
        marks[mark] = who
        world.get(who, "/api/v1/stats/inbound?period=2018&by=district", headers={"X-Purpose": mark})
        # the second time it is a cached answer, which must be recorded too
        world.get(who, "/api/v1/stats/inbound?period=2018&by=district", headers={"X-Purpose": mark})
    world.get("district_a", "/api/v1/stats/inbound/export?period=2018&by=district&format=csv",
              headers={"X-Purpose": "export-mark"})  # fmt: skip
    con = sqlite3.connect(store_path(world.home))
    rows = con.execute(
        "SELECT purpose, username, event, status, dataset, rows FROM audit WHERE purpose LIKE "
        "'test-purpose-%' OR purpose = 'export-mark'"
    ).fetchall()
    by_mark: dict[str, list[tuple]] = {}
    for r in rows:
        by_mark.setdefault(r[0], []).append(r)
    for mark, who in marks.items():
        assert len(by_mark.get(mark, [])) == 2, (mark, who)
        for _, username, event, status, dataset, nrows in by_mark[mark]:
            if who == "anonymous":
                assert status == 401 and username == "anonymous"
            else:
                assert status == 200 and event == "read" and dataset == "stats" and nrows >= 1
                assert username == who.replace("_", "-")
    export = by_mark["export-mark"]
    assert len(export) == 1 and export[0][2] == "export"
    # the log cannot be changed, even by the application's own connection
    for sql in ("UPDATE audit SET status = 200", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError):
            con.execute(sql)
    con.close()
    # and no route of the application changes it: the audit endpoints only read
    for path, methods in get_routes(world.client.app):
        if "audit" in path:
            assert methods <= {"GET", "HEAD"}, path


def test_state_changing_requests_need_the_csrf_token(world: World) -> None:
    """Every POST route, called with a session cookie but no CSRF token, is refused."""
    posts = [p for p, m in get_routes(world.client.app) if "POST" in m]
    exempt = {"/login", "/api/v1/session"}  # no session yet: the sign-in form has its own
    assert len(posts) > 10
    for path in posts:
        if path in exempt:
            continue
        url = (
            path.replace("{request_id}", "1").replace("{grant_id}", "1").replace("{key}", "x")
            .replace("{username}", "agency").replace("{batch}", "1").replace("{link_id}", "1")
        )  # fmt: skip
        r = world.post("admin", url, csrf=False, json={})
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf", (path, r.text[:200])


def test_request_approve_use_and_expire(world: World) -> None:
    """A partner asks, the admin approves with a reason, the data opens, and closes at expiry."""
    url = "/api/v1/enterprises?q=公司"
    assert world.get("agency", url).status_code == 403
    r = world.post(
        "agency",
        "/api/v1/requests",
        json={"dataset": "enterprise", "purpose": "招商引资分析", "days": 10},
    )
    assert r.status_code == 201, r.text
    rid = r.json()["data"]["id"]
    cat = world.get("agency", "/api/v1/catalogue").json()["data"]["datasets"]
    assert {d["dataset"]: d["access"] for d in cat}["enterprise"] == "pending"
    # the requester cannot approve, and the admin must give a reason
    assert world.post("agency", f"/api/v1/requests/{rid}/decision",
                      json={"approve": True, "reason": "x"}).status_code == 403  # fmt: skip
    r = world.post(
        "admin", f"/api/v1/requests/{rid}/decision", json={"approve": True, "reason": "用途明确"}
    )
    assert r.status_code == 200 and r.json()["data"]["status"] == "approved"
    assert world.get("agency", url).status_code == 200
    # enterprise-level tax stays confidential: the grant was for the register only
    rows = world.get("agency", url).json()["data"]["rows"]
    assert rows and all("tax_wan" not in row for row in rows)
    # expiry: move the grant's end into the past
    con = sqlite3.connect(store_path(world.home))
    con.execute("UPDATE grants SET expires_at = '2000-01-01T00:00:00Z' WHERE request_id = ?", [rid])
    con.commit()
    con.close()
    world.client.app.state.access.invalidate()
    assert world.get("agency", url).status_code == 403


def test_expired_and_revoked_keys_are_refused(world: World) -> None:
    con = open_store(world.home)
    plain, key = create_key(con, "api", name="短期", datasets=["stats"], days=1)
    con.close()
    h = {"Authorization": f"Bearer {plain}"}
    ok = world.client.get("/api/v1/latest-year", headers=h)
    assert ok.status_code == 200
    raw = sqlite3.connect(store_path(world.home))
    raw.execute("UPDATE api_keys SET expires_at = '2000-01-01T00:00:00Z' WHERE id = ?", [key.id])
    raw.commit()
    raw.close()
    world.client.app.state.access.invalidate()
    r = world.client.get("/api/v1/latest-year", headers=h)
    assert r.status_code == 401 and "expired" in r.json()["error"]["code"]
    assert (
        world.client.get("/api/v1/latest-year", headers={"X-API-Key": "cik_nothere_x"}).status_code
        == 401
    )


def test_brute_force_sign_in_is_slowed_then_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datetime as dt

    from crossinvest.access import throttle

    # The throttle's clock is the test's: waiting is a step of the clock, not a sleep whose
    # 1-second window a busy machine can miss.
    clock = [dt.datetime.now(dt.UTC)]
    monkeypatch.setattr(throttle, "system_clock", lambda: clock[0])
    home = demo_home(tmp_path / "home", enterprises=400, anonymous_role=None)
    settings = json.loads(home.settings_file.read_text("utf-8"))
    settings.update({"login_slow_after": 2, "login_lock_after": 4, "login_lock_minutes": 30})
    home.settings_file.write_text(json.dumps(settings), "utf-8")
    con = open_store(home)
    create_user(con, "target", role="agency", password=PASSWORD, org="某委")
    con.close()
    with TestClient(create_app(home, inbox_interval=None), base_url="https://testserver") as c:

        def attempt(pw: str) -> Any:
            return c.post("/api/v1/session", json={"username": "target", "password": pw})

        def wait_out(r: Any) -> None:
            assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
            clock[0] += dt.timedelta(seconds=int(r.headers["Retry-After"]) + 1)

        assert attempt("wrong-1").status_code == 401
        assert attempt("wrong-2").status_code == 401
        # slowed: answered at once with 429, the password not even checked
        wait_out(attempt(PASSWORD))
        assert attempt("wrong-3").status_code == 401
        wait_out(attempt(PASSWORD))
        assert attempt("wrong-4").status_code == 423
        # locked: the right password no longer opens it
        r = attempt(PASSWORD)
        assert r.status_code == 423 and r.json()["error"]["code"] == "locked"
        events = (
            sqlite3.connect(store_path(home))
            .execute("SELECT count(*) FROM audit WHERE event = 'sign_in_failed'")
            .fetchone()[0]
        )
        assert events == 7  # every refused attempt is in the audit log


def test_sign_in_page_sets_a_secure_httponly_session(world: World) -> None:
    c = world.client
    page = c.get("/login?next=/inbound")
    assert page.status_code == 200 and "登录" in page.text
    csrf = c.cookies.get("ci_csrf")
    assert csrf and f'value="{csrf}"' in page.text
    r = c.post(
        "/login",
        data={"username": "analyst", "password": PASSWORD, "csrf_token": csrf, "next": "/inbound"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/inbound"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    # an outside address is never a redirect target
    c.cookies.clear()
    page = c.get("/login")
    r = c.post(
        "/login",
        data={"username": "analyst", "password": PASSWORD, "csrf_token": c.cookies.get("ci_csrf"),
              "next": "//evil.example/"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.headers["location"] == "/"
    # a forged form without the double-submit token is refused
    c.cookies.clear()
    r = c.post("/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403
    c.cookies.clear()


def test_usage_shows_who_used_what_this_month(world: World) -> None:
    partners = ("district_a", "district_b", "agency", "agency_granted", "api")
    for who in partners:
        assert world.get(who, "/api/v1/stats/inbound?period=2018&by=district").status_code == 200
    assert world.get("agency", "/api/v1/usage").status_code == 403  # partners do not see it
    u = world.get("admin", "/api/v1/usage").json()["data"]
    assert u["rates"]["consumers_entitled"] == len(partners)
    assert u["rates"]["consumers_active"] == len(partners)
    assert u["rates"]["consumer_rate"] == 1.0
    assert u["rates"]["datasets_used"] >= 1 and 0 < u["rates"]["dataset_rate"] <= 1
    orgs = {o["org"]: o for o in u["by_org"]}
    assert set(orgs) == {f"单位-{w}" for w in partners}  # office staff are not consumers
    assert all(orgs[f"单位-{w}"]["requests"] >= 1 for w in partners)
    stats = {d["dataset"]: d for d in u["by_dataset"]}["stats"]
    assert stats["consumers"] == len(partners) and stats["rows"] >= len(partners)
    page = world.get("analyst", "/usage")
    assert page.status_code == 200 and "100.0%" in page.text and "单位-district_a" in page.text
    xlsx = world.get("admin", "/api/v1/usage?format=xlsx&table=ranking")
    assert xlsx.status_code == 200 and "单位-api" in _text(xlsx)


def test_admin_page_changes_a_role_and_scope(world: World) -> None:
    """The 管理 page's form turns an agency account into a district user of district A."""
    h = world.headers["admin"]
    con = open_store(world.home)
    create_user(con, "convert-me", role="agency", password=PASSWORD, org="某局")
    con.close()
    r = world.client.post(
        f"/admin/users/convert-me?csrf_token={h['X-CSRF-Token']}",
        data={"action": "update", "role": "district", "org": "某区投资办",
              "districts": world.district["district_a"]},
        headers={"Cookie": h["Cookie"]},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and "done=" in r.headers["location"], r.headers.get("location")
    users = {u["username"]: u for u in world.get("admin", "/api/v1/users").json()["data"]["rows"]}
    assert users["convert-me"]["role"] == "district"
    assert users["convert-me"]["districts"] == [world.district["district_a"]]
    # a bad district is refused with the reason, nothing changes
    r = world.client.post(
        f"/admin/users/convert-me?csrf_token={h['X-CSRF-Token']}",
        data={"action": "update", "role": "district", "districts": "999999"},
        headers={"Cookie": h["Cookie"]},
        follow_redirects=False,
    )
    assert "error=" in r.headers["location"]
    users = {u["username"]: u for u in world.get("admin", "/api/v1/users").json()["data"]["rows"]}
    assert users["convert-me"]["districts"] == [world.district["district_a"]]


def test_audit_search_takes_any_valid_date(world: World) -> None:
    for q in ("since=0001-01-01", "until=9999-12-31", "since=2026-01-01&until=2026-12-31"):
        r = world.get("admin", f"/api/v1/audit?{q}")
        assert r.status_code == 200, (q, r.text[:200])
    assert world.get("admin", "/api/v1/audit?since=2026-02-30").status_code == 400


def test_usage_months_outside_the_calendar_are_refused_not_crashed(world: World) -> None:
    assert world.get("admin", "/api/v1/usage?month=0001-01").status_code == 400
    assert world.get("admin", "/api/v1/usage?month=9999-12").status_code == 400
    assert world.get("admin", "/api/v1/usage?month=2026-10").status_code == 200

"""The access layer: actors, authorisation, the gate, scope, disclosure control."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crossinvest.access import LOCAL_ANALYST, Actor, Forbidden, Gate, Scope, authorize
from crossinvest.access import actor as actor_mod
from crossinvest.access.disclosure import MIN_ENTERPRISES, suppress
from crossinvest.config import Home
from crossinvest.warehouse.connection import connect
from crossinvest.web.app import create_app

VIEWS = Path(__file__).resolve().parent.parent / "crossinvest" / "web" / "views"
VIEWER = Actor(id="v", name="查阅者", role="viewer")
PUDONG_ONLY = Actor(
    id="d", name="浦东", role="analyst", scope=Scope(districts=frozenset({"310115"}))
)


def test_local_analyst_may_read_everything_the_pages_use() -> None:
    for ds in ("stats", "enterprise", "batches", "quarantine", "links", "freshness", "definitions"):
        authorize(LOCAL_ANALYST, ds, "read")
    authorize(LOCAL_ANALYST, "batches", "write")


def test_viewer_is_refused_enterprise_data_and_writes() -> None:
    authorize(VIEWER, "stats", "read")
    for ds, action in (
        ("enterprise", "read"),
        ("quarantine", "read"),
        ("batches", "write"),
        ("nope", "read"),
    ):
        with pytest.raises(Forbidden) as e:
            authorize(VIEWER, ds, action)
        assert "无权" in str(e.value)


def test_gate_authorises_before_running_the_dataset() -> None:
    ran: list[str] = []
    from crossinvest.access.gate import dataset

    @dataset("test.secret", guard="enterprise")
    def _secret(ctx) -> str:  # type: ignore[no-untyped-def]
        ran.append(ctx.actor.id)
        return "ok"

    assert Gate(None, LOCAL_ANALYST).read("test.secret") == "ok"
    with pytest.raises(Forbidden):
        Gate(None, VIEWER).read("test.secret")
    assert ran == ["local"]


def test_gate_opens_no_cursor_until_a_read() -> None:
    import crossinvest.web.datasets  # noqa: F401  (registers "definitions")

    opened: list[int] = []
    g = Gate(None, LOCAL_ANALYST, opener=lambda: opened.append(1) or "cursor")
    assert opened == []
    assert g.read("definitions")["sections"]
    assert opened == [1]


def test_scope_sql_and_stats_filters() -> None:
    s = Scope(districts=frozenset({"310115", "310104"}))
    assert s.sql("x") == ("x IN (?, ?)", ["310104", "310115"])
    assert s.stats_filters(None) == {"district": ["310104", "310115"]}
    # a filter can narrow the scope but never widen it
    assert s.stats_filters({"district": ["310115", "310101"]}) == {"district": ["310115"]}
    assert Scope().stats_filters({"district": ["310101"]}) == {"district": ["310101"]}
    assert Scope(districts=frozenset()).sql("x") == ("FALSE", [])


def test_suppression_hides_small_groups_and_one_more() -> None:
    rows = [
        {
            "origin_province": "330000",
            "enterprises": 2,
            "tax_wan": 10.0,
            "investment_wan": 5.0,
            "employees": 4,
        },
        {
            "origin_province": "320000",
            "enterprises": 50,
            "tax_wan": 99.0,
            "investment_wan": 9.0,
            "employees": 7,
        },
        {
            "origin_province": "110000",
            "enterprises": 8,
            "tax_wan": 20.0,
            "investment_wan": 1.0,
            "employees": 3,
        },
    ]
    out = suppress(rows)
    hidden = [r["origin_province"] for r in out if r["suppressed"]]
    # the small one, and the smallest other one so it cannot be recovered from the total
    assert hidden == ["330000", "110000"]
    for r in out:
        if r["suppressed"]:
            assert r["tax_wan"] is None and r["investment_wan"] is None
            assert r["enterprises"] is not None and r["employees"] is not None  # counts stay
    assert rows[0]["tax_wan"] == 10.0  # the input is not changed


def test_suppression_leaves_large_groups_and_two_small_ones_alone() -> None:
    rows = [
        {"enterprises": MIN_ENTERPRISES, "tax_wan": 1.0},
        {"enterprises": 1, "tax_wan": 2.0},
        # not 0: an empty group's money is known to be nil, so it protects nothing
        {"enterprises": 2, "tax_wan": 3.0},
        {"enterprises": 9, "tax_wan": 4.0},
    ]
    out = suppress(rows)
    assert [r["suppressed"] for r in out] == [False, True, True, False]


def test_views_never_touch_the_database_directly() -> None:
    """Views get data only through the Gate: no duckdb, no connection, no SQL helpers."""
    forbidden_names = {"duckdb", "fetch_dicts", "fetch_all", "fetch_one", "snapshot", "ServerState"}
    offenders = []
    for path in VIEWS.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = getattr(node, "module", None) or ""
                names = {a.name for a in node.names}
                if "duckdb" in mod or "warehouse" in mod or "duckdb" in names:
                    offenders.append(f"{path.name}: imports {mod or names}")
            if isinstance(node, ast.Attribute) and node.attr in (
                "execute",
                "con",
                "_con",
                "cursor",
                "snapshot",
            ):
                offenders.append(f"{path.name}:{node.lineno} .{node.attr}")
            if isinstance(node, ast.Name) and node.id in forbidden_names:
                offenders.append(f"{path.name}:{node.lineno} {node.id}")
    assert offenders == []


# --- through the application -------------------------------------------------------


def _fixture_warehouse(home: Home) -> None:
    """Two Shanghai enterprises in two districts, written directly (no loader needed)."""
    with connect(home) as wh:
        wh.con.execute(
            "INSERT INTO batches VALUES (1, 'registry', 'r.csv', 'x', NULL, 'csv', 'utf-8', 2, 2, 0, 0, "
            "'loaded', now()::TIMESTAMP, NULL, 0.1)"
        )
        for i, (uscc, district) in enumerate(
            (("91310115MA1K000001", "310115"), ("91310104MA1K000002", "310104"))
        ):
            wh.con.execute(
                "INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name, "
                "established_on, region_code) VALUES (1, ?, TRUE, ?, ?, ?, ?, ?)",
                [i + 1, uscc, uscc, f"上海测试{district}有限公司", dt.date(2015, 1, 1), district],
            )


@pytest.fixture
def client_for(home: Home, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """``client_for(actor)``: the app's client, with requests resolved to ``actor`` from now on.

    Uses the resolver list, the extension point sign-in will use, so the cached
    fast path and the views see the same actor.
    """
    _fixture_warehouse(home)
    current: list[Actor] = [LOCAL_ANALYST]
    monkeypatch.setattr(actor_mod, "RESOLVERS", [lambda request: current[0]])
    client = TestClient(create_app(home, inbox_interval=None))
    client.__enter__()

    def make(actor: Actor) -> TestClient:
        current[0] = actor
        return client

    yield make
    client.__exit__(None, None, None)


def test_viewer_gets_403_envelope_for_enterprise_data(client_for) -> None:  # type: ignore[no-untyped-def]
    c = client_for(VIEWER)
    r = c.get("/api/v1/enterprises", params={"q": "上海"})
    assert r.status_code == 403
    body = r.json()
    assert (
        body["ok"] is False
        and body["error"]["code"] == "forbidden"
        and "无权" in body["error"]["message"]
    )
    assert c.get("/api/v1/quarantine").status_code == 403
    assert c.get("/api/v1/definitions").status_code == 200
    assert c.get("/api/v1/me").json()["data"]["role"] == "viewer"


def test_district_scope_restricts_search_and_profile(client_for) -> None:  # type: ignore[no-untyped-def]
    c = client_for(PUDONG_ONLY)
    rows = c.get("/api/v1/enterprises", params={"q": "上海测试"}).json()["data"]["rows"]
    assert [r["region_code"] for r in rows] == ["310115"]
    assert c.get("/api/v1/enterprises/91310104MA1K000002/chain").status_code == 404
    assert c.get("/api/v1/enterprises/91310115MA1K000001/chain").status_code == 200
    # The enterprises behind an outbound figure are registered elsewhere.
    outbound = c.get("/api/v1/stats/outbound/enterprises", params={"period": "2018"})
    assert outbound.status_code == 403 and "本区" in outbound.json()["error"]["message"]


def test_answers_are_cached_per_role_not_shared(client_for) -> None:  # type: ignore[no-untyped-def]
    everyone = client_for(LOCAL_ANALYST)
    assert (
        len(everyone.get("/api/v1/enterprises", params={"q": "上海测试"}).json()["data"]["rows"])
        == 2
    )
    scoped = client_for(PUDONG_ONLY)
    assert (
        len(scoped.get("/api/v1/enterprises", params={"q": "上海测试"}).json()["data"]["rows"]) == 1
    )

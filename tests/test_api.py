"""The JSON API on demo-like data: envelope, figures, drill-down, pages of keys, exports, errors.

Expected figures come from ``crossinvest.analytics.query.stats`` run directly on
the warehouse, and from the command line (``crossinvest stats … --format json``)
run on an identical copy, never from the web code under test.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from crossinvest.web.app import create_app
from crossinvest.web.testing import demo_home
from tests.conftest import run_cli

MEASURES = (
    "enterprises",
    "new_enterprises",
    "investment_wan",
    "tax_wan",
    "revenue_wan",
    "employees",
)
CLI_QUERIES = [
    ("inbound", "origin_province", False),
    ("inbound", "district", False),
    ("inbound", "industry_section", True),
    ("outbound", "dest_province", False),
    ("outbound", "support_region", False),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    return demo_home(tmp_path_factory.mktemp("api") / "home")


@pytest.fixture(scope="module")
def cli_answers(tmp_path_factory: pytest.TempPathFactory, demo) -> dict:
    """What the command line prints, on an identical copy (the server locks its own)."""
    copy = demo_home(tmp_path_factory.mktemp("api-cli") / "home")
    year = _latest_year(copy)
    out = {"year": year}
    for kind, by, pen in CLI_QUERIES:
        args = ["stats", kind, "--period", str(year), "--by", by, "--format", "json"]
        proc = run_cli(*args, *(["--penetrate"] if pen else []), home=copy, check=True)
        out[(kind, by, pen)] = json.loads(proc.stdout)
    return out


def _latest_year(home) -> int:  # type: ignore[no-untyped-def]
    from crossinvest.warehouse.connection import connect

    with connect(home, read_only=True, migrate=False) as wh:
        return int(wh.con.execute("SELECT max(year(period)) FROM tax").fetchone()[0])


@pytest.fixture(scope="module")
def client(demo):  # type: ignore[no-untyped-def]
    with TestClient(create_app(demo, inbox_interval=None)) as c:
        yield c


@pytest.fixture(scope="module")
def year(client) -> int:  # type: ignore[no-untyped-def]
    return envelope(client.get("/api/v1/latest-year"))["data"]["year"]


def envelope(r, status: int = 200) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"ok", "data", "meta", "error"}
    assert {"generated_at", "definitions", "next"} <= set(body["meta"])
    if status < 400:
        assert body["ok"] is True and body["error"] is None
    else:
        assert body["ok"] is False and body["data"] is None
        assert {"code", "message", "message_en"} <= set(body["error"])
    return body


def expected_stats(client, kind, period, by, **kw):  # type: ignore[no-untyped-def]
    """Straight from the statistics layer, on a cursor of the server's own warehouse."""
    from crossinvest.analytics.query import stats

    cur = client.app.state.ci.cursor()
    try:
        return stats(cur, kind, period, by, **kw)
    finally:
        cur.close()


def close(a: dict, b: dict) -> None:
    for m in MEASURES:
        assert a[m] == pytest.approx(b[m], rel=1e-9, abs=1e-9), m


# --- figures ------------------------------------------------------------------------


@pytest.mark.parametrize("kind,by,pen", CLI_QUERIES)
def test_stats_equal_the_statistics_layer_and_the_cli(client, cli_answers, kind, by, pen) -> None:  # type: ignore[no-untyped-def]
    year = cli_answers["year"]
    params = {"period": str(year), "by": by} | ({"penetrate": "true"} if pen else {})
    body = envelope(client.get(f"/api/v1/stats/{kind}", params=params))
    data = body["data"]
    exp = expected_stats(client, kind, str(year), [by], penetrate=pen)
    cli = cli_answers[(kind, by, pen)]
    assert data["rows"], "demo data should give rows"
    assert len(data["rows"]) == len(exp.rows) == len(cli["rows"])
    for got, direct, printed in zip(data["rows"], exp.rows, cli["rows"], strict=True):
        assert got[by] == direct[by] == printed[by]
        assert got[f"{by}_name"] == direct[f"{by}_name"] == printed[f"{by}_name"]
        close(got, direct)
        close(got, printed)
    close(data["total"], exp.total)
    close(data["total"], cli["total"])
    assert body["meta"]["reference_date"] == cli["reference_date"] == f"{year}-12-31"
    assert body["meta"]["definitions"].startswith("/definitions#")


def test_filter_is_the_drill_down(client, year) -> None:  # type: ignore[no-untyped-def]
    """Zhejiang's (or the largest origin's) districts: the filter's total is that origin's row."""
    provinces = envelope(
        client.get("/api/v1/stats/inbound", params={"period": year, "by": "origin_province"})
    )
    top = max(
        (r for r in provinces["data"]["rows"] if r["origin_province"]),
        key=lambda r: r["investment_wan"],
    )
    code = top["origin_province"]
    body = envelope(
        client.get(
            "/api/v1/stats/inbound",
            params={"period": year, "by": "district", "origin_province": code},
        )
    )
    close(body["data"]["total"], top)
    both = expected_stats(client, "inbound", str(year), ["origin_province", "district"])
    mine = {r["district"]: r for r in body["data"]["rows"]}
    theirs = {r["district"]: r for r in both.rows if r["origin_province"] == code}
    assert mine.keys() == theirs.keys()
    for k in mine:
        close(mine[k], theirs[k])


def _list_all(client, params: dict) -> list[str]:  # type: ignore[no-untyped-def]
    """Every key of an enterprise list, page by page."""
    keys: list[str] = []
    cursor = None
    while True:
        body = envelope(
            client.get(
                "/api/v1/stats/inbound/enterprises",
                params={**params, **({"cursor": cursor} if cursor else {})},
            )
        )
        keys += [r["enterprise_key"] for r in body["data"]["rows"]]
        cursor = body["meta"]["next"]
        if cursor is None:
            return keys
        assert cursor == keys[-1]  # the cursor is the last key, not an offset


def test_enterprise_list_has_exactly_the_figures_enterprises(client, year) -> None:  # type: ignore[no-untyped-def]
    provinces = envelope(
        client.get("/api/v1/stats/inbound", params={"period": year, "by": "origin_province"})
    )
    rows = sorted(
        (r for r in provinces["data"]["rows"] if r["origin_province"]),
        key=lambda r: -r["enterprises"],
    )
    for row in rows[:3]:
        keys = _list_all(
            client, {"period": year, "origin_province": row["origin_province"], "limit": 7}
        )
        assert len(keys) == len(set(keys)) == row["enterprises"]
        assert keys == sorted(keys)
    for pen in (False, True):
        total = envelope(
            client.get(
                "/api/v1/stats/inbound",
                params={"period": year, "by": "industry_section", "penetrate": str(pen).lower()},
            )
        )["data"]["total"]
        listed = envelope(
            client.get(
                "/api/v1/stats/inbound/enterprises",
                params={"period": year, "limit": 1000, "penetrate": str(pen).lower()},
            )
        )["data"]["rows"]
        assert len(listed) == total["enterprises"]
        assert sum(r["investment_wan"] or 0 for r in listed) == pytest.approx(
            total["investment_wan"]
        )


def test_enterprise_list_filtered_on_the_enterprise_side(client, year) -> None:  # type: ignore[no-untyped-def]
    """A district filter leaves few candidates per round: the list pages through rounds."""
    by_district = envelope(
        client.get(
            "/api/v1/stats/inbound", params={"period": year, "by": "district", "penetrate": "true"}
        )
    )["data"]["rows"]
    for row in sorted(by_district, key=lambda r: r["enterprises"])[:2]:
        params = {"period": year, "district": row["district"], "penetrate": "true", "limit": 2}
        keys = _list_all(client, params)
        assert len(keys) == len(set(keys)) == row["enterprises"] and keys == sorted(keys)


def test_overview_equals_the_totals(client, year) -> None:  # type: ignore[no-untyped-def]
    body = envelope(client.get("/api/v1/overview", params={"kind": "inbound", "year": year}))
    d = body["data"]
    close(d["current"], expected_stats(client, "inbound", str(year), ["district"]).total)
    close(d["previous"], expected_stats(client, "inbound", str(year - 1), ["district"]).total)
    if d["previous"]["tax_wan"]:
        assert d["yoy"]["tax_wan"] == pytest.approx(
            d["current"]["tax_wan"] / d["previous"]["tax_wan"] - 1
        )
    assert [p["period"] for p in d["by_year"]][-1] == str(year)
    assert [p["period"] for p in d["by_quarter"]][-1] == f"{year}Q4"
    q4 = expected_stats(client, "inbound", f"{year}Q4", ["district"]).total
    close(d["by_quarter"][-1], q4)


# --- exports ------------------------------------------------------------------------


def test_exports_hold_the_same_table(client, year, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    params = {"period": year, "by": "origin_province"}
    data = envelope(client.get("/api/v1/stats/inbound", params=params))["data"]
    r = client.get("/api/v1/stats/inbound/export", params=params | {"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == len(data["rows"]) + 1 and rows[-1]["来源省份"] == "合计"
    for got, want in zip(rows, data["rows"], strict=False):
        assert got["来源省份代码"] == (want["origin_province"] or "")
        assert float(got["投资额（万元）"]) == pytest.approx(want["investment_wan"])
        assert int(got["企业数"]) == want["enterprises"]
    r = client.get("/api/v1/stats/inbound/export", params=params | {"format": "xlsx"})
    assert r.status_code == 200
    (tmp_path / "t.xlsx").write_bytes(r.content)
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").active
    header = [c.value for c in ws[1]]
    assert header[:2] == ["来源省份代码", "来源省份"] and "纳税额（万元）" in header
    tax_col = header.index("纳税额（万元）") + 1
    for i, want in enumerate(data["rows"], start=2):
        assert ws.cell(i, 2).data_type == "s"
        cell = ws.cell(i, tax_col)
        assert cell.data_type == "n" and cell.value == pytest.approx(want["tax_wan"])
    assert ws.cell(len(data["rows"]) + 2, 2).value == "合计"


@pytest.mark.parametrize("table", ["batches", "quarantine", "links"])
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_operational_exports(client, table, fmt) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"/api/v1/{table}/export", params={"format": fmt})
    assert r.status_code == 200
    if fmt == "csv":
        text = r.content.decode("utf-8-sig")
        n = len(envelope(client.get(f"/api/v1/{table}", params={"limit": 1000}))["data"]["rows"])
        assert len(list(csv.reader(io.StringIO(text)))) == n + 1


# --- lists, pages of keys -----------------------------------------------------------


def test_batches_page_by_key(client) -> None:  # type: ignore[no-untyped-def]
    all_rows = envelope(client.get("/api/v1/batches", params={"limit": 1000}))["data"]["rows"]
    assert len(all_rows) >= 4
    seen, cursor = [], None
    while True:
        body = envelope(
            client.get(
                "/api/v1/batches", params={"limit": 2} | ({"cursor": cursor} if cursor else {})
            )
        )
        seen += [r["batch"] for r in body["data"]["rows"]]
        cursor = body["meta"]["next"]
        if cursor is None:
            break
    assert seen == [r["batch"] for r in all_rows] == sorted(seen, reverse=True)


def test_quarantine_rows_carry_reasons_and_no_full_resident_id(client) -> None:  # type: ignore[no-untyped-def]
    import re

    from stdnum.cn import ric

    body = envelope(client.get("/api/v1/quarantine", params={"limit": 1000}))
    rows = body["data"]["rows"]
    assert rows, "the generator's noise should quarantine some rows"
    assert all(r["reasons"] and r["reasons"][0]["reason"] for r in rows)
    text = json.dumps(rows, ensure_ascii=False)
    birth = r"(?<![0-9A-Z])\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![0-9A-Z])"
    leaked = [m for m in re.findall(birth, text) if ric.is_valid(m)]
    assert leaked == [], "a resident ID leaked"
    first = rows[0]
    page = envelope(client.get("/api/v1/quarantine", params={"limit": 1}))
    assert page["meta"]["next"] == f"{first['batch']}:{first['row']}"


def test_freshness_and_search_and_profile(client, year) -> None:  # type: ignore[no-untyped-def]
    fresh = envelope(client.get("/api/v1/freshness"))["data"]["rows"]
    assert {f["source"] for f in fresh} == {"registry", "shareholders", "tax", "stats"}
    assert all(f["current_rows"] > 0 for f in fresh)
    listed = envelope(
        client.get("/api/v1/stats/inbound/enterprises", params={"period": year, "limit": 5})
    )
    ent = listed["data"]["rows"][0]
    found = envelope(client.get("/api/v1/enterprises", params={"q": ent["name"][2:8]}))["data"][
        "rows"
    ]
    assert ent["enterprise_key"] in [r["enterprise_key"] for r in found]
    by_code = envelope(client.get("/api/v1/enterprises", params={"q": ent["uscc"][:10]}))["data"][
        "rows"
    ]
    assert ent["uscc"] in [r["uscc"] for r in by_code]
    prof = envelope(client.get(f"/api/v1/enterprises/{ent['uscc']}"))["data"]
    assert ent["uscc"] in json.dumps(prof, ensure_ascii=False)
    chain = envelope(client.get(f"/api/v1/enterprises/{ent['uscc']}/chain"))["data"]
    assert chain["root"] == ent["uscc"] and chain["nodes"][0]["effective_share"] == 1.0
    ids = {n["id"] for n in chain["nodes"]}
    assert all(e["source"] in ids and e["target"] in ids for e in chain["edges"])
    assert len(chain["nodes"]) >= 2  # an inbound enterprise has at least one investor


# --- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url,params",
    [
        ("/api/v1/stats/inbound", {"period": "2018x", "by": "district"}),
        ("/api/v1/stats/inbound", {"period": "2018", "by": "dest_province"}),
        ("/api/v1/stats/inbound", {"period": "2018"}),
        ("/api/v1/stats/inbound", {"period": "2018", "by": "district", "origin_province": "zj"}),
        ("/api/v1/stats/inbound/export", {"period": "2018", "by": "district", "format": "pdf"}),
        ("/api/v1/batches", {"limit": 0}),
        ("/api/v1/quarantine", {"cursor": "x"}),
        ("/api/v1/overview", {"kind": "sideways"}),
        ("/api/v1/enterprises", {"q": ""}),
    ],
)
def test_bad_input_is_a_400_envelope(client, url, params) -> None:  # type: ignore[no-untyped-def]
    body = envelope(client.get(url, params=params), 400)
    assert body["error"]["code"] == "bad_request"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]["message"])  # Chinese first


def test_not_found_is_a_404_envelope(client) -> None:  # type: ignore[no-untyped-def]
    envelope(client.get("/api/v1/enterprises/91310000000000000X"), 404)
    envelope(client.get("/api/v1/no-such-thing"), 404)
    envelope(client.get("/api/v1/loads/999999"), 404)
    envelope(client.post("/api/v1/overview"), 405)


def test_openapi_documents_every_api_route(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/v1/openapi.json").json()
    paths = set(spec["paths"])
    for must in (
        "/api/v1/stats/inbound",
        "/api/v1/stats/outbound/export",
        "/api/v1/overview",
        "/api/v1/enterprises/{key}/chain",
        "/api/v1/quarantine",
        "/api/v1/loads/upload",
    ):
        assert must in paths
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "/static/vendor/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()

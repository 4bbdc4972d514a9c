"""Every page on demo-like data: it renders, its numbers are the API's, it links nowhere outside.

Pages are parsed with the standard library's HTML parser: each statistics table
sits in a block carrying ``data-api`` (the API query it shows), each number cell
carries its raw value in ``data-value``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient

from crossinvest.web.app import create_app
from crossinvest.web.datasets.docs import ANCHOR
from crossinvest.web.testing import demo_home

MEASURES = (
    "enterprises",
    "new_enterprises",
    "investment_wan",
    "tax_wan",
    "revenue_wan",
    "employees",
)


class Tables(HTMLParser):
    """Collects {data-api: {row code: {measure: value}}} and every URL the page refers to."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks: dict[str, dict[str, dict[str, str]]] = {}
        self.urls: list[str] = []
        self.ids: set[str] = set()
        self._api: str | None = None
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        for k in ("href", "src", "action"):
            if a.get(k):
                self.urls.append(a[k] or "")
        if tag == "section" and a.get("data-api"):
            self._api = a["data-api"]
            self.blocks[self._api or ""] = {}
        if tag == "tr" and self._api and "data-code" in a:
            self._row = a["data-code"]
            self.blocks[self._api][self._row or ""] = {}
        if tag == "td" and self._row is not None and self._api and a.get("data-measure"):
            self.blocks[self._api][self._row][a["data-measure"] or ""] = a.get("data-value") or ""


def parse(html: str) -> Tables:
    p = Tables()
    p.feed(html)
    return p


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = demo_home(tmp_path_factory.mktemp("pages") / "home")
    with TestClient(create_app(home, inbox_interval=None)) as c:
        yield c


@pytest.fixture(scope="module")
def year(client) -> int:  # type: ignore[no-untyped-def]
    return client.get("/api/v1/latest-year").json()["data"]["year"]


def page(client: TestClient, url: str, **params) -> str:  # type: ignore[no-untyped-def]
    r = client.get(url, params=params, headers={"accept": "text/html"})
    assert r.status_code == 200, r.text[:800]
    assert r.headers["content-type"].startswith("text/html")
    return r.text


def assert_tables_equal_api(client: TestClient, html: str) -> int:
    """Every table's cells equal its API answer; returns the number of cells compared."""
    compared = 0
    tables = parse(html).blocks
    assert tables
    for api, rows in tables.items():
        data = client.get(api).json()["data"]
        by = data["by"][0]
        want = {
            ("__total__" if r is data["total"] else (r[by] or "")): r
            for r in [*data["rows"], data["total"]]
        }
        assert set(rows) == set(want), api
        for code, cells in rows.items():
            for m in MEASURES:
                got = cells[m]
                exp = want[code][m]
                if exp is None:
                    assert got == ""
                else:
                    assert float(got) == pytest.approx(exp, rel=1e-12, abs=1e-9), (api, code, m)
                compared += 1
    return compared


def test_every_page_renders(client, year) -> None:  # type: ignore[no-untyped-def]
    for url in ("/", "/inbound", "/outbound", "/enterprises", "/data", "/definitions"):
        html = page(client, url)
        assert "<h1>" in html and "/static/app.css" in html
        assert "/static/vendor/echarts.min.js" in html
    assert "'Noto Sans CJK SC'" in client.get("/static/app.css").text  # the system CJK font


def test_no_page_loads_anything_from_another_host(client, year) -> None:  # type: ignore[no-untyped-def]
    urls: list[str] = []
    for url in (
        "/",
        "/inbound",
        "/outbound",
        "/enterprises?q=上海",
        "/data",
        "/definitions",
        "/api/docs",
    ):
        html = page(client, url)
        urls += parse(html).urls
        # also anything in inline scripts or styles
        urls += re.findall(r"(?:src|href)\s*=\s*[\"']([^\"']+)", html)
    external = [
        u
        for u in urls
        if re.match(r"^(https?:)?//", u) and "127.0.0.1" not in u and "localhost" not in u
    ]
    assert external == []
    for asset in (
        "/static/app.css",
        "/static/app.js",
        "/static/vendor/echarts.min.js",
        "/static/vendor/china.geo.json",
        "/static/vendor/swagger-ui-bundle.js",
    ):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.content) > 1000, asset  # served by the app itself


def test_overview_cards_equal_the_api(client, year) -> None:  # type: ignore[no-untyped-def]
    html = page(client, "/")
    api = client.get("/api/v1/overview", params={"kind": "inbound", "year": year}).json()["data"][
        "current"
    ]
    block = html.split('id="overview-inbound"')[1].split("</section>")[0]
    for m in MEASURES:
        value = re.search(rf'class="card" data-measure="{m}" data-value="([^"]*)"', block)
        assert value and float(value.group(1)) == pytest.approx(api[m]), m


@pytest.mark.parametrize(
    "flow,dim", [("inbound", "origin_province"), ("outbound", "dest_province")]
)
def test_flow_pages_show_the_api_tables_and_drill_down(client, year, flow, dim) -> None:  # type: ignore[no-untyped-def]
    html = page(client, f"/{flow}")
    assert assert_tables_equal_api(client, html) > 20
    assert 'data-chart="map"' in html
    rows = client.get(f"/api/v1/stats/{flow}", params={"period": year, "by": dim}).json()["data"][
        "rows"
    ]
    top = max((r for r in rows if r[dim]), key=lambda r: r["investment_wan"])
    link = f"/{flow}?period={year}&amp;province={top[dim]}"
    assert link in html  # the table (and the map) link into the province
    drilled = page(client, f"/{flow}", period=year, province=top[dim])
    assert top[f"{dim}_name"] in drilled
    assert assert_tables_equal_api(client, drilled) > 10
    apis = parse(drilled).blocks
    assert any(f"{dim}={top[dim]}" in a for a in apis)  # tables filtered to the province
    # the enterprise list of the drilled province, linked to profiles
    assert 'id="enterprises"' in drilled and "/enterprises/" in drilled


def test_penetration_switch_and_period_picker(client, year) -> None:  # type: ignore[no-untyped-def]
    html = page(client, "/inbound", period=f"{year}Q2", penetrate="true")
    assert 'name="penetrate" value="true" checked' in html
    assert f'<option value="{year}Q2" selected>' in html
    apis = list(parse(html).blocks)
    assert all("penetrate=true" in a and f"period={year}Q2" in a for a in apis)
    assert_tables_equal_api(client, html)


def test_enterprise_search_and_profile_pages(client, year) -> None:  # type: ignore[no-untyped-def]
    ent = client.get(
        "/api/v1/stats/inbound/enterprises", params={"period": year, "limit": 5}
    ).json()["data"]["rows"][0]
    html = page(client, "/enterprises", q=ent["uscc"])
    assert f'href="/enterprises/{ent["uscc"]}"' in html
    prof = page(client, f"/enterprises/{ent['uscc']}")
    assert ent["name"] in prof and 'data-chart="graph"' in prof
    assert f"/definitions#{ANCHOR['penetrate']}" in prof


def test_data_page_lists_batches_quarantine_and_freshness(client) -> None:  # type: ignore[no-untyped-def]
    html = page(client, "/data")
    batches = client.get("/api/v1/batches", params={"limit": 50}).json()["data"]["rows"]
    for b in batches:
        assert f'data-batch="{b["batch"]}"' in html
    for source in ("registry", "shareholders", "tax", "stats"):
        assert f'data-source="{source}"' in html
    q = client.get("/api/v1/quarantine", params={"limit": 1}).json()["data"]["rows"]
    if q:
        assert q[0]["reasons"][0]["reason"] in html
    assert 'enctype="multipart/form-data"' in html


def test_every_figure_links_to_an_existing_definition(client, year) -> None:  # type: ignore[no-untyped-def]
    ids = parse(page(client, "/definitions")).ids
    for anchor in ANCHOR.values():
        assert anchor in ids, anchor
    for url in ("/", "/inbound", "/outbound"):
        html = page(client, url)
        anchors = re.findall(r'href="/definitions#([^"]+)"', html)
        assert anchors and set(anchors) <= ids
        # every table and every card carries a link
        assert html.count('class="def"') >= html.count('class="card"') + html.count(
            '<table class="stats"'
        )


def test_english_switch_sets_a_cookie(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/inbound", params={"lang": "en"}, headers={"accept": "text/html"})
    assert r.status_code == 200 and "Investment into Shanghai" in r.text and 'lang="en"' in r.text
    assert "lang=en" in r.headers.get("set-cookie", "")
    again = client.get("/outbound", headers={"accept": "text/html"})  # the cookie carries over
    assert "Shanghai investment elsewhere" in again.text
    back = client.get("/outbound", params={"lang": "zh"}, headers={"accept": "text/html"})
    assert "上海在外地投资" in back.text


def test_bad_page_input_is_a_page_not_a_crash(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/inbound", params={"period": "1800"}, headers={"accept": "text/html"})
    assert r.status_code == 400 and "<h1>" in r.text and "period" in r.text
    r = client.get("/enterprises/NOPE", headers={"accept": "text/html"})
    assert r.status_code in (400, 404) and "<h1>" in r.text


def test_export_links_on_pages_answer(client, year) -> None:  # type: ignore[no-untyped-def]
    html = page(client, "/inbound")
    links = [u.replace("&amp;", "&") for u in parse(html).urls if "/export?" in u]
    assert any("format=xlsx" in u for u in links) and any("format=csv" in u for u in links)
    for u in links[:6]:
        r = client.get(u)
        assert r.status_code == 200, u
        fmt = parse_qs(urlparse(u).query)["format"][0]
        assert r.content.startswith(b"PK" if fmt == "xlsx" else b"\xef\xbb\xbf")


def test_warm_up_fills_the_cache_with_the_main_pages(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import time

    home = demo_home(tmp_path_factory.mktemp("warm") / "home")
    app = create_app(home, inbox_interval=None, warm=True)
    with TestClient(app) as c:
        deadline = time.monotonic() + 300
        while c.get("/api/v1/health").json()["data"]["warming_up"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        cache = app.state.ci.cache
        hits = cache.hits
        html = page(c, "/inbound")
        for api in parse(html).blocks:
            assert c.get(api).status_code == 200
        assert cache.hits - hits == 1 + len(parse(html).blocks)  # every one answered from the cache
        # The warm-up also answered the API queries of each flow page drilled into its
        # first province and with the penetration switch on (checked on the cache's
        # keys: a page rendered here would fill the cache with its queries itself).
        warmed = [k[1][:2] for k in list(cache._data)]
        for flow in ("inbound", "outbound"):
            drill = re.search(rf'href="/{flow}\?[^"]*province=(\d+)', page(c, f"/{flow}"))
            assert drill, f"the {flow} page links no province"
            apis = [params for path, params in warmed if path == f"/api/v1/stats/{flow}"]
            assert any(drill.group(1) in dict(params).values() for params in apis), flow
            assert any(dict(params).get("penetrate") == "true" for params in apis), flow

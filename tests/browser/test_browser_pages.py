"""Every page in a real browser: charts and the map draw, numbers are the API's, clicks drill down.

Screenshots of each page go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import openpyxl
import pytest

from tests.browser.conftest import screenshot

pytestmark = pytest.mark.browser

MEASURES = (
    "enterprises",
    "new_enterprises",
    "investment_wan",
    "tax_wan",
    "revenue_wan",
    "employees",
)

# Per chart: its kind, how much data its first series holds, and how many canvas
# pixels are not background (a blank canvas has none).
CHART_STATE = """
() => Object.entries(window.__ci.charts).map(([id, c]) => {
  const canvas = document.getElementById(id).querySelector('canvas');
  const ctx = canvas.getContext('2d');
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 0; i < img.length; i += 4) {
    if (img[i + 3] > 0 && (img[i] < 235 || img[i + 1] < 235 || img[i + 2] < 235)) ink++;
  }
  const opt = c.getOption();
  return {id, type: opt.series[0].type, points: (opt.series[0].data || []).length, ink,
          data: opt.series[0].type === 'map' ? opt.series[0].data.map(d => [d.name, d.value]) : null};
})
"""

# Every statistics table on the page: its API query and its cells' raw values.
TABLES = """
() => Array.from(document.querySelectorAll('section[data-api]')).filter(s => s.querySelector('table.stats'))
  .map(s => ({api: s.dataset.api, rows: Array.from(s.querySelectorAll('tr[data-code]')).map(tr => ({
    code: tr.dataset.code,
    cells: Object.fromEntries(Array.from(tr.querySelectorAll('td[data-measure]'))
      .map(td => [td.dataset.measure, td.dataset.value]))}))}))
"""


def api(base: str, path: str) -> dict:
    with urllib.request.urlopen(base + path, timeout=60) as r:
        body = json.loads(r.read())
    assert body["ok"], body
    return body["data"]


DRAWN = (
    "window.__ci && window.__ci.ready && "
    "Object.keys(window.__ci.charts).every(id => window.__ci.finished[id])"
)


def drawn(page):  # type: ignore[no-untyped-def]
    """Wait until every chart has finished its first rendering, then read them."""
    page.wait_for_function(DRAWN, timeout=60000)
    return page.evaluate(CHART_STATE)


def open_page(page, url: str):  # type: ignore[no-untyped-def]
    resp = page.goto(url)
    assert resp is not None and resp.status == 200, url
    return drawn(page)


def check_charts(charts: list[dict], expect: set[str]) -> None:
    kinds = {c["type"] for c in charts}
    assert expect <= kinds, (expect, kinds)
    for c in charts:
        assert c["points"] > 0, c["id"]
        assert c["ink"] > 500, f"{c['id']} looks blank ({c['ink']} pixels)"


def check_tables_equal_api(base: str, tables: list[dict]) -> int:
    n = 0
    for t in tables:
        data = api(base, t["api"])
        by = data["by"][0]
        want = {(r[by] or ""): r for r in data["rows"]} | {"__total__": data["total"]}
        got = {r["code"]: r["cells"] for r in t["rows"]}
        assert set(got) == set(want), t["api"]
        for code, cells in got.items():
            for m in MEASURES:
                exp = want[code][m]
                assert (cells[m] == "") if exp is None else float(cells[m]) == pytest.approx(exp), (
                    t["api"],
                    code,
                    m,
                )
                n += 1
    return n


def test_overview(server: str, page) -> None:  # type: ignore[no-untyped-def]
    charts = open_page(page, server + "/")
    check_charts(charts, {"bar"})
    year = api(server, "/api/v1/latest-year")["year"]
    current = api(server, f"/api/v1/overview?kind=inbound&year={year}")["current"]
    cards = page.evaluate(
        "() => Object.fromEntries(Array.from(document.querySelectorAll('#overview-inbound .card'))"
        ".map(c => [c.dataset.measure, c.dataset.value]))"
    )
    for m in MEASURES:
        assert float(cards[m]) == pytest.approx(current[m]), m
    assert page.errors == []
    screenshot(page, "overview")


@pytest.mark.parametrize(
    "flow,dim", [("inbound", "origin_province"), ("outbound", "dest_province")]
)
def test_flow_page_map_tables_and_drill_down(server: str, page, flow: str, dim: str) -> None:  # type: ignore[no-untyped-def]
    year = api(server, "/api/v1/latest-year")["year"]
    charts = open_page(page, f"{server}/{flow}")
    check_charts(charts, {"map", "bar"})
    rows = api(server, f"/api/v1/stats/{flow}?period={year}&by={dim}")["rows"]
    map_data = dict(next(c for c in charts if c["type"] == "map")["data"])
    for r in rows:
        if r[dim]:
            assert map_data[r[dim]] == pytest.approx(r["investment_wan"]), r[dim]
    assert check_tables_equal_api(server, page.evaluate(TABLES)) > 20
    screenshot(page, flow)

    # click the largest province in the table: the page drills into it
    top = max((r for r in rows if r[dim]), key=lambda r: r["investment_wan"])
    page.click(f"#by-{dim} tr[data-code='{top[dim]}'] a")
    page.wait_for_url(f"**province={top[dim]}**")
    page.wait_for_function("window.__ci && window.__ci.ready", timeout=60000)
    assert top[f"{dim}_name"] in page.inner_text(".crumbs")
    tables = page.evaluate(TABLES)
    assert all(f"{dim}={top[dim]}" in t["api"] for t in tables[1:])
    check_tables_equal_api(server, tables)
    assert page.locator("#enterprises tbody tr").count() > 0
    assert page.errors == []
    screenshot(page, f"{flow}-drilled")


def test_answering_the_question_by_clicking(server: str, page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """How much did Zhejiang (or the largest origin) invest in Shanghai, in which districts, and the tax?"""
    year = api(server, "/api/v1/latest-year")["year"]
    rows = api(server, f"/api/v1/stats/inbound?period={year}&by=origin_province")["rows"]
    zj = next((r for r in rows if r["origin_province"] == "330000"), None) or max(
        (r for r in rows if r["origin_province"]), key=lambda r: r["investment_wan"]
    )
    open_page(page, server + "/")
    page.click("nav >> text=来沪投资")
    page.wait_for_function("window.__ci && window.__ci.ready", timeout=60000)
    page.click(f"#by-origin_province a:text-is('{zj['origin_province_name']}')")
    page.wait_for_function("window.__ci && window.__ci.ready", timeout=60000)
    cards = page.evaluate(
        "() => Object.fromEntries(Array.from(document.querySelectorAll('.cards .card'))"
        ".map(c => [c.dataset.measure, c.dataset.value]))"
    )
    assert float(cards["investment_wan"]) == pytest.approx(zj["investment_wan"])
    assert float(cards["tax_wan"]) == pytest.approx(zj["tax_wan"])
    districts = api(
        server,
        f"/api/v1/stats/inbound?period={year}&by=district&origin_province={zj['origin_province']}",
    )
    with page.expect_download() as dl:
        page.click("#by-district .exports a:text-is('导出 Excel')")
    path = tmp_path / "districts.xlsx"
    dl.value.save_as(path)
    ws = openpyxl.load_workbook(path).active
    header = [c.value for c in ws[1]]
    inv, tax = header.index("投资额（万元）") + 1, header.index("纳税额（万元）") + 1
    for i, r in enumerate(districts["rows"], start=2):
        assert ws.cell(i, 1).value == r["district"]
        assert ws.cell(i, inv).value == pytest.approx(r["investment_wan"])
        assert ws.cell(i, tax).value == pytest.approx(r["tax_wan"])
    screenshot(page, "question-zhejiang")


def test_enterprise_search_and_profile(server: str, page) -> None:  # type: ignore[no-untyped-def]
    year = api(server, "/api/v1/latest-year")["year"]
    ent = api(server, f"/api/v1/stats/inbound/enterprises?period={year}&limit=5")["rows"][0]
    open_page(page, server + "/enterprises")
    page.fill("input[name=q]", ent["uscc"])
    page.press("input[name=q]", "Enter")
    page.wait_for_selector("#search-results")
    page.click(f"#search-results a[href='/enterprises/{ent['uscc']}']")
    # Wait for the charts to finish drawing (the graph lays itself out over
    # several frames), not only for the page to be ready.
    page.wait_for_url(f"**/enterprises/{ent['uscc']}")
    charts = drawn(page)
    check_charts(charts, {"graph"})
    chain = api(server, f"/api/v1/enterprises/{ent['uscc']}/chain")
    graph = next(c for c in charts if c["type"] == "graph")
    assert graph["points"] == len(chain["nodes"])
    assert ent["name"] in page.inner_text("h1")
    assert page.errors == []
    screenshot(page, "enterprise")


@pytest.mark.parametrize(
    "path,name",
    [
        ("/data", "data"),
        ("/definitions", "definitions"),
        ("/inbound?lang=en", "inbound-en"),
        ("/api/docs", "api-docs"),
    ],
)
def test_other_pages(server: str, page, path: str, name: str) -> None:  # type: ignore[no-untyped-def]
    resp = page.goto(server + path)
    assert resp is not None and resp.status == 200
    if name == "api-docs":
        page.wait_for_selector(".swagger-ui .opblock", timeout=60000)
    else:
        page.wait_for_function("window.__ci && window.__ci.ready", timeout=60000)
    assert page.errors == []
    screenshot(page, name)

"""The link list of the 数据 page and API: each link with the name of the record it ties."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from crossinvest.warehouse.connection import connect
from crossinvest.web.app import create_app
from crossinvest.web.testing import demo_home

# Independent of the dataset's SQL: a record's name straight from the tax or stats rows.
NAMES = """
SELECT l.source, l.record_key, l.status,
       CASE l.source
         WHEN 'tax' THEN (SELECT any_value(taxpayer_name) FROM tax t WHERE t.taxpayer_key = l.record_key)
         ELSE (SELECT any_value(name) FROM stats s WHERE s.unit_key = l.record_key)
       END AS record_name
FROM record_links l
"""


def test_links_carry_their_record_names(tmp_path: Path) -> None:
    home = demo_home(tmp_path / "home", enterprises=400)
    with connect(home) as wh:
        cur = wh.con.execute(NAMES)
        want = {(r[0], r[1]): (r[2], r[3]) for r in cur.fetchall()}
    statuses = {s for s, _ in want.values()}
    assert want and statuses, "the generated data produces links"
    seen = 0
    with TestClient(create_app(home, inbox_interval=None)) as c:
        for status in statuses:
            rows = c.get("/api/v1/links", params={"status": status, "limit": 500}).json()["data"][
                "rows"
            ]
            assert rows
            for r in rows:
                assert (status, r["record_name"]) == want[(r["source"], r["record_key"])]
                seen += 1
    assert seen > 0 and any(name for _, name in want.values())

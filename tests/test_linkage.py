"""Record linkage: bands, decisions that persist, rollbacks, figures, quality.

Rows are written straight into the warehouse tables (the loader has its own
tests) and linkage is driven through ``lifecycle.on_load``/``on_rollback``, the
functions the plugin's hooks call inside the load's transaction.
"""

from __future__ import annotations

import json

import pytest

from crossinvest.linkage import lifecycle, synth
from crossinvest.linkage.engine import Bands
from crossinvest.linkage.review import LinkError, decide, manual_link, queue, relink
from crossinvest.plugins import get_plugin_manager
from crossinvest.warehouse.connection import connect, transaction

# Enterprises of the hand-made fixture (USCC check characters are not checked here).
REG = [
    ("913101150000000011", "上海达泰建设有限公司"),
    ("913101150000000022", "上海恒通物流股份有限公司"),
    ("913101040000000033", "上海宏图实业集团有限公司"),
    ("913101040000000044", "上海宏图实业有限公司"),
    ("913101070000000055", "上海锦程贸易有限公司"),
]


def add_batch(con, batch_id: int, source: str, n: int) -> None:
    con.execute(
        "INSERT INTO batches VALUES (?, ?, ?, ?, NULL, 'csv', 'utf-8', ?, ?, 0, 0, 'loaded', now(), NULL, 0)",
        [batch_id, source, f"{source}-{batch_id}.csv", f"sha-{batch_id}", n, n],
    )


def add_registry(con, batch_id: int, rows: list[tuple[str, str]]) -> None:
    add_batch(con, batch_id, "registry", len(rows))
    con.executemany(
        "INSERT INTO registry_rows (batch_id, row_no, is_current, enterprise_key, uscc, name, established_on, "
        "region_code) VALUES (?, ?, true, ?, ?, ?, DATE '2010-01-01', substr(?, 3, 6))",
        [[batch_id, i + 1, u, u, n, u] for i, (u, n) in enumerate(rows)],
    )


def add_tax(
    con, batch_id: int, rows: list[tuple[str | None, str, float]], valid: bool = False
) -> None:
    """Tax rows (id, name, 万元); the key is the id, else 'N:' + name, as the loader makes it."""
    add_batch(con, batch_id, "tax", len(rows))
    con.executemany(
        "INSERT INTO tax_rows (batch_id, row_no, is_current, taxpayer_key, taxpayer_id, taxpayer_uscc, "
        "taxpayer_name, period, tax_type, tax_type_key, tax_paid_wan) "
        "VALUES (?, ?, true, ?, ?, ?, ?, DATE '2018-03-01', '增值税', '增值税', ?)",
        [
            [batch_id, i + 1, i_d or f"N:{n}", i_d, i_d if valid else None, n, amt]
            for i, (i_d, n, amt) in enumerate(rows)
        ],
    )


def load(con, batch_id: int, source: str):
    with transaction(con):
        return lifecycle.on_load(con, batch_id, source)


def rollback(con, batch_id: int, source: str) -> None:
    """What warehouse.rollback does for a batch that superseded nothing, then the hook."""
    with transaction(con):
        con.execute(f"DELETE FROM {source}_rows WHERE batch_id = {batch_id}")
        con.execute(f"UPDATE batches SET status = 'rolled_back' WHERE batch_id = {batch_id}")
        lifecycle.on_rollback(con, batch_id, source)


def links(con, where: str = "true") -> list[dict]:
    cur = con.execute(f"SELECT * FROM record_links WHERE {where} ORDER BY link_id")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def tax_of(con, enterprise_key: str) -> float:
    return con.execute(
        "SELECT coalesce(sum(tax_paid_wan), 0) FROM tax_linked WHERE enterprise_key = ?",
        [enterprise_key],
    ).fetchall()[0][0]


@pytest.fixture
def wh(home):
    w = connect(home)
    yield w
    w.close()


@pytest.fixture
def reg(wh):
    add_registry(wh.con, 1, REG)
    load(wh.con, 1, "registry")
    return wh


def test_plugin_links_before_statistics():
    pm = get_plugin_manager()
    impls = [
        i
        for i in pm.hook.after_load.get_hookimpls()
        if i.plugin_name == "crossinvest.linkage.plugin"
    ]
    assert impls and impls[0].tryfirst
    names = [i.plugin_name for i in pm.hook.after_load.get_hookimpls()]
    if "crossinvest.analytics.plugin" in names:  # pluggy calls the list last-first
        assert names.index("crossinvest.linkage.plugin") > names.index(
            "crossinvest.analytics.plugin"
        )


def test_each_band(reg):
    con = reg.con
    add_tax(
        con,
        2,
        [
            (
                None,
                "上海达泰建设有限责任公司（分公司）",
                10.0,
            ),  # exact name after normalisation: auto
            (
                None,
                "上海恒通物流有限公司",
                20.0,
            ),  # 股份 registered, 有限 here: same core, other form: review
            (None, "上海永盛餐饮管理有限公司", 30.0),  # nobody: not stored
            ("913101070000000056", "上海锦程贸易有限公司", 40.0),  # mistyped USCC + name: auto
        ],
    )
    load(con, 2, "tax")
    bands = Bands.from_settings(reg.home.settings())
    by_key = {r["record_key"]: r for r in links(con)}
    auto = by_key["N:上海达泰建设有限责任公司（分公司）"]
    review = by_key["N:上海恒通物流有限公司"]
    assert (auto["status"], auto["enterprise_key"], auto["method"]) == ("auto", REG[0][0], "splink")
    assert auto["weight"] >= bands.accept
    assert (review["status"], review["enterprise_key"]) == ("review", REG[1][0])
    assert bands.review <= review["weight"] < bands.accept
    assert "N:上海永盛餐饮管理有限公司" not in by_key
    typo = by_key["913101070000000056"]
    assert typo["status"] == "auto" and typo["enterprise_key"] == REG[4][0]
    assert typo["weight"] > auto["weight"]  # the near-USCC adds evidence
    detail = json.loads(auto["detail"])
    assert detail["name"] > 0 and "runner_up" in detail


def test_bands_follow_the_settings(reg):
    con = reg.con
    reg.home.settings_file.write_text(
        json.dumps({"link_accept_weight": 60, "link_review_weight": -100})
    )
    add_tax(con, 2, [(None, "上海达泰建设有限公司", 1.0), (None, "上海永盛餐饮管理有限公司", 1.0)])
    load(con, 2, "tax")
    got = {r["record_key"]: r["status"] for r in links(con)}
    assert got["N:上海达泰建设有限公司"] == "review"
    assert "N:上海永盛餐饮管理有限公司" not in got  # no candidate shares a blocking key


def test_group_is_not_confused_with_its_namesake(reg):
    con = reg.con
    add_tax(
        con, 2, [(None, "上海宏图实业集团有限责任公司", 1.0), (None, "上海宏图实业有限公司", 2.0)]
    )
    load(con, 2, "tax")
    got = {
        r["record_key"]: (r["enterprise_key"], r["status"]) for r in links(con, "status = 'auto'")
    }
    assert got["N:上海宏图实业集团有限责任公司"] == (REG[2][0], "auto")
    assert got["N:上海宏图实业有限公司"] == (REG[3][0], "auto")


def test_a_name_two_enterprises_share_is_not_linked_automatically(wh):
    con = wh.con
    synth.make_registry(con, 9, 2000, seed=5)  # a realistic registry around them
    twins = [
        ("913101150000000066", "上海达泰建设有限公司"),
        ("913101040000000077", "上海市达泰建设有限责任公司"),
    ]
    add_registry(con, 1, REG[1:] + twins)
    with transaction(con):
        lifecycle.on_load(con, 9, "registry")
        lifecycle.on_load(con, 1, "registry")
    add_tax(con, 2, [(None, "上海达泰建设有限公司", 1.0), (None, "上海锦程贸易有限公司", 2.0)])
    load(con, 2, "tax")
    by_ent = {r["enterprise_key"]: r for r in links(con)}
    assert by_ent[REG[4][0]]["status"] == "auto"  # a unique name still links
    assert all(by_ent.get(t)["status"] == "review" for t, _ in twins if t in by_ent)
    assert tax_of(con, twins[0][0]) == 0 and tax_of(con, twins[1][0]) == 0


def test_legacy_numbers_link_deterministically(reg):
    con = reg.con
    con.execute(
        "UPDATE registry_rows SET reg_no = '310115000123456' WHERE enterprise_key = ?", [REG[1][0]]
    )
    con.execute("DELETE FROM link_enterprises")
    lifecycle.rebuild_enterprises(con)
    add_tax(con, 2, [("310115000123456", "恒通", 1.0), (REG[0][0][2:17], "达泰", 2.0)])
    load(con, 2, "tax")
    got = {
        r["record_key"]: (r["enterprise_key"], r["method"], json.loads(r["detail"])["rule"])
        for r in links(con)
    }
    assert got["310115000123456"] == (REG[1][0], "regno", "reg_no")
    assert got[REG[0][0][2:17]] == (REG[0][0], "regno", "tax15")


def test_valid_uscc_rows_are_not_linked_again(reg):
    con = reg.con
    add_tax(con, 2, [(REG[0][0], "上海达泰建设有限公司", 5.0)], valid=True)
    load(con, 2, "tax")
    assert links(con) == []
    assert tax_of(con, REG[0][0]) == pytest.approx(5.0)


def test_rejected_link_stays_rejected_after_next_load(reg):
    con = reg.con
    add_tax(con, 2, [(None, "上海达泰建设有限公司", 7.0)])
    load(con, 2, "tax")
    (first,) = links(con)
    out = decide(con, first["link_id"], "rejected", "analyst")
    assert out["status"] == "rejected"
    assert tax_of(con, REG[0][0]) == 0
    # The same record delivered again (next month), and a registry reload: never proposed again.
    add_tax(con, 3, [(None, "上海达泰建设有限公司", 8.0)])
    load(con, 3, "tax")
    relink(con)
    pair = links(con, f"record_key = 'N:上海达泰建设有限公司' AND enterprise_key = '{REG[0][0]}'")
    assert [p["status"] for p in pair] == ["rejected"]
    assert tax_of(con, REG[0][0]) == 0


def test_rolled_back_batch_takes_its_links_with_it(reg):
    con = reg.con
    add_tax(con, 2, [(None, "上海达泰建设有限公司", 1.0)])
    load(con, 2, "tax")
    add_tax(con, 3, [(None, "上海锦程贸易有限公司", 2.0), (None, "上海恒通物流有限公司", 3.0)])
    load(con, 3, "tax")
    assert {r["batch_id"] for r in links(con)} == {2, 3}
    rollback(con, 3, "tax")
    assert {r["batch_id"] for r in links(con)} == {2}
    assert tax_of(con, REG[4][0]) == 0 and tax_of(con, REG[0][0]) == pytest.approx(1.0)


def test_rollback_keeps_links_of_records_still_delivered(reg):
    con = reg.con
    add_tax(con, 2, [(None, "上海达泰建设有限公司", 1.0)])
    load(con, 2, "tax")
    add_tax(con, 3, [(None, "上海达泰建设有限公司", 2.0)])  # next month: already linked
    load(con, 3, "tax")
    rollback(con, 2, "tax")
    (link,) = links(con, "status = 'auto'")
    assert link["batch_id"] == 3 and link["enterprise_key"] == REG[0][0]
    assert tax_of(con, REG[0][0]) == pytest.approx(2.0)


def test_figures_change_when_a_link_is_accepted(reg):
    con = reg.con
    add_tax(con, 2, [(None, "上海恒通物流有限公司", 20.0)])
    load(con, 2, "tax")
    (item,) = queue(con)
    assert item["enterprise_key"] == REG[1][0] and item["amount_wan"] == pytest.approx(20.0)
    before = tax_of(con, REG[1][0])
    decide(con, item["id"], "accepted", "analyst")
    assert tax_of(con, REG[1][0]) == pytest.approx(before + 20.0)
    assert links(con)[0]["reviewer"] == "analyst" and links(con)[0]["decided_at"] is not None
    assert queue(con) == []


def test_manual_link_replaces_the_model_link(reg):
    con = reg.con
    add_tax(con, 2, [(None, "上海达泰建设有限公司", 3.0)])
    load(con, 2, "tax")
    out = manual_link(con, "N:上海达泰建设有限公司", REG[4][0], "analyst")
    assert out["method"] == "manual"
    assert tax_of(con, REG[4][0]) == pytest.approx(3.0) and tax_of(con, REG[0][0]) == 0
    statuses = {(r["enterprise_key"], r["method"]): r["status"] for r in links(con)}
    assert statuses == {(REG[0][0], "splink"): "rejected", (REG[4][0], "manual"): "accepted"}
    with pytest.raises(LinkError):
        manual_link(con, "N:不存在", REG[0][0], "analyst")


def test_registry_load_retries_unlinked_records_and_rollback_drops_them(wh):
    con = wh.con
    add_registry(con, 1, REG[:2])
    load(con, 1, "registry")
    add_tax(con, 2, [(None, "上海锦程贸易有限公司", 4.0)])
    load(con, 2, "tax")
    assert links(con) == []  # its enterprise is not registered yet
    add_registry(con, 3, REG[2:])
    load(con, 3, "registry")
    (link,) = links(con)
    assert (link["enterprise_key"], link["batch_id"], link["status"]) == (REG[4][0], 3, "auto")
    assert tax_of(con, REG[4][0]) == pytest.approx(4.0)
    rollback(con, 3, "registry")
    assert links(con) == []
    assert con.execute("SELECT count(*) FROM link_enterprises").fetchall()[0][0] == 2


def test_no_splink_tables_left_behind(reg):
    con = reg.con
    add_tax(con, 2, [(None, "上海达泰建设有限公司", 1.0)])
    load(con, 2, "tax")
    left = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%splink%' OR table_name LIKE 'lk_%'"
    ).fetchall()
    assert left == []


def quality(con) -> tuple[float, float, int]:
    """Precision and recall of auto/accepted links against synth_truth, and the queue size."""
    linked, correct, truth = con.execute(
        """
        SELECT count(l.enterprise_key), count(*) FILTER (l.enterprise_key = t.true_key),
               count(*) FILTER (t.true_key IS NOT NULL)
        FROM (SELECT DISTINCT source, record_key, true_key FROM synth_truth) t
        LEFT JOIN (SELECT * FROM record_links WHERE status IN ('auto', 'accepted')) l USING (source, record_key)
        """
    ).fetchall()[0]
    queue_size = con.execute(
        "SELECT count(DISTINCT record_key) FROM record_links WHERE status = 'review'"
    ).fetchall()[0][0]
    return correct / max(linked, 1), correct / max(truth, 1), queue_size


def test_precision_and_recall_on_synthetic_truth(wh):
    con = wh.con
    synth.make_registry(con, 1, 3000, seed=11)
    load(con, 1, "registry")
    synth.make_records(con, "tax", 2, rows=2000, n_enterprises=3000, seed=11, valid_share=0.5)
    synth.make_records(con, "stats", 3, rows=600, n_enterprises=3000, seed=11, noise_seed=12)
    load(con, 2, "tax")
    load(con, 3, "stats")
    precision, recall, _ = quality(con)
    assert precision >= 0.995 and recall >= 0.98
    model_row = con.execute("SELECT params FROM link_models WHERE active").fetchall()
    assert model_row and json.loads(model_row[0][0])["info"]["source"] == "trained"


def test_cli_lists_and_decides(reg):
    from typer.testing import CliRunner

    from crossinvest.linkage.cli import links_app

    con = reg.con
    add_tax(con, 2, [(None, "上海恒通物流有限公司", 20.0)])
    load(con, 2, "tax")
    reg.close()
    runner = CliRunner()

    def cli(*args: str):
        return runner.invoke(links_app, list(args), env={"CROSSINVEST_HOME": str(reg.home.root)})

    out = cli("--json")
    assert out.exit_code == 0, out.output
    (item,) = json.loads(out.stdout)
    assert item["status"] == "review" and item["enterprise_name"] == REG[1][1]
    out = cli("accept", str(item["id"]), "--reviewer", "王分析", "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["status"] == "accepted"
    assert json.loads(cli("--json").stdout) == []
    assert json.loads(cli("--status", "accepted", "--json").stdout)[0]["reviewer"] == "王分析"
    bad = cli("accept", "999")
    assert bad.exit_code == 2 and "不存在" in bad.stderr
    out = cli("link", "N:上海恒通物流有限公司", REG[0][0], "--json")
    assert out.exit_code == 0 and json.loads(out.stdout)["method"] == "manual"
    statuses = {r["id"]: r["status"] for r in json.loads(cli("--status", "all", "--json").stdout)}
    assert statuses[item["id"]] == "rejected" and list(statuses.values()).count("accepted") == 1
    relinked = json.loads(cli("relink", "--json").stdout)
    assert {s["source"] for s in relinked} == {"tax", "stats"} and relinked[0]["records"] == 0
    model = json.loads(cli("model", "--json").stdout)
    assert {lvl["level"] for lvl in model["levels"]["name"]} >= {"exact", "one_char", "else"}

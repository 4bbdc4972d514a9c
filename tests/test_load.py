"""Loading: batches, quarantine, supersession, duplicates, rollback, personal data.

Expected counts for the spec's samples were worked out by reading the files
(see the comments), not by running the loader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crossinvest.readers import FileRefused
from crossinvest.warehouse.connection import connect
from crossinvest.warehouse.load import load_file
from crossinvest.warehouse.rollback import rollback_batch
from tests.conftest import run_cli

# registry.xlsx: title row + blank row above the header; 65 data rows. Rows 56–62
# carry USCCs whose check character fails; rows 63–65 are dated 2018-02-30.
REGISTRY_ROWS, REGISTRY_BAD = 65, 10
# tax.csv (GB18030): 687 rows, none invalid; 15 carry no taxpayer id (they load,
# unlinked); rows 135/169/351/373/521/645/647 repeat the key of the row before.
TAX_ROWS, TAX_REPEATS = 687, 7


def snapshot(con) -> dict:
    """Everything a load may touch, for 'exactly as before' comparisons."""
    out = {}
    for t in (
        "batches",
        "rejects",
        "quarantine",
        "registry_rows",
        "shareholders_rows",
        "tax_rows",
        "stats_rows",
    ):
        out[t] = sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
    return out


def test_samples_load_with_expected_counts(home, samples):
    with connect(home) as wh:
        reg = load_file(wh, "registry", samples / "registry.xlsx")
        assert (reg.rows_read, reg.rows_rejected, reg.rows_loaded) == (
            REGISTRY_ROWS,
            REGISTRY_BAD,
            55,
        )
        assert [r["row"] for r in reg.rejects] == list(range(56, 66))
        assert {r["column"] for r in reg.rejects} == {"统一社会信用代码", "成立日期"}
        sh = load_file(wh, "shareholders", samples / "shareholders.csv")
        assert (sh.rows_read, sh.rows_rejected) == (114, 0)
        tax = load_file(wh, "tax", samples / "tax.csv")
        assert (tax.rows_read, tax.rows_rejected, tax.rows_loaded) == (TAX_ROWS, 0, TAX_ROWS)
        st = load_file(wh, "stats", samples / "stats.tsv")
        assert (st.rows_read, st.rows_rejected) == (10, 0)
        con = wh.con
        assert con.execute("SELECT count(*) FROM registry").fetchone()[0] == 55
        assert con.execute("SELECT count(*) FROM tax").fetchone()[0] == TAX_ROWS - TAX_REPEATS
        assert con.execute("SELECT count(*) FROM tax WHERE taxpayer_id IS NULL").fetchone()[0] == 15
        # Full-width USCC in stats.tsv is folded and recognised as valid.
        assert (
            con.execute(
                "SELECT count(*) FROM stats WHERE unit_uscc = '91310118M75PU3DXYN'"
            ).fetchone()[0]
            == 1
        )
        # Money normalised to 万元: stats revenue 1908838.4 千元 -> 190883.84 万元.
        rev = con.execute(
            "SELECT revenue_wan FROM stats WHERE unit_uscc = '91310114NGXYDGTXM1'"
        ).fetchone()[0]
        assert rev == pytest.approx(190883.84)
        # Tax 138815.52 元 -> 13.881552 万元, period 201712 -> 2017-12-01.
        t = con.execute(
            "SELECT tax_paid_wan, period FROM tax WHERE taxpayer_id = '91310107283FQEFLCL' "
            "AND tax_type = '城市维护建设税' AND period = DATE '2017-12-01'"
        ).fetchone()
        assert t[0] == pytest.approx(13.881552)
        # Ratio forms: '45' -> 0.45, '9%' -> 0.09, '0.16' -> 0.16.
        ratios = dict(
            con.execute(
                "SELECT investor_name, share_ratio FROM shareholders WHERE enterprise_uscc IN "
                "('91310107283FQEFLCL', '91310118H7B7M7QEYJ') AND NOT is_person"
            ).fetchall()
        )
        assert ratios["北京川德电子有限公司"] == pytest.approx(0.45)
        assert ratios["云南海华医药股份有限公司"] == pytest.approx(0.16)
        # XLSX registered capital '29490.44万元' and plain numbers both in 万元.
        cap = con.execute(
            "SELECT registered_capital_wan FROM registry WHERE uscc = '91310107283FQEFLCL'"
        ).fetchone()[0]
        assert cap == pytest.approx(29490.44)


def test_resident_ids_never_stored(home, samples):
    with connect(home) as wh:
        load_file(wh, "shareholders", samples / "shareholders.csv")
        con = wh.con
        persons = con.execute(
            "SELECT count(*), count(person_id_hash), count(investor_id) FROM shareholders WHERE is_person"
        ).fetchone()
        assert persons[0] > 0 and persons[1] == persons[0] and persons[2] == 0
        # The hash is stored once, in investor_key; the view derives the column from it.
        assert con.execute("SELECT count(person_id_hash) FROM shareholders_rows").fetchone() == (0,)
        assert con.execute(
            "SELECT count(*) FROM shareholders WHERE is_person AND 'P:' || person_id_hash <> investor_key"
        ).fetchone() == (0,)
        assert (
            con.execute(
                "SELECT person_division FROM shareholders WHERE investor_name = '王芳' AND enterprise_uscc = '91310107283FQEFLCL'"
            ).fetchone()[0]
            == "310105"
        )
        archive = next(home.archive.rglob("*.masked.csv"))
        text = archive.read_text(encoding="utf-8")
    raw = (samples / "shareholders.csv").read_text(encoding="utf-8-sig")
    full_ids = [line.split(",")[4] for line in raw.splitlines()[1:] if ",居民身份证," in line]
    assert full_ids
    for pid in full_ids:
        assert pid not in text, "a full resident ID reached the archive"
        assert pid not in home.warehouse.read_bytes().decode("latin-1"), (
            "a full resident ID reached the warehouse file"
        )


def test_an_id_number_kept_only_when_it_is_no_persons(home, tmp_path):
    """Whatever the type columns say or omit, a resident ID is kept as division + hash."""
    from crossinvest.validation.parsers import resident_id_check_char, uscc_check_char

    valid = "31010519890220747"
    valid += resident_id_check_char(valid)
    bad_check = valid[:-1] + str((int(valid[-1]) + 1) % 10 if valid[-1] != "X" else 0)
    old15 = "310105890220747"  # the 15-digit form: birth date 890220, no check digit
    org_uscc = "91310115MA00015" + "00"
    org_uscc += uscc_check_char(org_uscc)
    reg15 = "310115000123456"  # a registration number: no birth date in digits 7-12
    reg15_dated = "310115891201234"  # one whose digits 7-12 happen to read as a date
    path = tmp_path / "sh.csv"
    path.write_text(
        "企业统一社会信用代码,股东名称,股东类型,股东证照号码,认缴出资额\n"
        f"{org_uscc},赵六,,{old15},10\n"
        f"{org_uscc},钱七,,{bad_check},10\n"
        f"{org_uscc},孙八,企业法人,{valid},10\n"
        f"{org_uscc},上海某某投资有限公司,,{reg15_dated},10\n"
        f"{org_uscc},上海另一有限公司,,{reg15},10\n"
        f"{org_uscc},上海第三有限公司,,{org_uscc},10\n",
        encoding="utf-8",
    )
    with connect(home) as wh:
        load_file(wh, "shareholders", path)
        rows = wh.con.execute(
            "SELECT investor_name, is_person, investor_id, person_division "
            "FROM shareholders_rows ORDER BY row_no"
        ).fetchall()
    assert rows == [
        ("赵六", True, None, "310105"),
        ("钱七", True, None, "310105"),
        ("孙八", True, None, "310105"),
        ("上海某某投资有限公司", False, reg15_dated, None),
        ("上海另一有限公司", False, reg15, None),
        ("上海第三有限公司", False, org_uscc, None),
    ]
    stored = home.warehouse.read_bytes()
    for pid in (old15, bad_check, valid):
        assert pid.encode() not in stored, f"{pid} reached the warehouse file"


def test_a_unit_named_in_the_header_is_the_columns_unit(home, tmp_path):
    """Matching ignores a bracketed unit; the values are still read in that unit."""
    key = "91310115MA0000400J"
    files = {
        "tax": f"纳税人识别号,纳税人名称,税款所属期,实缴税额（万元）\n{key},甲,2018-03,12.5\n",
        "stats": (
            "统一社会信用代码,单位详细名称,年份,营业收入（千元）,利润总额(元),资产总计【亿元】\n"
            f"{key},甲,2018,12.5,50000,2\n"
        ),
        "registry": f"统一社会信用代码,企业名称,成立日期,注册资本（元）（人民币）\n{key},甲,2018-03-05,5000000\n",
    }
    with connect(home) as wh:
        for source, text in files.items():
            path = tmp_path / f"{source}.csv"
            path.write_text(text, encoding="utf-8")
            assert load_file(wh, source, path).rows_loaded == 1
        con = wh.con
        assert con.execute("SELECT tax_paid_wan FROM tax_rows").fetchall() == [(12.5,)]
        assert con.execute(
            "SELECT revenue_wan, profit_wan, total_assets_wan FROM stats_rows"
        ).fetchall() == [(1.25, 5.0, 20000.0)]
        assert con.execute("SELECT registered_capital_wan FROM registry_rows").fetchall() == [
            (500.0,)
        ]


def test_currency_names_fold_case_and_an_unknown_one_leaves_the_amount_unknown(home, tmp_path):
    from crossinvest.validation.parsers import uscc_check_char

    keys = [f"91310115MA000{i:04d}" for i in range(4)]
    keys = [k + uscc_check_char(k) for k in keys]
    path = tmp_path / "registry.csv"
    path.write_text(
        "统一社会信用代码,企业名称,成立日期,注册资本,币种\n"
        f"{keys[0]},甲,2018-03-05,100,usd\n"
        f"{keys[1]},乙,2018-03-05,100,美金\n"
        f"{keys[2]},丙,2018-03-05,100,新加坡元\n"
        f"{keys[3]},丁,2018-03-05,100,\n",
        encoding="utf-8",
    )
    with connect(home) as wh:
        usd = wh.home.settings()["fx_to_cny"]["USD"]
        result = load_file(wh, "registry", path)
        rows = wh.con.execute(
            "SELECT registered_capital_wan FROM registry_rows ORDER BY row_no"
        ).fetchall()
        warned = wh.con.execute(
            "SELECT row_no, column_name FROM rejects WHERE severity = 'warning'"
        ).fetchall()
    assert result.rows_loaded == 4 and result.rows_warned == 1
    assert rows == [(pytest.approx(100 * usd),), (pytest.approx(100 * usd),), (None,), (100.0,)]
    assert warned == [(3, "currency")]


def test_investor_uscc_is_the_investors_verified_uscc(home, samples):
    from stdnum.cn import uscc as stdnum_uscc

    with connect(home) as wh:
        load_file(wh, "shareholders", samples / "shareholders.csv")
        rows = wh.con.execute(
            "SELECT investor_id, is_person, investor_uscc FROM shareholders_rows"
        ).fetchall()
    expected = [
        iid if iid and not person and stdnum_uscc.is_valid(iid) else None for iid, person, _ in rows
    ]
    assert [r[2] for r in rows] == expected
    assert any(expected) and not all(expected)  # both kinds are in the sample


def archived(home) -> list[str]:
    """Every file under the archive (a load's unfinished copy included), relative."""
    return sorted(str(p.relative_to(home.archive)) for p in home.archive.rglob("*") if p.is_file())


def test_same_bytes_twice_is_a_noop(home, samples):
    with connect(home) as wh:
        first = load_file(wh, "tax", samples / "tax.csv")
        before = snapshot(wh.con)
        # The archive holds the delivered bytes, once.
        path = wh.con.execute(
            "SELECT archive_path FROM batches WHERE batch_id = ?", [first.batch]
        ).fetchone()[0]
        assert archived(home) == [path]
        assert (home.archive / path).read_bytes() == (samples / "tax.csv").read_bytes()
        second = load_file(wh, "tax", samples / "tax.csv")
        assert second.duplicate_file and second.rows_loaded == 0 and second.batch == first.batch
        assert snapshot(wh.con) == before
        assert archived(home) == [path]  # the second copy is not kept


def test_correction_supersedes_and_rollback_restores(home, samples):
    with connect(home) as wh:
        con = wh.con
        load_file(wh, "tax", samples / "tax.csv")
        key = ("91310114F309CADR6D", "2018-07-01", "增值税")
        q = "SELECT tax_paid_wan FROM tax WHERE taxpayer_id = ? AND period = ?::DATE AND tax_type = ?"
        before = con.execute(q, list(key)).fetchall()
        total_before = con.execute("SELECT sum(tax_paid_wan), count(*) FROM tax").fetchone()
        corr = load_file(wh, "tax", samples / "tax_correction.csv")
        assert corr.rows_loaded == 6
        assert con.execute(q, list(key)).fetchall() == [(pytest.approx(0.816219),)]
        # History keeps the superseded version.
        versions = con.execute(
            "SELECT count(*) FROM tax_rows WHERE taxpayer_id = ? AND period = ?::DATE AND tax_type = ?",
            list(key),
        ).fetchone()[0]
        assert versions == 1 + len(before)
        rollback_batch(wh, corr.batch)
        assert con.execute(q, list(key)).fetchall() == before
        assert con.execute("SELECT sum(tax_paid_wan), count(*) FROM tax").fetchone() == total_before
        status = con.execute(
            "SELECT status FROM batches WHERE batch_id = ?", [corr.batch]
        ).fetchone()[0]
        assert status == "rolled_back"
        # After a rollback the same bytes load again.
        again = load_file(wh, "tax", samples / "tax_correction.csv")
        assert not again.duplicate_file and again.rows_loaded == 6


def test_rollback_of_older_batch_keeps_newer_values(home, samples):
    with connect(home) as wh:
        con = wh.con
        base = load_file(wh, "tax", samples / "tax.csv")
        load_file(wh, "tax", samples / "tax_correction.csv")
        rollback_batch(wh, base.batch)
        # Only the 6 corrected rows remain, all current.
        assert con.execute(
            "SELECT count(*), count(*) FILTER (is_current) FROM tax_rows"
        ).fetchone() == (6, 6)


def test_refused_file_leaves_warehouse_unchanged(home, samples):
    with connect(home) as wh:
        load_file(wh, "registry", samples / "registry.xlsx")
        before, files = snapshot(wh.con), archived(home)
        with pytest.raises(FileRefused) as e:
            load_file(wh, "tax", samples / "bad_missing_column.csv")
        assert "bad_missing_column.csv" in str(e.value) and "\n" not in str(e.value)
        with pytest.raises(FileRefused):
            load_file(wh, "registry", samples / "tax.csv")
        assert snapshot(wh.con) == before
        assert archived(home) == files and len(files) == 1  # nothing of the refused files


def test_strict_refuses_file_with_bad_rows(home, samples):
    with connect(home) as wh:
        with pytest.raises(FileRefused) as e:
            load_file(wh, "registry", samples / "registry.xlsx", strict=True)
        assert "第 56 行" in str(e.value)
        assert wh.con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0
        assert archived(home) == []


def test_quarantine_keeps_rows_and_reasons(home, samples):
    with connect(home) as wh:
        r = load_file(wh, "registry", samples / "registry.xlsx")
        con = wh.con
        rows = con.execute(
            "SELECT row_no, raw FROM quarantine WHERE batch_id = ? ORDER BY row_no", [r.batch]
        ).fetchall()
        assert [x[0] for x in rows] == list(range(56, 66))
        assert json.loads(rows[-1][1])["成立日期"] == "2018-02-30"
        reasons = con.execute(
            "SELECT DISTINCT column_name FROM rejects WHERE batch_id = ? AND severity = 'error'",
            [r.batch],
        ).fetchall()
        assert {x[0] for x in reasons} == {"uscc", "established_on"}


def test_cli_contract(home, samples):
    proc = run_cli("ingest", "tax", str(samples / "tax.csv"), "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    obj = json.loads(proc.stdout)
    assert set(obj) >= {
        "batch",
        "source",
        "file",
        "sha256",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "duplicate_file",
        "rejects",
    }
    assert obj["file"] == "tax.csv" and obj["source"] == "tax" and not obj["duplicate_file"]
    again = json.loads(
        run_cli("ingest", "tax", str(samples / "tax.csv"), "--json", home=home).stdout
    )
    assert again["duplicate_file"] is True and again["rows_loaded"] == 0
    bad = run_cli("ingest", "tax", str(samples / "bad_missing_column.csv"), "--json", home=home)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "bad_missing_column.csv" in bad.stderr
    listed = json.loads(run_cli("batches", "--json", home=home, check=True).stdout)
    assert [b["batch"] for b in listed] == [obj["batch"]]
    rb = run_cli("rollback", str(obj["batch"]), home=home)
    assert rb.returncode == 0, rb.stderr
    listed = json.loads(run_cli("batches", "--json", home=home, check=True).stdout)
    assert listed[0]["status"] == "rolled_back"
    assert run_cli("rollback", "999", home=home).returncode == 2


def test_xlsx_registry_json_rejects(home, samples):
    proc = run_cli(
        "ingest", "registry", str(samples / "registry.xlsx"), "--json", home=home, check=True
    )
    obj = json.loads(proc.stdout)
    assert obj["rows_rejected"] == REGISTRY_BAD and len(obj["rejects"]) == REGISTRY_BAD
    assert all(set(r) == {"row", "column", "reason"} for r in obj["rejects"])


def test_an_industry_code_from_a_number_cell_keeps_its_leading_zero(home, tmp_path):
    """0111 (稻谷种植) in a number cell is 111; with or without section A it is 0111."""
    import openpyxl

    from crossinvest.validation.parsers import uscc_check_char

    keys = [f"91310115MA000{i:04d}" for i in range(3)]
    keys = [k + uscc_check_char(k) for k in keys]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["统一社会信用代码", "企业名称", "成立日期", "行业代码"])
    for key, code in zip(keys, [111, "A111", "B111"], strict=True):
        sheet.append([key, "甲", "2018-03-05", code])
    path = tmp_path / "registry.xlsx"
    book.save(path)
    with connect(home) as wh:
        load_file(wh, "registry", path)
        rows = wh.con.execute(
            "SELECT industry_code, industry_section FROM registry_rows ORDER BY row_no"
        ).fetchall()
    assert rows == [("0111", "A"), ("0111", "A"), (None, None)]


def test_two_homes_share_nothing(tmp_path: Path, samples):
    from crossinvest.config import Home

    a, b = Home(tmp_path / "a"), Home(tmp_path / "b")
    with connect(a) as wh:
        load_file(wh, "tax", samples / "tax.csv")
    with connect(b) as wh:
        assert wh.con.execute("SELECT count(*) FROM batches").fetchone()[0] == 0


@pytest.mark.parametrize("source_name", ["registry", "shareholders", "tax", "stats"])
def test_check_macros_run_once_per_value(home, source_name):
    """Each check-character macro is a select item of its own, never inside CASE/AND.

    DuckDB shares a macro's common subexpressions only in a plain select list: the
    same macro inside a CASE branch was evaluated afresh and made the shareholders
    validation 5x slower (investor_uscc). A derived column must use the item.
    """
    import re

    from crossinvest.sources import SOURCES
    from crossinvest.validation.typed import plan_typed
    from crossinvest.warehouse.load import table_columns

    source = SOURCES[source_name]
    present = {f.name for f in source.fields}
    with connect(home) as wh:
        columns = table_columns(wh, source)
    plan = plan_typed(source, "stg", present, {"USD": 7.0}, "typed", columns)
    calls = re.findall(r"ci_(?:uscc|resident_id)_valid\(", plan.sql)
    items = re.findall(r"[,(] *ci_(?:uscc|resident_id)_valid\([a-z_]+\) AS [a-z_]+\b", plan.sql)
    assert calls and len(items) == len(calls), plan.sql


def test_freshness_is_kept_through_loads_and_rollbacks(home, samples):
    """source_freshness equals counting the views, after a load, a correction and a rollback."""
    from crossinvest.warehouse.freshness import COVERAGE

    def kept_and_counted(wh):
        kept = {
            r[0]: (r[1], r[2]) for r in wh.con.execute("SELECT * FROM source_freshness").fetchall()
        }
        counted = {s: tuple(wh.con.execute(sql).fetchone()) for s, sql in COVERAGE.items()}
        return kept, counted

    with connect(home) as wh:
        kept, counted = kept_and_counted(wh)
        assert kept == counted == {s: (0, None) for s in COVERAGE}
        for name, file in (
            ("registry", "registry.xlsx"),
            ("shareholders", "shareholders.csv"),
            ("stats", "stats.tsv"),
        ):
            load_file(wh, name, samples / file)
        tax = load_file(wh, "tax", samples / "tax.csv")
        load_file(wh, "tax", samples / "tax_correction.csv")
        kept, counted = kept_and_counted(wh)
        assert kept == counted and all(n > 0 for n, _ in kept.values())
        rollback_batch(wh, tax.batch)
        after, counted = kept_and_counted(wh)
        assert after == counted and after["tax"][0] < kept["tax"][0]

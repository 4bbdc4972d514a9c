"""Deviations of generated deliveries: present with noise, absent without.

An independent validator applies data-interface.md's rules ("What decides") to
every row read back; the rows it rejects must be exactly the manifest's bad
rows, and its warnings exactly the manifest's warning rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from importlib import resources

import pytest
from stdnum import numdb
from stdnum.cn import uscc

from crossinvest.sources import SOURCES
from tests.test_generate import SIZE, World, _decode, _fold, parse_ratio, world

with resources.files("crossinvest").joinpath("data/gbt4754-2017.csv").open(encoding="utf-8") as fh:
    SMALL_CLASSES = {r["code"]: r["section"] for r in csv.DictReader(fh) if r["level"] == "小类"}
LOC = numdb.get("cn/loc")


@pytest.fixture(scope="module")
def noisy() -> World:
    return world(True)


@pytest.fixture(scope="module")
def clean() -> World:
    return world(False, "csv")


# ---- an independent validator ----------------------------------------------------------------


def parse_date(s: str) -> dt.date | None:
    for pattern in (
        r"(\d{4})-(\d{1,2})-(\d{1,2})",
        r"(\d{4})/(\d{1,2})/(\d{1,2})",
        r"(\d{4})(\d{2})(\d{2})",
        r"(\d{4})年(\d{1,2})月(\d{1,2})日",
        r"(\d{4})\.(\d{1,2})\.(\d{1,2})",
    ):
        m = re.fullmatch(pattern, s)
        if m:
            try:
                return dt.date(int(m[1]), int(m[2]), int(m[3]))
            except ValueError:
                return None
    return None


def parse_money(s: str) -> float | None:
    m = re.fullmatch(r"(-?[\d,]*\.?\d+)(万元|元|万美元)?", s)
    if not m or (s.count(".") > 1):
        return None
    return float(m[1].replace(",", ""))


def parse_period(s: str) -> tuple[int, int] | None:
    for pattern in (r"(\d{4})-(\d{2})", r"(\d{4})(\d{2})", r"(\d{4})年(\d{1,2})月"):
        m = re.fullmatch(pattern, s)
        if m:
            return (int(m[1]), int(m[2])) if 1 <= int(m[2]) <= 12 else None
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})至(\d{4}-\d{2}-\d{2})", s)
    if m:
        a, b = parse_date(m[1]), parse_date(m[2])
        if a and b and a.day == 1 and (a.year, a.month) == (b.year, b.month):
            return a.year, a.month
    return None


def valid_id(s: str) -> bool:
    return uscc.is_valid(_fold(s))


def row_errors(source: str, row: dict[str, str]) -> set[str]:
    """Columns that make the row fail (quarantine), by the spec's rules."""
    bad = set()
    if source == "registry":
        if not (
            valid_id(row["uscc"])
            or (not row["uscc"] and re.fullmatch(r"\d{13}|\d{15}", row["reg_no"]))
        ):
            bad.add("uscc")
        if not row["name"]:
            bad.add("name")
        if not parse_date(row["established_on"]):
            bad.add("established_on")
        money = parse_money(row["registered_capital"])
        if money is None or money < 0:
            bad.add("registered_capital")
        if row["deregistered_on"] and not parse_date(row["deregistered_on"]):
            bad.add("deregistered_on")
    elif source == "shareholders":
        if not valid_id(row["enterprise_uscc"]):
            bad.add("enterprise_uscc")
        if not row["investor_name"]:
            bad.add("investor_name")
        for f in ("subscribed_capital", "paid_capital"):
            if row[f] and ((m := parse_money(row[f])) is None or m < 0):
                bad.add(f)
        if row["share_ratio"] and not 0 <= parse_ratio(row["share_ratio"]) <= 1:
            bad.add("share_ratio")
        if row["contributed_on"] and not parse_date(row["contributed_on"]):
            bad.add("contributed_on")
    elif source == "tax":
        if not row["taxpayer_name"]:
            bad.add("taxpayer_name")
        if not parse_period(row["period"]):
            bad.add("period")
        money = parse_money(row["tax_paid"])
        if money is None or money < 0:
            bad.add("tax_paid")
    else:
        if not row["name"]:
            bad.add("name")
        if not re.fullmatch(r"\d{4}年?", row["year"]):
            bad.add("year")
        if row["employees"] and not (row["employees"].isdigit()):
            bad.add("employees")
        for f in ("revenue", "profit", "total_assets"):
            if row[f] and parse_money(row[f]) is None:
                bad.add(f)
    return bad


def row_warnings(source: str, row: dict[str, str]) -> set[str]:
    out = set()
    for f in ("region_code", "investor_region_code"):
        code = row.get(f)
        if code and not any("county" in props for _, props in LOC.info(code)):
            out.add(f)
    code = row.get("industry_code")
    if code:
        letter, bare = (code[0], code[1:]) if code[0].isalpha() else (None, code)
        if bare not in SMALL_CLASSES or (letter and SMALL_CLASSES[bare] != letter):
            out.add("industry_code")
    return out


def rows_as_dicts(w: World, name: str) -> list[dict[str, str]]:
    source = SOURCES[w.manifest["files"][name]["source"]]
    cols = {f.name: w.column(name, f.name) for f in source.fields if _has(w, name, f)}
    n = len(next(iter(cols.values())))
    return [{f.name: cols.get(f.name, [""] * n)[i] for f in source.fields} for i in range(n)]


def _has(w: World, name: str, f) -> bool:
    try:
        w.column(name, f.name)
        return True
    except KeyError:
        return False


# ---- tests --------------------------------------------------------------------------------------


def test_exactly_the_manifest_bad_rows_fail_and_every_kind_occurs(noisy: World) -> None:
    kinds_by_source: dict[str, set[str]] = {}
    for name, info in noisy.manifest["files"].items():
        found = {}
        for i, row in enumerate(rows_as_dicts(noisy, name), start=1):
            errors = row_errors(info["source"], row)
            if errors:
                found[i] = errors
        listed = {b["row"]: b for b in info["bad_rows"]}
        assert set(found) == set(listed), name
        for r, b in listed.items():
            assert b["column"] in found[r] or b["kind"] == "missing_identity", (name, b, found[r])
        kinds_by_source.setdefault(info["source"], set()).update(
            b["kind"] for b in info["bad_rows"]
        )
    assert kinds_by_source["registry"] == {
        "check_char",
        "bad_date",
        "negative_amount",
        "missing_required",
        "missing_identity",
    }
    assert kinds_by_source["shareholders"] == {
        "check_char",
        "bad_ratio",
        "negative_amount",
        "missing_required",
        "bad_date",
    }
    assert kinds_by_source["tax"] == {
        "bad_period",
        "missing_identity",
        "missing_required",
        "bad_amount",
    }
    assert kinds_by_source["stats"] == {
        "bad_year",
        "bad_count",
        "missing_required",
        "bad_amount",
        "missing_identity",
    }
    shown = {b["row"]: b for b in noisy.manifest["files"]["shareholders.csv"]["bad_rows"]}
    ratios = noisy.column("shareholders.csv", "share_ratio")
    assert any(ratios[r - 1] == "350%" for r, b in shown.items() if b["kind"] == "bad_ratio")


def test_exactly_the_manifest_warning_rows_have_unknown_codes(noisy: World) -> None:
    for name, info in noisy.manifest["files"].items():
        found = {
            i
            for i, row in enumerate(rows_as_dicts(noisy, name), start=1)
            if row_warnings(info["source"], row)
        }
        assert found == {w["row"] for w in info["warning_rows"]}, name
    kinds = {w["kind"] for info in noisy.manifest["files"].values() for w in info["warning_rows"]}
    assert kinds == {"unknown_industry", "section_mismatch", "unknown_region"}


def test_repeated_rows_repeat_their_source_exactly(noisy: World) -> None:
    across = 0
    for name, info in noisy.manifest["files"].items():
        rows = noisy.read(name)[1]
        assert info["duplicates"] or info["source"] == "tax" and name.endswith("correction.csv"), (
            name
        )
        for d in info["duplicates"]:
            src = noisy.read(d["same_as"]["file"])[1][d["same_as"]["row"] - 1]
            assert rows[d["row"] - 1] == src
            across += d["same_as"]["file"] != name
    assert across > 0


def test_correction_rows_share_the_key_and_change_the_amount(noisy: World) -> None:
    name = "tax_2018_correction.csv"
    info = noisy.manifest["files"][name]
    assert info["rows"] == len(info["corrections"]) > 0
    new = rows_as_dicts(noisy, name)
    for c in info["corrections"]:
        old = rows_as_dicts(noisy, c["supersedes"]["file"])[c["supersedes"]["row"] - 1]
        row = new[c["row"] - 1]
        assert row["taxpayer_id"] == old["taxpayer_id"] and valid_id(row["taxpayer_id"])
        assert row["tax_type"] == old["tax_type"]
        assert parse_period(row["period"]) == parse_period(old["period"])
        assert parse_money(row["tax_paid"]) != parse_money(old["tax_paid"])


def test_encodings_and_headers_deviate(noisy: World) -> None:
    raw = {
        n: (noisy.root / n).read_bytes() for n in noisy.manifest["files"] if not n.endswith(".xlsx")
    }
    assert raw["shareholders.csv"].startswith(b"\xef\xbb\xbf")
    with pytest.raises(UnicodeDecodeError):
        raw["tax_2018Q1.csv"].decode("utf-8")
    assert "纳税人识别号" in raw["tax_2018Q1.csv"].decode("gb18030")
    headers = {n: noisy.read(n)[0] for n in noisy.manifest["files"]}
    assert headers["tax_2018Q3.csv"] == [
        "taxpayer_id",
        "taxpayer_name",
        "period",
        "tax_type",
        "tax_paid",
    ]
    assert any(re.search(r"[（(](元|万元|千元)[）)]$", h) for hs in headers.values() for h in hs)
    assert any(h != h.strip() or "\u3000" in h for hs in headers.values() for h in hs)
    assert "备注" in headers["stats.tsv"]  # an unknown column


def test_formula_like_cells_are_plain_text(noisy: World) -> None:
    cells = noisy.manifest["files"]["registry.xlsx"]["formula_cells"]
    values = [noisy.column("registry.xlsx", c["column"])[c["row"] - 1] for c in cells]
    assert {v[0] for v in values} == {"=", "+", "-", "@"}
    assert {c["column"] for c in cells} == {"name", "address"}
    assert any("HYPERLINK" in v for v in values)


def test_no_deviation_without_noise(clean: World) -> None:
    for name, info in clean.manifest["files"].items():
        for key in ("bad_rows", "warning_rows", "duplicates", "formula_cells", "corrections"):
            assert info[key] == [], (name, key)
        raw = (clean.root / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf")
        raw.decode("utf-8")
        header, rows = clean.read(name)
        assert header == [f.canonical for f in SOURCES[info["source"]].fields], name
        seen = set()
        for i, row in enumerate(rows_as_dicts(clean, name), start=1):
            assert not row_errors(info["source"], row), (name, i, row)
            assert not row_warnings(info["source"], row), (name, i, row)
            assert not any(v[:1] in ("=", "+", "@") for v in row.values()), (name, i)
            key = tuple(row.values())
            assert key not in seen, (name, i)
            seen.add(key)
    assert not (clean.root / "tax_2018_correction.csv").exists()
    tax_rows = [tuple(r) for n in clean.files("tax") for r in clean.read(n)[1]]
    assert len(tax_rows) == len(set(tax_rows))


def test_bad_rows_are_a_small_share(noisy: World) -> None:
    total = sum(i["rows"] for i in noisy.manifest["files"].values())
    bad = sum(len(i["bad_rows"]) for i in noisy.manifest["files"].values())
    assert 0 < bad < 0.02 * total
    assert noisy.manifest["counts"]["enterprises"] == SIZE


def test_decoder_helper_reads_every_encoding(noisy: World) -> None:
    for name in noisy.manifest["files"]:
        if not name.endswith(".xlsx"):
            assert (
                _decode((noisy.root / name).read_bytes()).count("\n")
                == noisy.manifest["files"][name]["rows"] + 1
            )

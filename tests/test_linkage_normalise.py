"""Name normalisation for linkage: one test per rule, and a property over generated names."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossinvest.generate.vocab import INDUSTRY_WORDS, TRADE_CHARS_1, TRADE_CHARS_2
from crossinvest.linkage.normalise import name_parts_sql

CON = duckdb.connect()


def parts(*names: str | None) -> list[dict]:
    CON.execute("CREATE OR REPLACE TEMP TABLE n (i INTEGER, name VARCHAR)")
    CON.executemany("INSERT INTO n VALUES (?, ?)", list(enumerate(names)))
    cur = CON.execute(f"SELECT * FROM ({name_parts_sql('SELECT * FROM n', 'name')}) ORDER BY i")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def test_full_width_and_spaces_fold():
    a, b, c = parts("上海达泰建设有限公司", "上海达泰建设有限公司 ", "上海　达泰 建设 有限公司")
    assert a["name_key"] == b["name_key"] == c["name_key"] == "达泰建设有限"
    (d,) = parts("ＩＢＭ（中国）有限公司")
    assert d["name_clean"] == "IBM(中国)有限公司"
    assert d["core"] == "IBM" and d["region"] == "中国"


def test_brackets_of_every_kind_are_round():
    rows = parts(
        "达泰（上海）建设有限公司",
        "达泰(上海)建设有限公司",
        "达泰【上海】建设有限公司",
        "达泰〔上海〕建设有限公司",
    )
    assert {r["name_key"] for r in rows} == {"达泰建设有限"}
    assert {r["region"] for r in rows} == {"上海"}


@pytest.mark.parametrize(
    "name",
    [
        "上海达泰建设有限公司（分公司）",
        "上海达泰建设有限公司(分公司)",
        "上海达泰建设有限公司【分公司】",
        "上海达泰建设有限公司分公司",
        "上海达泰建设有限公司浦东分公司",
        "上海达泰建设有限公司（浦东第一分公司）",
        "上海达泰建设有限公司营业部",
    ],
)
def test_branch_suffixes_are_cut_and_flagged(name):
    (plain,) = parts("上海达泰建设有限公司")
    (branch,) = parts(name)
    assert branch["branch"] is True and plain["branch"] is False
    assert branch["name_key"] == plain["name_key"] == "达泰建设有限"


def test_branch_without_parent_form():
    (r,) = parts("上海达泰建设分公司")
    assert r["branch"] is True and r["core"] == "达泰建设" and r["form"] is None


@pytest.mark.parametrize(
    ("suffix", "form", "grp"),
    [
        ("有限公司", "有限", ""),
        ("有限责任公司", "有限", ""),
        ("股份有限公司", "股份", ""),
        ("股份有限责任公司", "股份", ""),
        ("集团有限公司", "有限", "集团"),
        ("集团有限责任公司", "有限", "集团"),
        ("集团股份有限公司", "股份", "集团"),
        ("合伙企业（有限合伙）", "合伙", ""),
        ("公司", "公司", ""),
    ],
)
def test_organisation_forms(suffix, form, grp):
    (r,) = parts("上海达泰投资" + suffix)
    assert (r["core"], r["form"], r["grp"]) == ("达泰投资", form, grp)


def test_limited_and_limited_liability_are_one_form_but_joint_stock_is_not():
    a, b, c = parts("上海达泰建设有限公司", "上海达泰建设有限责任公司", "上海达泰建设股份有限公司")
    assert a["name_key"] == b["name_key"]
    assert a["name_key"] != c["name_key"] and a["core"] == c["core"]


def test_group_is_kept_apart_from_the_core():
    a, b = parts("上海达泰实业集团有限公司", "上海达泰实业有限公司")
    assert a["core"] == b["core"] == "达泰实业"
    assert (a["grp"], b["grp"]) == ("集团", "")
    assert a["name_key"] != b["name_key"]


@pytest.mark.parametrize(
    ("name", "region", "district"),
    [
        ("上海达泰建设有限公司", "上海", None),
        ("上海市达泰建设有限公司", "上海", None),
        ("上海浦东达泰建设有限公司", "上海", "浦东"),
        ("上海市浦东新区达泰建设有限公司", "上海", "浦东"),
        ("浦东达泰建设有限公司", None, "浦东"),
        ("青岛达泰建设有限公司", "青岛", None),
        ("贵州省达泰建设有限公司", "贵州", None),
        ("黔东南达泰建设有限公司", "黔东南", None),
        ("达泰建设有限公司", None, None),
    ],
)
def test_leading_region_goes_to_its_own_field(name, region, district):
    (r,) = parts(name)
    assert (r["region"], r["district"], r["core"]) == (region, district, "达泰建设")


def test_bracketed_place_wins_over_a_leading_place_word():
    # 金华 is a prefecture and a trade name: with （上海） in the name it is the trade name.
    (r,) = parts("金华（上海）科技有限公司")
    assert (r["region"], r["core"]) == ("上海", "金华科技")


def test_empty_and_null_names():
    a, b = parts("", None)
    assert a["core"] is None and a["name_key"] is None and b["core"] is None


@settings(max_examples=60, deadline=None)
@given(
    c1=st.sampled_from(TRADE_CHARS_1),
    c2=st.sampled_from(TRADE_CHARS_2),
    c3=st.sampled_from(["", *TRADE_CHARS_2]),
    word=st.sampled_from(list(INDUSTRY_WORDS)),
    form=st.sampled_from(["有限公司", "有限责任公司", "股份有限公司", "集团有限公司"]),
    lead=st.sampled_from(["上海", "上海市", "上海浦东", "上海闵行"]),
)
def test_generator_variants_normalise_to_one_name(c1, c2, c3, word, form, lead):
    """The four ways the generator respells a registered name all give the same name key."""
    name = lead + c1 + c2 + c3 + word + form
    swapped = (
        name[: -len("有限公司")] + "有限责任公司"
        if name.endswith("有限公司") and "股份" not in form
        else name
    )
    if form == "有限责任公司":
        swapped = name[: -len("有限责任公司")] + "有限公司"
    variants = [name, name + "（分公司）", name + "(分公司)", name + " ", swapped]
    rows = parts(*variants)
    assert len({r["name_key"] for r in rows}) == 1
    # A trade name that is also a district (南汇) is read as the district: still one key.
    assert rows[0]["core"].endswith(word)

"""Header matching rules of data-interface.md ("Header names") and source detection."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossinvest.readers import FileRefused, detect_source, normalise_header
from crossinvest.readers.headers import check_header, match_headers
from crossinvest.sources import SOURCES


def to_fullwidth(text: str) -> str:
    """ASCII 0x21-0x7E to U+FF01-U+FF5E and space to U+3000 (what a Chinese IME types)."""
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" if c == " " else c for c in text
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("注册资本（万元）", "注册资本"),
        (" Tax_Paid (元) ", "tax_paid"),
        ("注册资本[万元]", "注册资本"),
        ("注册资本【万元】", "注册资本"),
        ("ＵＳＣＣ", "uscc"),
        ("统一社会\u3000信用 代码", "统一社会信用代码"),
        ("\ufeff纳税人名称", "纳税人名称"),
        ("Registered_Capital\t(万元) ", "registered_capital"),
        # only a trailing group goes; one in the middle is part of the name
        ("股东(自然人)名称", "股东(自然人)名称"),
        # a header that is all bracket keeps it: nothing would be left
        ("【税款所属期】", "【税款所属期】"),
        ("", ""),
    ],
)
def test_normalise_header_examples(raw: str, expected: str) -> None:
    assert normalise_header(raw) == expected


header_text = st.text(
    alphabet=st.sampled_from(
        list(string.printable)
        + list("纳税人名称注册资本万元（）【】［］　\u00a0\ufeffＡＺａｚ０９")
        + [chr(c) for c in range(0xFF01, 0xFF5F, 7)]
    ),
    max_size=30,
)


@given(header_text)
def test_normalise_header_is_idempotent(text: str) -> None:
    once = normalise_header(text)
    assert normalise_header(once) == once


@given(header_text)
def test_normalise_header_output_is_folded(text: str) -> None:
    out = normalise_header(text)
    assert not any(c.isspace() for c in out)
    assert not any(0xFF01 <= ord(c) <= 0xFF5E or c == "\u3000" for c in out)
    assert not any("A" <= c <= "Z" for c in out)


@given(st.text(alphabet=string.printable, max_size=30))
def test_fullwidth_and_halfwidth_headers_normalise_alike(text: str) -> None:
    assert normalise_header(to_fullwidth(text)) == normalise_header(text)


@given(st.text(alphabet=string.ascii_letters + string.digits + "_ ", max_size=20))
def test_ascii_case_and_padding_do_not_matter(text: str) -> None:
    assert normalise_header(f"  {text.upper()}\t") == normalise_header(text.lower())


@given(
    st.text(alphabet="纳税人名称注册资本abcXYZ_", min_size=1, max_size=12),
    st.sampled_from(["（万元）", "(元)", "[千元]", "【人民币】", " （ 万 元 ） "]),
)
def test_trailing_unit_is_ignored(name: str, unit: str) -> None:
    assert normalise_header(name + unit) == normalise_header(name)


def test_every_alias_matches_its_field() -> None:
    for source in SOURCES.values():
        for f in source.fields:
            for alias in f.aliases:
                for variant in (alias, f" {alias.upper()} ", to_fullwidth(alias) + "（单位）"):
                    m = match_headers(source, [variant])
                    assert m.field_index == {f.name: 0}, (source.name, variant)


def test_duplicate_header_keeps_first_and_later_is_extra() -> None:
    m = match_headers(SOURCES["tax"], ["纳税人名称", "taxpayer_name", "实缴税额", "备注"])
    assert m.field_index == {"taxpayer_name": 0, "tax_paid": 2}
    assert m.extra_index == [1, 3]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["统一社会信用代码", "企业名称", "成立日期", "注册资本（万元）"], "registry"),
        (["uscc", "name", "established_on"], "registry"),
        (["企业统一社会信用代码", "股东名称", "出资比例"], "shareholders"),
        (["纳税人识别号", "纳税人名称", "税款所属期", "税种", "实缴税额"], "tax"),
        (["taxpayer_name", "period", "tax_paid"], "tax"),
        (["统一社会信用代码", "单位详细名称", "年份", "营业收入"], "stats"),
        (["uscc", "name", "year", "revenue"], "stats"),
        (["foo", "bar"], None),
        ([], None),
    ],
)
def test_detect_source(headers: list[str], expected: str | None) -> None:
    assert detect_source(headers) == expected


def test_check_header_names_missing_required_column() -> None:
    with pytest.raises(FileRefused) as e:
        check_header(SOURCES["tax"], ["纳税人名称", "税款所属期", "税种"], "/x/tax.csv")
    assert str(e.value) == "文件 tax.csv：缺少必填列「实缴税额」(tax_paid)"


def test_check_header_registry_needs_uscc_or_reg_no() -> None:
    with pytest.raises(FileRefused) as e:
        check_header(SOURCES["registry"], ["企业名称", "成立日期", "住所"], "r.csv")
    assert "「统一社会信用代码」(uscc)" in str(e.value)
    assert "「注册号」(reg_no)" in str(e.value)
    # either one is enough
    check_header(SOURCES["registry"], ["企业名称", "成立日期", "注册号"], "r.csv")
    check_header(SOURCES["registry"], ["企业名称", "成立日期", "uscc"], "r.csv")


def test_check_header_wrong_source() -> None:
    tax = ["纳税人识别号", "纳税人名称", "税款所属期", "税种", "实缴税额"]
    with pytest.raises(FileRefused) as e:
        check_header(SOURCES["registry"], tax, "x.csv")
    assert (
        str(e.value) == "文件 x.csv：表头是「纳税信息」(tax) 的格式，不是「企业登记信息」(registry)"
    )


def test_check_header_nothing_recognisable() -> None:
    with pytest.raises(FileRefused) as e:
        check_header(SOURCES["stats"], ["hello"], "a/b/data.csv")
    assert str(e.value).startswith("文件 data.csv：")
    assert "表头" in str(e.value)

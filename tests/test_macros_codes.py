"""Check-character macros (USCC, resident ID) and ci_clean: oracle and properties."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from crossinvest.validation import parsers
from crossinvest.validation.macros import FULLWIDTH, USCC_CHARSET, USCC_WEIGHTS, WHITESPACE
from tests.test_macros_support import DIGITS, assert_agrees, cleaned, garbage, run, today

BATCH = {"min_size": 1, "max_size": 60}
FAST = settings(max_examples=60, deadline=None)
# ci_uscc_valid takes ~60 ms to plan: fewer, bigger batches.
CODES = settings(max_examples=20, deadline=None)
BIG = {"min_size": 20, "max_size": 150}
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

uscc_body = st.text(st.sampled_from(CHARSET), min_size=17, max_size=17)
valid_uscc = uscc_body.map(lambda b: b + parsers.uscc_check_char(b))


def test_charset_and_weights_are_the_standard():
    # GB 32100-2015: 31 characters without I O S V Z; weights 3**(i) mod 31.
    assert USCC_CHARSET == CHARSET and len(set(CHARSET)) == 31
    assert USCC_WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_known_codes():
    assert run(
        "ci_uscc_valid", ["91110000600037341L", "91110000600037341M", "9111000060003734"]
    ) == [True, False, False]
    assert run(
        "ci_resident_id_valid", ["360426199101010071", "11010519491231002X", "360426199101010072"]
    ) == [
        True,
        True,
        False,
    ]


@CODES
@given(st.lists(valid_uscc, **BIG))
def test_generated_uscc_valid_and_every_other_check_char_invalid(codes):
    mutated = [c[:17] + x for c in codes for x in CHARSET if x != c[17]]
    assert run("ci_uscc_valid", codes + mutated) == [True] * len(codes) + [False] * len(mutated)


@CODES
@given(st.lists(valid_uscc, min_size=5, max_size=20))
def test_any_char_outside_the_charset_invalidates(codes):
    # Letters I O S V Z sit between valid ones: each must be rejected even where
    # its neighbour's value would make the checksum hold.
    bad = "IOSVZ" + "aijnoy" + "-+/= .上"
    mutated = [c[:i] + x + c[i + 1 :] for c in codes for i in range(18) for x in bad]
    assert run("ci_uscc_valid", mutated) == [False] * len(mutated)


@CODES
@given(
    st.lists(
        st.text(st.sampled_from(DIGITS), min_size=8, max_size=8).flatmap(
            lambda head: st.text(st.sampled_from(CHARSET), min_size=9, max_size=9).map(
                lambda tail: head + tail + parsers.uscc_check_char(head + tail)
            )
        ),
        **BIG,
    )
)
def test_stdnum_agrees_on_generated_codes(codes):
    # stdnum requires digits in positions 1-8; on such codes it must agree.
    assert all(uscc.is_valid(c) for c in codes)
    assert run("ci_uscc_valid", codes) == [True] * len(codes)


@st.composite
def near_uscc(draw):
    """A valid code with one character changed, swapped, dropped, or lower-cased."""
    code = draw(valid_uscc)
    i = draw(st.integers(0, 17))
    op = draw(st.sampled_from(["replace", "swap", "drop", "lower", "extra"]))
    if op == "replace":
        return code[:i] + draw(st.sampled_from(CHARSET + "IOSVZ-a 上+/=")) + code[i + 1 :]
    if op == "swap" and i < 17:
        return code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    if op == "drop":
        return code[:i] + code[i + 1 :]
    if op == "lower":
        return code.lower()
    return code + draw(st.sampled_from(CHARSET))


@CODES
@given(
    st.lists(
        cleaned(
            near_uscc()
            | valid_uscc
            | garbage
            | st.text(st.sampled_from(CHARSET + "IOSVZ"), min_size=18, max_size=18)
        ),
        **BIG,
    )
)
def test_uscc_agrees_with_oracle(values):
    assert_agrees("ci_uscc_valid", parsers.uscc_valid, values)
    for v in values:  # and with stdnum wherever stdnum applies (8 leading digits)
        if v and len(v) == 18 and v[:8].isdigit() and v.isascii() and v.isupper() | v.isdigit():
            assert parsers.uscc_valid(v) == uscc.is_valid(v), v


@st.composite
def resident_id(draw):
    body = draw(st.text(st.sampled_from(DIGITS), min_size=6, max_size=6))
    y, m, d = draw(st.integers(1890, 2040)), draw(st.integers(0, 13)), draw(st.integers(0, 32))
    body += f"{y:04d}{m:02d}{d:02d}" + draw(
        st.text(st.sampled_from(DIGITS), min_size=3, max_size=3)
    )
    check = parsers.resident_id_check_char(body)
    return body + draw(st.sampled_from([check, check, *"0123456789X", "x"]))


@FAST
@given(
    st.lists(
        cleaned(
            resident_id()
            | garbage
            | st.text(st.sampled_from(DIGITS + "X"), min_size=18, max_size=18)
        ),
        **BATCH,
    )
)
def test_resident_id_agrees_with_oracle(values):
    t = today()
    assert_agrees("ci_resident_id_valid", lambda v: parsers.resident_id_valid(v, t), values)
    for v in values:  # the check character is stdnum's
        if v and len(v) == 18 and v[:17].isdigit() and v.isascii():
            assert (parsers.resident_id_check_char(v[:17]) == v[17]) == (
                ric.calc_check_digit(v) == v[17]
            )


_messy = st.text(
    st.sampled_from(FULLWIDTH + WHITESPACE + "上海科技有限公司（）()abcXYZ019-, \u00e9\u2003"),
    max_size=20,
) | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


@FAST
@given(st.lists(_messy, **BATCH))
def test_clean_agrees_and_is_idempotent(values):
    assert_agrees("ci_clean", parsers.clean, values)
    once = run("ci_clean", values)
    assert run("ci_clean", once) == once
    for v in once:
        assert v is None or (v == v.strip(WHITESPACE) and not set(v) & set(FULLWIDTH))


def test_clean_examples():
    assert run(
        "ci_clean",
        ["  ９１３１（上海）　", "上海某某科技有限公司（分公司） ", "\t a\u00a0", "", "ＡＢＣ"],
    ) == [
        "9131(上海)",
        "上海某某科技有限公司(分公司)",
        "a",
        None,
        "ABC",
    ]

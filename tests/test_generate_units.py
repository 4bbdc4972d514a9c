"""Property tests of the generator's building blocks (codes, formatting, ranks)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.cn import ric, uscc

from crossinvest.generate import codes, render
from crossinvest.generate.names import rank_to_pair
from crossinvest.generate.population import Population
from crossinvest.generate.rand import Rng, permute
from tests.test_generate import parse_ratio
from tests.test_generate_noise import parse_date, parse_period

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
FAST = settings(max_examples=60, deadline=None)


def gb11714_check(body: str) -> str:
    """Organisation-code check char, written from the standard (not the generator)."""
    value = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}}
    c = 11 - sum(value[ch] * w for ch, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def iso7064_mod11_10_valid(number: str) -> bool:
    p = 10
    for ch in number:
        s = (p + int(ch)) % 10 or 10
        p = (s * 2) % 11
    return s == 1


divisions = st.integers(min_value=110000, max_value=659999)


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from([b"91", b"12", b"51"]),
            divisions,
            st.integers(0, 10**8 - 1),
            st.integers(0, 31**6 - 1),
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_usccs_verify_with_stdnum_and_their_org_codes_with_gb11714(items) -> None:
    prefix = np.array([i[0] for i in items], dtype="S2")
    div = np.array([i[1] for i in items])
    org = np.where(
        np.array([i[4] for i in items])[:, None],
        codes.org_code_ma(np.array([i[3] for i in items])),
        codes.org_code_digits(np.array([i[2] for i in items])),
    )
    for s in codes.as_strings(codes.uscc(prefix, div, org)):
        assert uscc.is_valid(s), s
        assert s[16] == gb11714_check(s[8:16]), s


@FAST
@given(
    st.lists(st.integers(0, 10**8 - 1), min_size=1, max_size=20),
    st.floats(0, 0.999),
    st.floats(0, 0.999),
)
def test_mistyped_usccs_keep_their_format_and_fail_the_check(nums, u1, u2) -> None:
    m = codes.uscc(
        np.array([b"91"]), np.full(len(nums), 310115), codes.org_code_digits(np.array(nums))
    )
    n = len(nums)
    wrong = codes.mistype(m, np.full(n, u1), np.full(n, u2))
    for good, bad in zip(codes.as_strings(m), codes.as_strings(wrong), strict=True):
        assert len(bad) == 18 and sum(a != b for a, b in zip(good, bad, strict=True)) == 1
        assert bad[:8].isdigit() and all(c in ALPHABET for c in bad[8:])
        assert not uscc.is_valid(bad)
    assert not any(uscc.is_valid(s) for s in codes.as_strings(codes.wrong_check(m)))


@FAST
@given(st.lists(st.integers(0, 10**8 - 1), min_size=1, max_size=20), divisions)
def test_registration_numbers_carry_iso7064_check_digits(serials, div) -> None:
    for s in codes.as_strings(codes.reg_no15(np.full(len(serials), div), np.array(serials))):
        assert re.fullmatch(r"\d{15}", s) and iso7064_mod11_10_valid(s), s


@pytest.fixture(scope="module")
def pools():
    from crossinvest.generate.parties import PartyPools

    return PartyPools(Population(5000, 3, 2018))


@FAST
@given(st.lists(st.integers(0, 10**7), min_size=1, max_size=50, unique=True), st.booleans())
def test_resident_ids_are_valid_and_distinct_per_person(pools, people, shanghai) -> None:
    ids = pools.persons(np.array(people), shanghai).ident.to_pylist()
    assert all(ric.is_valid(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("31") == shanghai for i in ids)


@FAST
@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=30))
def test_thousands_separators_round_trip(values) -> None:
    for v, s in zip(values, render.grouped(np.array(values)).to_pylist(), strict=True):
        assert int(s.replace(",", "")) == v
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", s), s


@FAST
@given(st.lists(st.tuples(st.integers(0, 10000), st.integers(0, 2)), min_size=1, max_size=30))
def test_share_ratios_parse_back_in_every_form(items) -> None:
    bp = np.array([i[0] for i in items])
    out = render.ratio(bp, np.array([i[1] for i in items])).to_pylist()
    for b, s in zip(bp, out, strict=True):
        assert abs(parse_ratio(s) - b / 10000) < 1e-9, (b, s)


@FAST
@given(st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=30), st.booleans())
def test_money_and_wan_amounts_parse_back(values, thousands) -> None:
    arr = np.array(values)
    for v, s in zip(
        values, render.money(arr, np.full(len(arr), thousands)).to_pylist(), strict=True
    ):
        assert round(float(s.replace(",", "")) * 100) == v
    for v, s in zip(values, render.wan4(arr).to_pylist(), strict=True):
        assert round(float(s) * 10000) == v


@FAST
@given(
    st.lists(
        st.tuples(st.dates(dt.date(1950, 1, 1), dt.date(2030, 12, 31)), st.integers(0, 4)),
        min_size=1,
        max_size=30,
    )
)
def test_date_forms_parse_back(items) -> None:
    days = np.array([i[0] for i in items], dtype="datetime64[D]")
    out = render.date_forms(days, np.array([i[1] for i in items])).to_pylist()
    assert [parse_date(s) for s in out] == [i[0] for i in items]


@FAST
@given(
    st.integers(1990, 2030),
    st.lists(st.tuples(st.integers(1, 12), st.integers(0, 4)), min_size=1, max_size=24),
)
def test_period_forms_parse_back(year, items) -> None:
    out = render.period_forms(
        year, np.array([i[0] for i in items]), np.array([i[1] for i in items])
    ).to_pylist()
    assert [parse_period(s) for s in out] == [(year, i[0]) for i in items]


@FAST
@given(st.integers(1, 200000), st.integers(0, 2**31))
def test_permutations_are_bijections(n, seed) -> None:
    ab = Rng(seed).permutation("p", n)
    xs = np.arange(min(n, 5000))
    ys = permute(xs, n, ab)
    assert len(set(ys.tolist())) == len(xs) and ys.min() >= 0 and ys.max() < n


@FAST
@given(st.integers(0, 5_000_000), st.integers(1, 4000))
def test_name_ranks_map_to_distinct_pairs(start, count) -> None:
    ranks = np.arange(start, start + count)
    z, w = rank_to_pair(ranks, 9938, 826680, 131, lambda z: (z * 2654435761) % 1000)
    pairs = set(zip(z.tolist(), w.tolist(), strict=True))
    assert len(pairs) == count


def test_progress_is_reported(tmp_path: Path) -> None:
    from crossinvest.generate import generate

    calls = []
    generate(
        tmp_path,
        enterprises=120,
        noise=False,
        formats="csv",
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    assert calls and calls[-1] == ("enterprises", 120, 120)
    assert all(d <= t for _, d, t in calls)


def test_too_small_a_population_is_refused(tmp_path: Path) -> None:
    from crossinvest.generate import generate

    with pytest.raises(ValueError, match="至少"):
        generate(tmp_path, enterprises=10)


def test_worker_processes_write_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib

    from crossinvest.generate import core, generate

    monkeypatch.setattr(core, "CHUNK", 150)  # several chunks, so workers share the work

    def digest(root: Path) -> dict[str, str]:
        return {
            str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    one = generate(tmp_path / "one", enterprises=600, noise=True, formats="csv")
    two = generate(tmp_path / "two", enterprises=600, noise=True, formats="csv", workers=2)
    assert digest(one.out_dir) == digest(two.out_dir)
    assert sum(f.rows for f in two.files if f.source == "registry") > 600  # repeats across chunks

"""Turning numbers and dates into the strings bureaus write, vectorised.

Everything works on pyarrow arrays: formatting a million amounts through
Python's ``format`` costs about a second, through lookup tables and
``binary_join_element_wise`` a few tens of milliseconds.

>>> wan4(np.array([26541396, 6000000, 6980])).to_pylist()
['2654.1396', '600', '0.698']
>>> ratio(np.array([3500, 3333, 10000]), np.array([0, 1, 2])).to_pylist()
['35%', '33.33', '100%']
>>> money(np.array([40932633, 5]), np.array([True, False])).to_pylist()
['409,326.33', '0.05']
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crossinvest.generate.names import cat


def by_case(case: np.ndarray, builders) -> pa.Array:
    """Row ``i`` built by ``builders[case[i]]``; each builder runs on its own rows only.

    A builder takes the row positions (ascending) and returns their strings.
    """
    case = np.asarray(case)
    parts, order = [], []
    for k, build in enumerate(builders):
        idx = np.flatnonzero(case == k)
        if len(idx):
            parts.append(build(idx).cast(pa.string()))
            order.append(idx)
    if not parts:
        return pa.array([], pa.string())
    inverse = np.empty(len(case), dtype=np.int64)
    inverse[np.concatenate(order)] = np.arange(len(case))
    return pa.concat_arrays(parts).take(pa.array(inverse))


def scatter(base: pa.Array, positions: np.ndarray, values: pa.Array) -> pa.Array:
    """``base`` with ``values`` written at the (ascending) ``positions``."""
    mask = np.zeros(len(base), dtype=bool)
    mask[positions] = True
    return pc.replace_with_mask(base, pa.array(mask), values)


def text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


@cache
def _table(kind: str) -> pa.Array:
    if kind == "frac4":  # .1396 / .698 / ''
        return pa.array([("." + f"{f:04d}".rstrip("0")) if f else "" for f in range(10000)])
    if kind == "frac2":
        return pa.array([("." + f"{f:02d}".rstrip("0")) if f else "" for f in range(100)])
    if kind == "pad3":
        return pa.array([f"{i:03d}" for i in range(1000)])
    if kind == "pad2":
        return pa.array([f"{i:02d}" for i in range(100)])
    if kind == "plain2":
        return pa.array([str(i) for i in range(100)])
    if kind == "pct":
        return pa.array([_pct(b) + "%" for b in range(10001)])
    if kind == "plainpct":  # a bare number > 1 means percent; keep '%' where it would be ambiguous
        return pa.array([_pct(b) if b > 100 else _pct(b) + "%" for b in range(10001)])
    if kind == "fraction":  # 1 would be ambiguous (1% or 100%?)
        return pa.array(
            [("0." + f"{b:04d}").rstrip("0") if b < 10000 else "100%" for b in range(10001)]
        )
    raise KeyError(kind)


def _pct(bp: int) -> str:
    whole, rest = divmod(bp, 100)
    return f"{whole}" + (("." + f"{rest:02d}".rstrip("0")) if rest else "")


def take(kind: str, idx: np.ndarray) -> pa.Array:
    return _table(kind).take(pa.array(np.asarray(idx, dtype=np.int64)))


def wan4(units: np.ndarray) -> pa.Array:
    """Amounts given in 1e-4 units (元 for 万元) with up to four decimals."""
    units = np.asarray(units, dtype=np.int64)
    a = np.abs(units)
    out = cat(text(a // 10000), take("frac4", a % 10000))
    return _signed(out, units < 0)


def _signed(out: pa.Array, negative: np.ndarray) -> pa.Array:
    if not negative.any():
        return out
    return pc.if_else(pa.array(negative), cat("-", out), out)


def money(cents: np.ndarray, thousands: np.ndarray | None = None) -> pa.Array:
    """Amounts in cents as '1234.5' or, where ``thousands``, '1,234.5'."""
    cents = np.asarray(cents, dtype=np.int64)
    whole, frac = np.divmod(np.abs(cents), 100)
    plain = text(whole)
    if thousands is not None and np.any(thousands):
        plain = pc.if_else(pa.array(thousands), grouped(whole), plain)
    return _signed(cat(plain, take("frac2", frac)), cents < 0)


def decimals1(tenths: np.ndarray) -> pa.Array:
    """Amounts in tenths as '1908838.4' (the statistics bureau's 千元 with one decimal)."""
    tenths = np.asarray(tenths, dtype=np.int64)
    whole, frac = np.divmod(np.abs(tenths), 10)
    return _signed(cat(text(whole), ".", text(frac)), tenths < 0)


def grouped(whole: np.ndarray) -> pa.Array:
    """Non-negative integers with thousands separators: 1234567 -> '1,234,567'."""
    whole = np.asarray(whole, dtype=np.int64)
    big = whole >= 1000
    if not big.any():
        return text(whole)
    head = grouped(np.where(big, whole // 1000, 0))
    return pc.if_else(pa.array(big), cat(head, ",", take("pad3", whole % 1000)), text(whole))


def ratio(bp: np.ndarray, form: np.ndarray) -> pa.Array:
    """Shares in basis points as '35%' (form 0), '35' (1) or '0.35' (2)."""
    bp = np.clip(np.asarray(bp, dtype=np.int64), 0, 10000)
    pct, plain, frac = take("pct", bp), take("plainpct", bp), take("fraction", bp)
    form = pa.array(np.asarray(form))
    return pc.if_else(pc.equal(form, 0), pct, pc.if_else(pc.equal(form, 1), plain, frac))


def ymd(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.asarray(d, dtype="datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (d.astype("datetime64[M]") - d.astype("datetime64[Y]")).astype(np.int64) + 1
    day = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y, m, day


def date_iso(d: np.ndarray) -> pa.Array:
    """'2018-03-05'; '' for NaT."""
    arr = pa.array(np.asarray(d, dtype="datetime64[D]"), type=pa.date32())
    return pc.fill_null(pc.cast(arr, pa.string()), "")


def date_forms(d: np.ndarray, form: np.ndarray) -> pa.Array:
    """Dates in the forms of the spec: 2018-03-05, 2018/3/5, 20180305, 2018年3月5日, 2018.03.05."""
    d = np.asarray(d, dtype="datetime64[D]")
    nat = np.isnat(d)
    y, m, day = ymd(np.where(nat, np.datetime64("2000-01-01"), d))

    def parts(i):
        return (
            text(y[i]),
            take("pad2", m[i]),
            take("pad2", day[i]),
            take("plain2", m[i]),
            take("plain2", day[i]),
        )

    def slash(i):
        ys, _, _, m1, d1 = parts(i)
        return cat(ys, "/", m1, "/", d1)

    def compact(i):
        ys, mm, dd, _, _ = parts(i)
        return cat(ys, mm, dd)

    def chinese(i):
        ys, _, _, m1, d1 = parts(i)
        return cat(ys, "年", m1, "月", d1, "日")

    def dots(i):
        ys, mm, dd, _, _ = parts(i)
        return cat(ys, ".", mm, ".", dd)

    builders = (
        lambda i: date_iso(d[i]),
        slash,
        compact,
        chinese,
        dots,
        lambda i: pa.array([""] * len(i)),
    )
    return by_case(np.where(nat, len(builders) - 1, np.asarray(form)), builders)


PERIOD_FORMS = ("dash", "compact", "chinese", "range", "chinese-short")


def period_forms(year: int, month: np.ndarray, form: np.ndarray) -> pa.Array:
    """Tax periods: 2018-03, 201803, 2018年03月, 2018-03-01至2018-03-31, 2018年3月.

    One year has 12 x 5 distinct strings, so this is a table lookup.
    """
    table = []
    for m in range(1, 13):
        start = np.datetime64(f"{year}-{m:02d}-01")
        end = (start.astype("datetime64[M]") + 1).astype("datetime64[D]") - np.timedelta64(1, "D")
        table += [
            f"{year}-{m:02d}",
            f"{year}{m:02d}",
            f"{year}年{m:02d}月",
            f"{start}至{end}",
            f"{year}年{m}月",
        ]
    idx = (np.asarray(month, dtype=np.int64) - 1) * len(PERIOD_FORMS) + np.asarray(
        form, dtype=np.int64
    )
    return pa.array(table).take(pa.array(idx))


def csv_safe(arr: pa.Array, delimiter: str) -> pa.Array:
    """Quote cells that hold the delimiter, a quote or a line break (RFC 4180)."""
    special = '\t"\r\n' if delimiter == "\t" else ',"\r\n'
    # UTF-8 never hides ASCII bytes inside multi-byte characters, so a byte scan
    # of the value buffer answers "no cell needs quoting" cheaply.
    data = arr.buffers()[2]
    if (
        data is None
        or not np.isin(
            np.frombuffer(data, dtype=np.uint8), np.frombuffer(special.encode(), dtype=np.uint8)
        ).any()
    ):
        return arr
    needs = pc.match_substring_regex(arr, f"[{special}]")
    if not pc.any(needs).as_py():
        return arr
    quoted = cat('"', pc.replace_substring(arr, '"', '""'), '"')
    return pc.if_else(needs, quoted, arr)


def lines(columns: list[pa.Array], delimiter: str) -> bytes:
    """Rows joined by the delimiter, each ending in a newline, as UTF-8 bytes."""
    if not columns or len(columns[0]) == 0:
        return b""
    cols = [pc.fill_null(c, "") for c in columns]
    cols[-1] = cat(cols[-1], "\n")  # cheaper than appending to whole lines
    arr = pc.binary_join_element_wise(*cols, delimiter)
    offsets = np.frombuffer(
        arr.buffers()[1], dtype=np.int32, count=len(arr) + 1, offset=arr.offset * 4
    )
    return memoryview(arr.buffers()[2])[offsets[0] : offsets[-1]].tobytes()

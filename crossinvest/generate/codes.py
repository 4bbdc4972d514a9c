"""Identifier numbers with real check characters, built as numpy byte matrices.

- USCC (GB 32100-2015): 2-char registration authority and category, 6-digit
  division, 9-char organisation code, check char over a 31-symbol alphabet.
- Organisation code (GB 11714-1997): 8 chars and a mod-11 check char ('X' for 10).
- Resident ID (GB 11643-1999): division, birth date, sequence, ISO 7064 MOD 11-2.
- Legacy 15-digit 注册号 (GS 15-2006): authority division, 8 digits, ISO 7064 MOD 11,10.

Every function takes and returns ``(n, width)`` uint8 ASCII matrices so that a
chunk of a million codes costs a few vectorised passes.

>>> m = uscc(np.array([b"91"]), np.array([310115]), org_code_digits(np.array([12345678])))
>>> as_strings(m)
['913101151234567880']
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_W = np.array([1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28], dtype=np.int64)
_ORG_W = np.array([3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_RIC_W = np.array([pow(2, 17 - i, 11) for i in range(17)], dtype=np.int64)

# ASCII byte -> value in the USCC alphabet (-1 outside it).
_USCC_VAL = np.full(256, -1, dtype=np.int64)
for _i, _c in enumerate(USCC_ALPHABET):
    _USCC_VAL[ord(_c)] = _i
_USCC_CHR = np.frombuffer(USCC_ALPHABET.encode(), dtype=np.uint8)
# GB 11714 values: digits 0-9, letters A=10 ... Z=35.
_ORG_VAL = np.zeros(256, dtype=np.int64)
for _c in "0123456789":
    _ORG_VAL[ord(_c)] = int(_c)
for _i in range(26):
    _ORG_VAL[65 + _i] = 10 + _i
_DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an ASCII matrix."""
    v = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((len(v), width), dtype=np.uint8)
    for col in range(width - 1, -1, -1):
        out[:, col] = _DIGITS[v % 10]
        v //= 10
    return out


def org_code_digits(num: np.ndarray) -> np.ndarray:
    """Old-style organisation codes: 8 digits and the GB 11714 check char."""
    body = digits(num, 8)
    return np.concatenate([body, _org_check(body)[:, None]], axis=1)


def org_code_ma(num: np.ndarray) -> np.ndarray:
    """Codes issued with the USCC since 2015: 'MA', 6 alphabet chars, check char."""
    v = np.asarray(num, dtype=np.int64).copy()
    body = np.empty((len(v), 8), dtype=np.uint8)
    body[:, 0], body[:, 1] = ord("M"), ord("A")
    for col in range(7, 1, -1):
        body[:, col] = _USCC_CHR[v % 31]
        v //= 31
    return np.concatenate([body, _org_check(body)[:, None]], axis=1)


def _org_check(body: np.ndarray) -> np.ndarray:
    c = 11 - (_ORG_VAL[body] * _ORG_W).sum(axis=1) % 11
    return np.where(c == 10, ord("X"), np.where(c == 11, ord("0"), _DIGITS[c % 10])).astype(
        np.uint8
    )


def uscc(prefix2: np.ndarray, division: np.ndarray, org9: np.ndarray) -> np.ndarray:
    """Full 18-char USCCs. ``prefix2`` holds 2-byte strings such as b'91' (enterprise)."""
    n = len(org9)
    head = np.frombuffer(np.asarray(prefix2, dtype="S2").tobytes(), dtype=np.uint8).reshape(-1, 2)
    if len(head) == 1 and n != 1:
        head = np.repeat(head, n, axis=0)
    body = np.concatenate([head, digits(division, 6), org9], axis=1)
    return np.concatenate([body, uscc_check(body)[:, None]], axis=1)


def uscc_check(body17: np.ndarray) -> np.ndarray:
    total = (_USCC_VAL[body17[:, :17]] * _USCC_W).sum(axis=1)
    return _USCC_CHR[(31 - total % 31) % 31]


def uscc_valid(m: np.ndarray) -> np.ndarray:
    """Vectorised validity check (same rule as stdnum.cn.uscc.is_valid)."""
    vals = _USCC_VAL[m]
    ok_chars = (
        (vals >= 0).all(axis=1)
        & (m[:, :8] >= ord("0")).all(axis=1)
        & (m[:, :8] <= ord("9")).all(axis=1)
    )
    return ok_chars & (uscc_check(m) == m[:, 17])


def resident_id(division: np.ndarray, birth: np.ndarray, seq: np.ndarray) -> np.ndarray:
    """Resident IDs. ``birth`` is numpy datetime64[D]; ``seq`` in [0, 1000)."""
    b = np.asarray(birth, dtype="datetime64[D]")
    y = b.astype("datetime64[Y]").astype(np.int64) + 1970
    m = (b.astype("datetime64[M]") - b.astype("datetime64[Y]")).astype(np.int64) + 1
    d = (b - b.astype("datetime64[M]")).astype(np.int64) + 1
    body = np.concatenate(
        [digits(division, 6), digits(y * 10000 + m * 100 + d, 8), digits(seq, 3)], axis=1
    )
    total = ((body - ord("0")).astype(np.int64) * _RIC_W).sum(axis=1)
    c = (12 - total % 11) % 11
    check = np.where(c == 10, ord("X"), _DIGITS[c % 10]).astype(np.uint8)
    return np.concatenate([body, check[:, None]], axis=1)


def reg_no15(division: np.ndarray, serial: np.ndarray) -> np.ndarray:
    """Legacy 15-digit registration numbers (6 + 8 digits + MOD 11,10 check digit)."""
    body = np.concatenate([digits(division, 6), digits(serial, 8)], axis=1)
    p = np.full(len(body), 10, dtype=np.int64)
    for col in range(14):
        s = (p + body[:, col] - ord("0")) % 10
        s = np.where(s == 0, 10, s)
        p = (s * 2) % 11
    check = _DIGITS[(11 - p) % 10]
    return np.concatenate([body, check[:, None]], axis=1)


def mistype(m: np.ndarray, u_pos: np.ndarray, u_val: np.ndarray) -> np.ndarray:
    """Change one char of each USCC so the check fails but the format holds.

    A single changed symbol always breaks GB 32100's check: every weight is a
    unit modulo the prime 31.
    """
    out = m.copy()
    rows = np.arange(len(m))
    pos = 2 + np.floor(u_pos * 16).astype(np.int64)  # never the 2-char prefix
    cur = out[rows, pos]
    digit_pos = pos < 8
    cur_digit = cur.astype(np.int64) - ord("0")
    new_digit = _DIGITS[(cur_digit + 1 + np.floor(u_val * 9).astype(np.int64)) % 10]
    cur_val = _USCC_VAL[cur]
    new_alpha = _USCC_CHR[(cur_val + 1 + np.floor(u_val * 30).astype(np.int64)) % 31]
    out[rows, pos] = np.where(digit_pos, new_digit, new_alpha)
    return out


def wrong_check(m: np.ndarray) -> np.ndarray:
    """Replace the check char with the next symbol of the alphabet."""
    out = m.copy()
    out[:, -1] = _USCC_CHR[(_USCC_VAL[out[:, -1]] + 1) % 31]
    return out


def as_strings(m: np.ndarray) -> list[str]:
    return [bytes(r).decode("ascii") for r in m]


def to_arrow(m: np.ndarray) -> pa.Array:
    """An ASCII matrix as a pyarrow string array (one row per string)."""
    n, w = m.shape
    data = pa.py_buffer(np.ascontiguousarray(m).tobytes())
    offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * w).tobytes())
    return pa.StringArray.from_buffers(n, offsets, data)


def fullwidth_matrix(m: np.ndarray) -> pa.Array:
    """ASCII matrix rows as full-width strings (UTF-8 of U+FF01..U+FF5E)."""
    cp = 0xFEE0 + m.astype(np.int64)
    out = np.empty((m.shape[0], m.shape[1] * 3), dtype=np.uint8)
    out[:, 0::3] = 0xE0 | (cp >> 12)
    out[:, 1::3] = 0x80 | ((cp >> 6) & 0x3F)
    out[:, 2::3] = 0x80 | (cp & 0x3F)
    return to_arrow(out)

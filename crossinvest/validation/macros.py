"""DuckDB SQL macros that parse and check delivered text, set-based.

``install_macros(con)`` creates every ``ci_*`` macro as a TEMP macro (so it also
works on read-only connections and never lands in the warehouse file); it is
idempotent and cheap, and ``warehouse.connection.connect`` calls it on every
connection. Every macro is NULL-safe: NULL or blank input gives NULL.

Contract: parsers (``ci_parse_*``, ``ci_money_parts``, ``ci_industry_parts``,
``ci_uscc_valid``, ``ci_resident_id_valid``) expect ``ci_clean``-ed input (the
loader cleans every column first); the code checks also expect it upper-cased.

>>> import duckdb
>>> con = duckdb.connect()
>>> install_macros(con)
>>> con.execute("SELECT ci_uscc_valid('91110000600037341L'), ci_parse_ratio('35%')").fetchone()
(True, 0.35)

Speed matters more than elegance here: every macro runs on every row of every
delivery (10M rows must validate at >= 0.5x a bare ``read_csv``). DuckDB's string
functions cost ~20-50 ns per call, per-character work (``s[i]``, ``strpos``) and
``translate``/``trim(s, chars)`` cost far more, and lambda bodies run row by row;
so:

* each parser tries a cheap fast path first (``LIKE`` + ``TRY_CAST``) and only
  falls back to regular expressions for the rarer forms;
* ``ci_clean`` only folds or strips values that need it;
* the check-character macros decode the whole code in one step (base64 to a
  128-bit integer) and compute the checksum with bit-sliced logic and
  ``bit_count``; see ``_checksum_sql``. ``benchmarks/bench_macros.py`` measures it.

How to call them (the loader must): evaluate ``ci_uscc_valid``,
``ci_resident_id_valid`` and ``ci_money_parts`` as their own columns in a plain
SELECT list (a CTE level), then use those columns. Their SQL repeats
subexpressions and relies on DuckDB's common-subexpression elimination, which
works in SELECT lists (also as a CASE condition) but not inside AND/OR: there
``ci_uscc_valid`` is ~45x slower.
"""

from __future__ import annotations

import duckdb

# --- vocabulary shared with the test oracle (crossinvest.validation.parsers) ----

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # GB 32100-2015, no I O S V Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
RID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # ISO 7064 MOD 11-2

# Stripped from both ends by ci_clean: Python's str.isspace() set plus the BOM.
WHITESPACE = (
    "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
FULLWIDTH = "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000"
HALFWIDTH = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)) + " "
# Full-width characters common enough in Chinese names to fold with a cheap
# replace() before deciding whether the (slow) translate() is needed at all.
COMMON_FULLWIDTH = "（），：；　"

# Regular expressions used by both the SQL macros (RE2) and the oracle (Python re):
# only the common subset ([0-9] rather than \d, explicit classes, no backrefs).
NUMBER_RE = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?"
_TIME = r"(?: (?:[01]?[0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?)?"
DATE_SEP_RE = (
    r"(?:[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}"
    r"|[0-9]{4}\.[0-9]{1,2}\.[0-9]{1,2}|[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日?)" + _TIME
)
DATE_COMPACT_RE = r"[0-9]{8}" + _TIME
EXCEL_SERIAL_RE = r"[0-9]{1,7}(?:\.[0-9]+)?"
EXCEL_SERIAL_MAX = 2958465  # 9999-12-31
DATE_MIN, DATE_MAX = "1000-01-01", "9999-12-31"
PERIOD_RE = r"[0-9]{4}[-/.][0-9]{1,2}|[0-9]{6}|[0-9]{4}年[0-9]{1,2}月"
PERIOD_RANGE_SEP = "至"
YEAR_RE = r"[0-9]{4}(?:年|\.0+)?"
YEAR_MIN, YEAR_MAX = 1949, 2100
COUNT_RE = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.0+)?(?:人|名)?"
INDUSTRY_CODE_RE = r"[0-9]{2,4}"
INDUSTRY_LETTER_RE = r"[A-Za-z][ -]?[0-9]{2,4}"

# Unit suffix variants -> canonical unit. Lookup is on the suffix as written,
# then on its upper-cased form (so 'usd' works); unknown suffixes stay raw.
_CNY = {"元": "元", "千元": "千元", "万元": "万元", "百万元": "百万元", "亿元": "亿元"}
UNIT_ALIASES: dict[str, str] = {"%": "%"}
for _u in _CNY:
    UNIT_ALIASES |= {_u: _u, _u + "人民币": _u, "人民币" + _u: _u}
UNIT_ALIASES |= {
    "万": "万元",
    "千": "千元",
    "百万": "百万元",
    "亿": "亿元",
    "万人民币": "万元",
    "人民币": "元",
    "RMB": "元",
    "CNY": "元",
    "万RMB": "万元",
    "万CNY": "万元",
}
for _name, _code, _alts in (
    ("美元", "USD", ("美金",)),
    ("港元", "HKD", ("港币",)),
    ("欧元", "EUR", ()),
    ("日元", "JPY", ()),
    ("英镑", "GBP", ()),
):
    for _v in (_name, _code, *_alts):
        UNIT_ALIASES |= {_v: _name, "万" + _v: "万" + _name}

# --- SQL helpers -----------------------------------------------------------------


def _q(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _re_class(chars: str) -> str:
    """An RE2 character class matching exactly ``chars`` (code-point escapes)."""
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in chars) + "]"


_WS_CLASS = _re_class(WHITESPACE)
_FW_CLASS = _re_class(FULLWIDTH)
# Blank: only whitespace. trim(s, chars) costs ~0.5 us per character of the set
# per row in DuckDB, so never use it; cheap string comparisons pick the values
# that start with whitespace (a superset) before a regexp decides.
_STARTS_WS = (
    "(s < '!' OR s >= '\x85' AND s < '\xa1' OR s >= '\u1680' AND s < '\u3001' OR s >= '\ufeff')"
)
_BLANK = f"(s = '' OR {_STARTS_WS} AND regexp_full_match(s, {_q(_WS_CLASS + '*')}))"


def _let(value: str, name: str, body: str) -> str:
    """Evaluate ``value`` once and use it as ``name`` in ``body``.

    A one-element ``list_transform``. DuckDB runs lambda bodies row by row
    (~5x the cost per operation), so only for small bodies on rare rows.
    """
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def _bits(positions: list[int]) -> int:
    return sum(1 << p for p in positions)


def _checksum_sql(kind: str) -> str:
    """SQL (an integer, 0 when the code is valid) for an 18-char USCC or resident ID.

    The code plus ``'AA'`` is base64-decoded and read as one 120-bit integer:
    character *i* becomes the 6-bit lane at bits ``6*(20-i)``, holding its
    base64 index *b* (A-Z 0-25, 0-9 52-61; other bytes fail the decode, and
    ``try`` yields NULL). The integer is split into two BIGINT words of ten
    lanes. Then, with bitwise operations on whole words (one SQL operation
    handles all lanes of a word):

    * USCC value: v = b + 10 - c (mod 31), c = number of skipped letters
      (I O S V) below the letter, computed as bit-sliced boolean logic on the
      six bit planes of the lanes, next to a validity mask for the charset;
    * the weighted sum: bit *k* of lane *i* contributes ``w_i * 2**k`` (mod m),
      so grouping bits by the binary digits of that coefficient turns the sum
      into ``sum(2**r * bit_count(word & mask_r))``.

    The expression repeats its subexpressions (planes, words, the decode)
    textually and relies on DuckDB's common-subexpression elimination, which
    works in a SELECT list but not inside CASE/AND/OR: hence no CASE, AND or
    OR anywhere in it, and callers evaluate the macro in a plain SELECT list.
    """
    lanes = {
        "h": {i: 6 * (10 - i) for i in range(1, 11)},
        "l": {i: 6 * (20 - i) for i in range(11, 19)},
    }
    low = {w: _bits(list(pos.values())) for w, pos in lanes.items()}
    # A non-18-char value decodes a dummy that fails the check, so nothing errors.
    dummy = "000000000000000001" if kind == "uscc" else "000000000000000000"
    x = f"try(from_base64(CASE WHEN strlen(s) = 18 THEN s ELSE '{dummy}' END || 'AA')::BIT::UHUGEINT)"
    words = {"h": f"({x} >> 60)::BIGINT", "l": f"({x} & {(1 << 60) - 1})::BIGINT"}

    def a(w: str, k: int) -> str:  # bit plane k of word w, at lane bit 0
        return f"(({words[w]} >> {k}) & {low[w]})"

    def popcounts(word: str, coef: dict[int, int], modulus: int) -> list[str]:
        # coef: bit position -> coefficient (mod modulus)
        terms = []
        for r in range(modulus.bit_length()):
            mask = _bits([p for p, c in coef.items() if (c % modulus) >> r & 1])
            if mask:
                terms.append(f"bit_count({word} & {mask})::DOUBLE * {1 << r}")
        return terms

    both = low["h"] | low["l"] << 1
    if kind == "uscc":
        weights: tuple[int, ...] = (*USCC_WEIGHTS, 1)  # the check char closes the sum: total = 0
        m = 31

        def parts(w: str) -> tuple[str, str]:
            a0, a1, a2, a3, a4, a5 = (a(w, k) for k in range(6))
            t, o = f"({a2} & {a1})", f"({a0} | {a1} | {a2})"
            x21, x10, m43 = f"xor({a2}, {a1})", f"xor({a1}, {a0})", f"xor({a4}, {a3})"
            low_valid = (
                f"((~{a4} & ~{a3}) | (~{a4} & {a3} & {o} & (~{t} | {a0}))"
                f" | ({a4} & ~{a3} & ~({x21} & {x10})) | ({a4} & {a3} & ~{o}))"
            )
            valid = (
                f"(({a5} & {a4} & ({a3} | {a2}) & ~({a3} & {a2} & {a1})) | (~{a5} & {low_valid}))"
            )
            c = (
                f"((~{a5} & {m43} & (({a4} & {x21}) | (~{a4} & ~{t})))"
                f" | ((~{a5} & {m43} & xor({t}, {a4})) << 1) | ((~{a5} & {a4} & ({a3} | {t})) << 2))"
            )
            return valid, c

        (vh, ch), (vl, cl) = parts("h"), parts("l")
        valid = f"(({vh} & {low['h']}) | (({vl} & {low['l']}) << 1))"
        terms = []
        for w in "hl":
            coef = {p + k: weights[i - 1] << k for i, p in lanes[w].items() for k in range(6)}
            terms += popcounts(words[w], coef, m)
        # c bits: lane bits 0-2 (hi word) and 3-5 (lo word, shifted by 3)
        ccoef = {p + k: -weights[i - 1] << k for i, p in lanes["h"].items() for k in range(3)}
        ccoef |= {p + 3 + k: -weights[i - 1] << k for i, p in lanes["l"].items() for k in range(3)}
        terms += popcounts(f"({ch} | ({cl} << 3))", ccoef, m)
        const = 10 * sum(weights) % m
        return f"(xor({valid}, {both}) | (({' + '.join(terms)} + {const})::BIGINT % {m}))"
    # resident ID: 17 digits + digit or X; sum(W_i d_i) + check = 1 (mod 11)
    weights = (*RID_WEIGHTS, 1)
    m = 11

    def digit(w: str) -> str:
        a1, a2, a3, a4, a5 = (a(w, k) for k in range(1, 6))
        return f"({a5} & {a4} & ({a3} | {a2}) & ~({a3} & {a2} & {a1}))"

    al = [a("l", k) for k in range(6)]
    is_x = f"(~{al[5]} & {al[4]} & ~{al[3]} & {al[2]} & {al[1]} & {al[0]} & {1 << lanes['l'][18]})"
    valid = f"(({digit('h')} & {low['h']}) | ((({digit('l')} | {is_x}) & {low['l']}) << 1))"
    terms = []
    for w in "hl":
        coef = {p + k: weights[i - 1] << k for i, p in lanes[w].items() for k in range(6)}
        terms += popcounts(words[w], coef, m)
    # digits are b - 52; 'X' (b = 23) must count 10, i.e. 6 more than b - 52
    const = (-52 * sum(weights) - 1) % m
    return f"(xor({valid}, {both}) | (({' + '.join(terms)} + bit_count({is_x})::DOUBLE * 6 + {const})::BIGINT % {m}))"


# --- the macros ------------------------------------------------------------------

_ASCII_WS_END = " OR ".join(f"suffix(s, chr({ord(c)}))" for c in WHITESPACE if ord(c) < 128)
_EDGE_WS = f"^{_WS_CLASS}|{_WS_CLASS}$"
_FOLD_COMMON = "s"
for _c in COMMON_FULLWIDTH:
    _FOLD_COMMON = f"replace({_FOLD_COMMON}, {_q(_c)}, {_q(HALFWIDTH[FULLWIDTH.index(_c)])})"
_FOLD_PARENS = "replace(replace(s, '（', '('), '）', ')')"

# Strip whitespace from both ends (regexp: see _BLANK); '' -> NULL.
_STRIP = f"""nullif(CASE WHEN regexp_matches(trim(s), {_q(_EDGE_WS)})
  THEN regexp_replace(trim(s), {_q(f"^{_WS_CLASS}+|{_WS_CLASS}+$")}, '', 'g') ELSE trim(s) END, '')"""
# Fold full-width characters: the common ones by replace(), translate() only if others remain.
_FOLD = f"""CASE WHEN regexp_matches({_FOLD_COMMON}, {_q(_FW_CLASS)})
  THEN translate({_FOLD_COMMON}, {_q(FULLWIDTH)}, {_q(HALFWIDTH)}) ELSE {_FOLD_COMMON} END"""
_DETECT = _q(f"{_FW_CLASS}|{_EDGE_WS}")
_CLEAN = f"""
CASE
  WHEN s IS NULL THEN NULL
  WHEN strlen(s) = length(s) THEN  -- pure ASCII: only ASCII whitespace can need work
    CASE WHEN s < '!' OR {_ASCII_WS_END} THEN ci__strip(s) ELSE s END
  WHEN NOT regexp_matches(s, {_DETECT}) THEN s
  WHEN NOT regexp_matches(s, {_q(_FW_CLASS)}) THEN ci__strip(s)  -- only whitespace at the ends
  -- full-width brackets are common in names: handle that case without the rest
  WHEN NOT regexp_matches({_FOLD_PARENS}, {_DETECT}) THEN {_FOLD_PARENS}
  ELSE ci__strip(ci__fold(s))
END"""


_RID_DATE = (
    "try_strptime(substr(s, 7, 8), '%Y%m%d')::DATE BETWEEN DATE '1900-01-01' AND current_date"
)

# 0 for a non-blank value, NULL for NULL or blank: added to a CASE-free check so
# that blank gives NULL without putting the check itself inside a CASE. The
# string comparisons pick (a superset of) values starting with whitespace.
_NULL_IF_BLANK = f"(CASE WHEN s IS NULL OR {_BLANK} THEN NULL ELSE 0 END)"


def _code_check(kind: str) -> str:
    check = _checksum_sql(kind)
    if kind == "rid":  # and the birth date (digits 7-14) must exist, 1900..today
        check = f"({check} | (1 - coalesce({_RID_DATE}, false)::INTEGER))"
    return f"(coalesce({check}, 1) + {_NULL_IF_BLANK}) = 0"


def _in_range(d: str) -> str:
    return f"CASE WHEN {d} BETWEEN DATE '{DATE_MIN}' AND DATE '{DATE_MAX}' THEN {d} END"


_DATE_SLOW = f"""
CASE
  WHEN regexp_full_match(s, {_q(DATE_SEP_RE)}) THEN {_in_range("TRY_CAST(replace(replace(replace(replace(replace(split_part(s, ' ', 1), '/', '-'), '.', '-'), '年', '-'), '月', '-'), '日', '') AS DATE)")}
  WHEN regexp_full_match(s, {_q(DATE_COMPACT_RE)}) THEN {_in_range("try_strptime(left(s, 8), '%Y%m%d')::DATE")}
  WHEN regexp_full_match(s, {_q(EXCEL_SERIAL_RE)}) THEN
    CASE WHEN TRY_CAST(s AS DOUBLE) >= 1 AND TRY_CAST(s AS DOUBLE) < {EXCEL_SERIAL_MAX + 1}
      THEN DATE '1899-12-30' + floor(TRY_CAST(s AS DOUBLE))::INTEGER END
END"""

_DATE = f"""
CASE
  -- ISO dates, the common case: one cast ('>= 1000' keeps out signs and years < 1000)
  WHEN s LIKE '____-__-__' AND s >= '1000' THEN TRY_CAST(s AS DATE)
  WHEN s IS NULL OR {_BLANK} THEN NULL
  ELSE ci__date_slow(s)
END"""

# Common units first: MAP lookup is a linear scan.
_UNIT_MAP = (
    "MAP {" + ", ".join(f"{_q(k)}: {_q(v)}" for k, v in {"": "", **UNIT_ALIASES}.items()) + "}"
)
_NUM_PREFIX = f"regexp_extract(s, {_q('^' + NUMBER_RE + ' *')})"  # with the spaces after it
_UNIT_RAW = f"substr(s, length({_NUM_PREFIX}) + 1)"
# CASE-free so that the regexp is evaluated once (common-subexpression
# elimination); ``[x][1 + NULL]`` gives NULL for blank input.
# Most amounts are a plain number: one regular-expression test and a cast cost
# half of the general form (a prefix extract and two unit lookups).
_MONEY = (
    "CASE WHEN regexp_full_match(s, '[0-9]+(?:\\.[0-9]+)?') THEN {'num': TRY_CAST(s AS DOUBLE), 'unit': ''} ELSE "
    f"[{{'num': TRY_CAST(replace({_NUM_PREFIX}, ',', '') AS DOUBLE),"
    f" 'unit': coalesce({_UNIT_MAP}[{_UNIT_RAW}], {_UNIT_MAP}[upper({_UNIT_RAW})], {_UNIT_RAW})}}]"
    f"[1 + {_NULL_IF_BLANK}] END"
)

# '%' -> /100; no unit -> as is when <= 1, else /100; any other unit -> NULL.
_RATIO = (
    "ci_money_parts(s).num / [100.0, 1.0, NULL]"
    "[3 - 2 * (ci_money_parts(s).unit = '%')::INTEGER"
    " - (ci_money_parts(s).unit = '')::INTEGER * (1 + (ci_money_parts(s).num > 1)::INTEGER)]"
)

# Periods never read Excel serials: a bare number in a period column is an error.
_DATE_NOSERIAL = (
    f"CASE WHEN NOT regexp_full_match(s, {_q(EXCEL_SERIAL_RE)}) THEN ci_parse_date(s) END"
)

_PERIOD_ONE = f"""
CASE
  WHEN regexp_full_match(s, {_q(PERIOD_RE)}) THEN {_in_range("TRY_CAST(CASE WHEN strlen(s) = 6 THEN left(s, 4) || '-' || right(s, 2) ELSE replace(replace(replace(replace(s, '/', '-'), '.', '-'), '年', '-'), '月', '') END || '-01' AS DATE)")}
  ELSE date_trunc('month', ci__date_noserial(s))::DATE
END"""

_PERIOD = f"""
CASE
  WHEN s LIKE '____-__' AND s >= '1000' THEN TRY_CAST(s || '-01' AS DATE)
  WHEN s IS NULL OR {_BLANK} THEN NULL
  WHEN contains(s, {_q(PERIOD_RANGE_SEP)}) THEN {
    _let(
        f"[ci__date_noserial(trim(split_part(s, {_q(PERIOD_RANGE_SEP)}, 1))), ci__date_noserial(trim(split_part(s, {_q(PERIOD_RANGE_SEP)}, 2)))]",
        "_ci_d",
        f"CASE WHEN len(string_split(s, {_q(PERIOD_RANGE_SEP)})) = 2 AND _ci_d[1] <= _ci_d[2]"
        " AND date_trunc('month', _ci_d[1]) = date_trunc('month', _ci_d[2])"
        " THEN date_trunc('month', _ci_d[1])::DATE END",
    )
}
  ELSE ci__period_one(s)
END"""

_YEAR = f"""
CASE
  WHEN s IS NULL OR {_BLANK} THEN NULL
  WHEN regexp_full_match(s, {_q(YEAR_RE)}) AND left(s, 4)::INTEGER BETWEEN {YEAR_MIN} AND {YEAR_MAX}
    THEN left(s, 4)::INTEGER
END"""

_COUNT = f"""
CASE
  WHEN s IS NULL OR {_BLANK} THEN NULL
  WHEN regexp_full_match(s, {_q(COUNT_RE)})
    THEN TRY_CAST(replace(split_part(regexp_extract(s, '^[0-9,.]+'), '.', 1), ',', '') AS BIGINT)
END"""

_INDUSTRY = f"""
CASE
  WHEN s IS NULL OR {_BLANK} THEN NULL
  WHEN regexp_full_match(s, {_q(INDUSTRY_CODE_RE)}) THEN {{'section': NULL::VARCHAR, 'code': s}}
  WHEN regexp_full_match(s, {_q(INDUSTRY_LETTER_RE)})
    THEN {{'section': upper(left(s, 1)), 'code': regexp_extract(s, '[0-9]+$')}}
  ELSE {{'section': NULL::VARCHAR, 'code': NULL::VARCHAR}}
END"""

_DIVISION = f"""
CASE
  WHEN s IS NULL OR {_BLANK} OR length(s) < 8 THEN NULL
  ELSE substr(s, 3, 6)
END"""

# name -> body, in dependency order.
MACROS: dict[str, str] = {
    "ci__strip": _STRIP,
    "ci__fold": _FOLD,
    "ci_clean": _CLEAN,
    "ci_uscc_valid": _code_check("uscc"),
    "ci_resident_id_valid": _code_check("rid"),
    "ci__date_slow": _DATE_SLOW,
    "ci_parse_date": _DATE,
    "ci_money_parts": _MONEY,
    "ci_parse_ratio": _RATIO,
    "ci__date_noserial": _DATE_NOSERIAL,
    "ci__period_one": _PERIOD_ONE,
    "ci_parse_period": _PERIOD,
    "ci_parse_year": _YEAR,
    "ci_parse_count": _COUNT,
    "ci_industry_parts": _INDUSTRY,
    "ci_division_from_uscc": _DIVISION,
}


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create (or replace) every ``ci_*`` macro on ``con`` as TEMP macros."""
    for name, body in MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}(s) AS ({body})")

"""The four deliveries as data: their columns, aliases, parsers and natural keys.

This module is the one place that knows ``data-interface.md``. Readers use it to
match headers, validation uses it to build the checking SQL, and the warehouse
uses it for table layouts and the keys by which a later delivery supersedes an
earlier one.

>>> SOURCES["tax"].field("tax_paid").unit
'元'
>>> [f.name for f in SOURCES["stats"].required]
['name', 'year']
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Parser kinds understood by ``validation.rules``.
#   text      trimmed, full-width folded; NULL when empty
#   uscc      18-char USCC, upper-cased; validity checked
#   id        an identifier (USCC, reg_no or resident ID); kept as text
#   date      any date form of the spec, XLSX date cells, Excel serials
#   money     number with optional unit suffix; stored in 万元
#   count     non-negative integer
#   ratio     35% / 35 / 0.35 -> 0.35
#   region    6-digit GB/T 2260 code (secondary: a bad one is a warning)
#   industry  GB/T 4754-2017 小类 with or without section letter (secondary)
#   period    month: 2018-03, 201803, 2018年03月, 2018-03-01至2018-03-31
#   year      2018 or 2018年


@dataclass(frozen=True)
class Field:
    """One column of a delivery.

    ``name`` is the English alias, also the warehouse column stem; ``canonical``
    the Chinese header name; ``unit`` the unit the bureau delivers money in when
    the cell carries none.
    """

    name: str
    canonical: str
    kind: str = "text"
    required: bool = False
    unit: str | None = None
    extra_aliases: tuple[str, ...] = ()
    # Money that may be negative (a loss); every other amount must be >= 0.
    signed: bool = False

    @property
    def aliases(self) -> tuple[str, ...]:
        return (self.canonical, self.name, *self.extra_aliases)


@dataclass(frozen=True)
class Source:
    name: str
    title: str  # Chinese name, for messages
    fields: tuple[Field, ...]
    # Columns (after parsing) forming the natural key; a later delivery with the
    # same key supersedes the earlier row.
    key: tuple[str, ...]
    # Column sets of which at least one must be present in the header.
    required_any: tuple[tuple[str, ...], ...] = field(default_factory=tuple)
    # The column a profile reads one enterprise's rows by, when its table is too
    # large for the index budget: each delivery's rows are stored in its order, so
    # that DuckDB's per-row-group min/max skip all but a row group or two per batch.
    cluster: str | None = None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def required(self) -> list[Field]:
        return [f for f in self.fields if f.required]

    @property
    def table(self) -> str:
        """Warehouse table holding every version of every row of this source."""
        return f"{self.name}_rows"


REGISTRY = Source(
    name="registry",
    title="企业登记信息",
    fields=(
        Field("uscc", "统一社会信用代码", "uscc"),
        Field("reg_no", "注册号", "id"),
        Field("name", "企业名称", "text", required=True),
        Field("entity_type", "企业类型"),
        Field("legal_representative", "法定代表人"),
        Field("established_on", "成立日期", "date", required=True),
        Field("registered_capital", "注册资本", "money", unit="万元"),
        Field("currency", "币种"),
        Field("registration_authority", "登记机关"),
        Field("address", "住所"),
        Field("region_code", "住所所在行政区划", "region"),
        Field("industry_code", "行业代码", "industry"),
        Field("status", "登记状态"),
        Field("deregistered_on", "注销日期", "date"),
    ),
    key=("enterprise_key",),
    required_any=(("uscc", "reg_no"),),
)

SHAREHOLDERS = Source(
    name="shareholders",
    title="股东及出资信息",
    fields=(
        Field("enterprise_uscc", "企业统一社会信用代码", "uscc", required=True),
        Field("investor_name", "股东名称", "text", required=True),
        Field("investor_type", "股东类型"),
        Field("investor_id_type", "股东证照类型"),
        Field("investor_id", "股东证照号码", "id"),
        Field("subscribed_capital", "认缴出资额", "money", unit="万元"),
        Field("paid_capital", "实缴出资额", "money", unit="万元"),
        Field("share_ratio", "出资比例", "ratio"),
        Field("contributed_on", "出资日期", "date"),
        Field("investor_region_code", "股东所在行政区划", "region"),
    ),
    key=("enterprise_uscc", "investor_key"),
)

TAX = Source(
    name="tax",
    title="纳税信息",
    fields=(
        Field("taxpayer_id", "纳税人识别号", "id"),
        Field("taxpayer_name", "纳税人名称", "text", required=True),
        Field("period", "税款所属期", "period", required=True),
        Field("tax_type", "税种"),
        Field("tax_paid", "实缴税额", "money", required=True, unit="元"),
    ),
    key=("taxpayer_key", "period", "tax_type_key"),
    cluster="taxpayer_key",
)

STATS = Source(
    name="stats",
    title="统计年报",
    fields=(
        Field("uscc", "统一社会信用代码", "id"),
        Field("name", "单位详细名称", "text", required=True),
        Field("year", "年份", "year", required=True),
        Field("employees", "从业人员期末人数", "count"),
        Field("revenue", "营业收入", "money", unit="千元"),
        Field("profit", "利润总额", "money", unit="千元", signed=True),
        Field("total_assets", "资产总计", "money", unit="千元"),
    ),
    key=("unit_key", "year"),
    cluster="unit_key",
)

SOURCES: dict[str, Source] = {s.name: s for s in (REGISTRY, SHAREHOLDERS, TAX, STATS)}

# Money units to 万元. Foreign currencies are converted with the home's
# ``fx_to_cny`` setting (see config.DEFAULT_SETTINGS).
UNIT_TO_WAN: dict[str, float] = {
    "元": 1e-4,
    "千元": 1e-1,
    "万元": 1.0,
    "百万元": 1e2,
    "亿元": 1e4,
}

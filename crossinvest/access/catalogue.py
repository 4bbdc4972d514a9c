"""The sharing catalogue (共享目录): what is shared, on what terms, and what each field means.

Every dataset an actor can be authorised for is listed here with its sharing
class — 无条件 (unconditional: every signed-in partner may read it), 有条件
(conditional: granted on request, for a stated purpose, until an expiry) or
不予共享 (not shared: the office's own staff only) — its fields, the update
frequency, and the warehouse source whose latest batch dates it. The class is
not documentation only: ``Actor.can`` reads it, so the catalogue a partner is
shown is the rule that is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

UNCONDITIONAL = "unconditional"
CONDITIONAL = "conditional"
NOT_SHARED = "not_shared"

CLASS_NAMES = {
    UNCONDITIONAL: ("无条件共享", "unconditional"),
    CONDITIONAL: ("有条件共享", "conditional"),
    NOT_SHARED: ("不予共享", "not shared"),
}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    definition: str
    sharing: str = ""  # empty: the dataset's class


@dataclass(frozen=True)
class Entry:
    """One dataset of the catalogue (its ``name`` is the permission guard)."""

    name: str
    title: str
    title_en: str
    sharing: str
    description: str
    frequency: str
    sources: tuple[str, ...]
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def as_json(self) -> dict[str, Any]:
        return {
            "dataset": self.name,
            "title": self.title,
            "title_en": self.title_en,
            "sharing": self.sharing,
            "sharing_name": CLASS_NAMES[self.sharing][0],
            "description": self.description,
            "frequency": self.frequency,
            "sources": list(self.sources),
            "fields": [
                {
                    "name": f.name,
                    "label": f.label,
                    "definition": f.definition,
                    "sharing": f.sharing or self.sharing,
                    "sharing_name": CLASS_NAMES[f.sharing or self.sharing][0],
                }
                for f in self.fields
            ],
        }


_MONEY_NOTE = "不足3户企业的分组不显示金额（定义见口径「保密处理」）"

CATALOGUE: tuple[Entry, ...] = (
    Entry(
        "stats",
        "来沪投资与在外地投资统计",
        "inbound and outbound investment statistics",
        UNCONDITIONAL,
        "按来源省份、地市、所在区、行业、对口支援地区分组的企业数、投资额、纳税、营业收入和从业人员。"
        + _MONEY_NOTE,
        "随各部门数据交付更新（工商每季、税务每月、统计每年）",
        ("registry", "shareholders", "tax", "stats"),
        (
            Field("enterprises", "企业数", "期末存续的来沪（在外地）投资企业户数"),
            Field("new_enterprises", "新设企业数", "期内成立的企业户数"),
            Field("investment_wan", "投资额（万元）", "外地股东认缴出资额，或按股比穿透计算"),
            Field("tax_wan", "纳税额（万元）", "期内入库税额合计"),
            Field("revenue_wan", "营业收入（万元）", "统计部门报送的年度营业收入"),
            Field("employees", "从业人员", "统计部门报送的年末从业人员"),
        ),
    ),
    Entry(
        "definitions",
        "统计口径",
        "definitions",
        UNCONDITIONAL,
        "每个指标的定义、来源与计算方法。",
        "随版本更新",
        (),
    ),
    Entry(
        "freshness",
        "数据更新情况",
        "data freshness",
        UNCONDITIONAL,
        "各数据源最近一次交付的时间、期间和行数。",
        "每次交付后",
        ("registry", "shareholders", "tax", "stats"),
    ),
    Entry(
        "enterprise",
        "企业名录与画像",
        "enterprise register and profiles",
        CONDITIONAL,
        "企业名称、统一社会信用代码、所在区、行业、股东及来源地、股权穿透关系。区用户只能看到本区登记的企业。",
        "工商每季",
        ("registry", "shareholders"),
        (
            Field("uscc", "统一社会信用代码", "GB 32100-2015 代码"),
            Field("name", "企业名称", "登记名称"),
            Field("region_code", "所在区", "登记地行政区划代码（GB/T 2260）"),
            Field("industry_code", "行业", "国民经济行业分类（GB/T 4754-2017）"),
            Field("investors", "股东", "股东名称、类型、来源地、出资额与出资比例"),
            Field(
                "investor_id",
                "自然人身份证号",
                "自然人股东的居民身份证号，系统只保存其掩码与散列",
                NOT_SHARED,
            ),
        ),
    ),
    Entry(
        "enterprise_money",
        "企业纳税与经营数据",
        "enterprise-level tax and revenue",
        CONDITIONAL,
        "单个企业的月度纳税、年度营业收入和利润总额，属税收保密信息（从业人员数不在其内）。",
        "税务每月、统计每年",
        ("tax", "stats"),
        (
            Field("tax_wan", "纳税额（万元）", "单个企业期内入库税额"),
            Field("revenue_wan", "营业收入（万元）", "单个企业年度营业收入"),
            Field("profit_wan", "利润总额（万元）", "单个企业年度利润总额"),
        ),
    ),
    Entry(
        "batches",
        "数据批次",
        "load batches",
        NOT_SHARED,
        "每个交付文件的装载记录，供本办运维使用。",
        "每次交付后",
        ("registry", "shareholders", "tax", "stats"),
    ),
    Entry(
        "quarantine",
        "问题数据",
        "quarantined rows",
        NOT_SHARED,
        "未通过校验的原始行及其原因，含未经处理的原始数据。",
        "每次交付后",
        ("registry", "shareholders", "tax", "stats"),
    ),
    Entry(
        "links",
        "记录关联",
        "record links",
        NOT_SHARED,
        "无有效代码记录与企业的关联及人工复核。",
        "每次交付后",
        ("tax", "stats"),
    ),
)

BY_NAME: dict[str, Entry] = {e.name: e for e in CATALOGUE}


def sharing_of(dataset: str) -> str:
    """The sharing class of ``dataset``; anything not catalogued is not shared."""
    entry = BY_NAME.get(dataset)
    return entry.sharing if entry else NOT_SHARED


def requestable() -> list[str]:
    """Datasets a partner may ask for (the conditional ones)."""
    return [e.name for e in CATALOGUE if e.sharing == CONDITIONAL]


def shared() -> list[str]:
    """Datasets offered to partners at all (unconditional and conditional)."""
    return [e.name for e in CATALOGUE if e.sharing != NOT_SHARED]

"""Commands: ``stats``, ``enterprise``, ``support-regions`` and ``stats-rebuild`` (contract.md).

Registered through the ``register_commands`` hook. User-facing messages are in
Chinese; a bad period, kind, dimension or USCC exits 2 with one line on stderr.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from crossinvest.analytics.dims import DIMS, MEASURE_LABELS, MEASURES

support_app = typer.Typer(
    name="support-regions",
    help="对口支援地区名单（版本化维护）/ Counterpart-support regions, versioned.",
    no_args_is_help=True,
)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message.replace("\n", " "), err=True)
    return typer.Exit(code)


def _json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _connect():
    from crossinvest.warehouse.connection import WarehouseBusy, connect

    try:
        return connect()
    except WarehouseBusy as e:
        raise _fail(str(e)) from e


def _cell(v: Any) -> Any:
    """CSV cell: text starting like a formula is quoted so no spreadsheet runs it."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return "" if v is None else v


def render_csv(result) -> str:
    """Group rows then the total row (labelled 合计), one header line of field names."""
    cols = [c for d in result.by for c in (d, f"{d}_name")] + list(MEASURES)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in result.rows:
        w.writerow([_cell(r[c]) for c in cols])
    total = {c: None for c in cols} | result.total
    total[f"{result.by[0]}_name"] = "合计"
    w.writerow([_cell(total[c]) for c in cols])
    return buf.getvalue()


def render_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    kind = "各地来沪投资" if result.kind == "inbound" else "上海在外地投资"
    title = f"{kind} {result.period.label}（参考日期 {result.reference_date}{'，穿透' if result.penetrate else ''}）"
    t = Table(title=title)
    for d in result.by:
        t.add_column(DIMS[d].label)
    for m in MEASURES:
        t.add_column(MEASURE_LABELS[m], justify="right")

    def fmt(m: str, v: Any) -> str:
        return f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"

    for r in result.rows:
        t.add_row(
            *[f"{r[f'{d}_name']}（{r[d]}）" if r[d] else r[f"{d}_name"] for d in result.by],
            *[fmt(m, r[m]) for m in MEASURES],
        )
    t.add_row(
        *(["合计"] + [""] * (len(result.by) - 1)),
        *[fmt(m, result.total[m]) for m in MEASURES],
        style="bold",
    )
    Console().print(t)


def _parse_filters(values: list[str] | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for v in values or []:
        if "=" not in v:
            raise _fail(f"筛选条件格式错误「{v}」：应为 维度=代码[,代码]，例如 district=310115")
        dim, codes = v.split("=", 1)
        out[dim.strip()] = [c.strip() for c in codes.split(",") if c.strip()]
    return out


def stats_command(
    kind: Annotated[
        str, typer.Argument(help="inbound（各地来沪投资）或 outbound（上海在外地投资）")
    ],
    period: Annotated[str, typer.Option("--period", help="期间：2018、2018Q3 或 2018-07")],
    by: Annotated[str, typer.Option("--by", help=f"分组维度，逗号分隔：{', '.join(DIMS)}")],
    penetrate: Annotated[
        bool, typer.Option("--penetrate", help="股权穿透 / ownership penetration")
    ] = False,
    include_persons: Annotated[
        bool, typer.Option("--include-persons", help="计入自然人股东 / include natural persons")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="json | csv | table")] = "table",
    filters: Annotated[
        list[str] | None,
        typer.Option("--filter", help="只统计某维度取值，如 district=310115（可重复）"),
    ] = None,
    engine: Annotated[
        str | None, typer.Option("--engine", help="duckdb | spark（默认取设置）")
    ] = None,
) -> None:
    """统计 / Statistics exactly as contract.md: groups and a total over distinct enterprises."""
    from crossinvest.analytics import query
    from crossinvest.analytics.dims import DimError, check_kind, parse_dims
    from crossinvest.analytics.engine import configured_engine_name
    from crossinvest.analytics.periods import PeriodError, parse_period

    if fmt not in ("json", "csv", "table"):
        raise _fail(f"输出格式错误「{fmt}」：应为 json、csv 或 table")
    try:
        check_kind(kind)
        p = parse_period(period)
        dims = parse_dims(by)
        flt = query.normalize_filters(kind, _parse_filters(filters))
    except (PeriodError, DimError) as e:
        raise _fail(str(e)) from e
    with _connect() as wh:
        try:
            name = engine or configured_engine_name(wh.home.settings())
        except ValueError as e:
            raise _fail(str(e)) from e
        try:
            if name == "spark":
                from crossinvest.analytics.spark import prepare

                settings = wh.home.settings()
                export = settings.get("spark_export_dir") or str(wh.home.tmp / "spark-export")
                sp = prepare(wh.con, Path(export), settings=settings)
                result = query.stats(
                    wh.con,
                    kind,
                    p,
                    dims,
                    penetrate,
                    include_persons,
                    flt,
                    engine=sp.engine,
                    inputs=sp.inputs,
                )
            else:
                result = query.stats(wh.con, kind, p, dims, penetrate, include_persons, flt)
        except DimError as e:
            raise _fail(str(e)) from e
    if fmt == "json":
        _json(result.as_json())
    elif fmt == "csv":
        sys.stdout.write(render_csv(result))
    else:
        render_table(result)


def enterprise_command(
    uscc: Annotated[str, typer.Argument(help="统一社会信用代码（或注册号）")],
    json_: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """企业档案 / Enterprise profile: registry, investors and their origins, tax, stats, links."""
    from crossinvest.analytics.profile import EnterpriseNotFound, enterprise_profile

    with _connect() as wh:
        try:
            prof = enterprise_profile(wh.con, uscc)
        except EnterpriseNotFound as e:
            raise _fail(str(e)) from e
    if json_:
        _json(prof)
        return
    from rich.console import Console
    from rich.table import Table

    ent = prof["enterprise"]
    c = Console()
    region = (ent.get("region") or {}).get("name") or "未知"
    c.print(
        f"[bold]{ent['name']}[/bold]  {ent['enterprise_key']}  {region}  成立 {ent['established_on']}  {ent['status'] or ''}"
    )
    t = Table(title="股东及来源地")
    for col in ("股东", "类型", "认缴（万元）", "来源地", "依据"):
        t.add_column(col)
    for inv in prof["investors"]:
        o = inv["origin"]
        t.add_row(
            inv["investor_name"],
            inv["investor_type"] or "",
            f"{inv['subscribed_capital_wan'] or 0:,.2f}",
            f"{o['name'] or '未知'}（{o['code'] or '—'}）",
            o["rule_text"] or "",
        )
    c.print(t)
    c.print(
        f"纳税月份 {len(prof['tax_by_month'])} 个，统计年报 {len(prof['stats_by_year'])} 年，关联记录 {len(prof['links'])} 条。"
    )


def rebuild_command(
    json_: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """重算全部统计汇总表 / Rebuild every materialised statistics table (normally automatic)."""
    from crossinvest.analytics.materialize import rebuild_all
    from crossinvest.warehouse.connection import transaction
    from crossinvest.warehouse.lookups import ensure_indexes

    with _connect() as wh:
        with transaction(wh.con):
            timings = rebuild_all(wh.con)
        ensure_indexes(wh.con)
    if json_:
        _json({k: round(v, 3) for k, v in timings.items()})
    else:
        typer.echo(f"统计汇总表已重算，用时 {timings['total']:.1f} 秒。")


@support_app.command("list")
def support_list(
    version: Annotated[int | None, typer.Option("--version", help="某一历史版本")] = None,
    json_: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """列出对口支援地区 / List the support regions (current version by default)."""
    from crossinvest.analytics.support import current_version, list_support_regions

    with _connect() as wh:
        rows = list_support_regions(wh.con, version)
        v = version or current_version(wh.con)
    if json_:
        _json({"version": v, "regions": rows})
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"对口支援地区（第 {v} 版）")
    for col in ("代码", "名称", "层级", "类别", "所在", "结对区", "起", "止", "已核实"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["region_code"],
            r["region_name"],
            r["level"],
            r["program"],
            r["area"] or "",
            r["partner_district_name"] or "",
            str(r["valid_from"] or ""),
            str(r["valid_to"] or ""),
            "是" if r["verified"] else "否",
        )
    Console().print(t)


@support_app.command("add")
def support_add(
    code: Annotated[str, typer.Argument(help="GB/T 2260 行政区划代码")],
    program: Annotated[str, typer.Option("--program", help="类别，如 对口支援新疆、东西部协作")],
    name: Annotated[str | None, typer.Option("--name", help="名称（默认取代码表）")] = None,
    level: Annotated[str | None, typer.Option("--level", help="county 或 prefecture")] = None,
    area: Annotated[str | None, typer.Option("--area", help="所在地区，如 新疆喀什地区")] = None,
    partner: Annotated[str | None, typer.Option("--partner", help="上海结对区代码")] = None,
    valid_from: Annotated[
        str | None, typer.Option("--valid-from", help="起始日期 YYYY-MM-DD")
    ] = None,
    valid_to: Annotated[str | None, typer.Option("--valid-to", help="终止日期 YYYY-MM-DD")] = None,
    historical: Annotated[
        str | None, typer.Option("--historical", help="历史代码，分号分隔")
    ] = None,
    unverified: Annotated[bool, typer.Option("--unverified", help="示例，待核实")] = False,
    note: Annotated[str | None, typer.Option("--note", help="备注")] = None,
    actor: Annotated[str | None, typer.Option("--by", help="操作人")] = None,
) -> None:
    """新增对口支援地区（产生新版本）/ Add a support region (a new version)."""
    from crossinvest.analytics.support import SupportRegionError, add_support_region
    from crossinvest.warehouse.connection import transaction

    try:
        vf = date.fromisoformat(valid_from) if valid_from else None
        vt = date.fromisoformat(valid_to) if valid_to else None
    except ValueError as e:
        raise _fail(f"日期格式错误：{e}；应为 YYYY-MM-DD") from e
    with _connect() as wh:
        try:
            with transaction(wh.con):
                v = add_support_region(
                    wh.con,
                    code,
                    program,
                    level=level,
                    region_name=name,
                    area=area,
                    partner_district_code=partner,
                    valid_from=vf,
                    valid_to=vt,
                    historical_codes=historical,
                    verified=not unverified,
                    note=note,
                    actor=actor,
                )
        except SupportRegionError as e:
            raise _fail(str(e)) from e
    typer.echo(f"已新增 {code}，对口支援地区名单第 {v} 版。")


@support_app.command("remove")
def support_remove(
    code: Annotated[str, typer.Argument(help="行政区划代码")],
    note: Annotated[str | None, typer.Option("--note", help="原因")] = None,
    actor: Annotated[str | None, typer.Option("--by", help="操作人")] = None,
) -> None:
    """移除对口支援地区（产生新版本）/ Remove a support region (a new version)."""
    from crossinvest.analytics.support import SupportRegionError, remove_support_region
    from crossinvest.warehouse.connection import transaction

    with _connect() as wh:
        try:
            with transaction(wh.con):
                v = remove_support_region(wh.con, code, note=note, actor=actor)
        except SupportRegionError as e:
            raise _fail(str(e)) from e
    typer.echo(f"已移除 {code}，对口支援地区名单第 {v} 版。")


@support_app.command("history")
def support_history(
    json_: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
) -> None:
    """名单的历次修改 / Every version of the list."""
    from crossinvest.analytics.support import history

    with _connect() as wh:
        rows = history(wh.con)
    if json_:
        _json(rows)
        return
    for r in rows:
        typer.echo(
            f"第 {r['version']} 版  {r['changed_at']:%Y-%m-%d %H:%M}  {r['action']}  "
            f"{r['region_code'] or ''}  {r['actor'] or ''}  {r['note'] or ''}"
        )


def register(app: typer.Typer) -> None:
    """Add the analytics commands to the ``crossinvest`` app."""
    app.command("stats")(stats_command)
    app.command("enterprise")(enterprise_command)
    app.command("stats-rebuild")(rebuild_command)
    app.add_typer(support_app, name="support-regions")

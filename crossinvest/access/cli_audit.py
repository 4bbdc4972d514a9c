"""``crossinvest audit``: search, export and verify the audit log; usage statistics.

crossinvest audit search [--user U] [--org O] [--event E] [--dataset D] [--since DATE] [--until DATE]
                         [--path TEXT] [--limit N] [--before ID] [--json]
crossinvest audit export FILE.csv|FILE.xlsx [same filters] [--limit N]
crossinvest audit verify [--json]                 exit 1 when the chain is broken
crossinvest audit usage [--month YYYY-MM] [--months N] [--all-reads] [--json]

Dates are Beijing dates; times are shown in Beijing time (stored in UTC).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

audit_app = typer.Typer(
    help="审计日志与共享使用统计 / Audit log and sharing usage statistics.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
UserOption = Annotated[str | None, typer.Option("--user", help="用户名 / username")]
OrgOption = Annotated[str | None, typer.Option("--org", help="单位 / organisation")]
EventOption = Annotated[
    str | None,
    typer.Option("--event", help="事件，可用逗号分隔多个 / event(s): read,export,query,sign_in…"),
]
DatasetOption = Annotated[str | None, typer.Option("--dataset", help="数据集 / dataset")]
SinceOption = Annotated[
    str | None, typer.Option("--since", help="起始日期（北京时间，含）/ from (Beijing date)")
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="截止日期（北京时间，含当日）/ until (inclusive)")
]
PathOption = Annotated[str | None, typer.Option("--path", help="路径包含 / path contains")]

_SHOWN = ("id", "at", "event", "username", "org", "path", "dataset", "rows", "status")


def _print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(message.replace("\n", " "), err=True)
    return typer.Exit(code)


def _store() -> contextlib.closing:
    """The access store of ``CROSSINVEST_HOME``, closed when the command ends."""
    from crossinvest.access.store import open_store
    from crossinvest.config import current_home

    return contextlib.closing(open_store(current_home()))


def _operator() -> str:
    try:
        return os.environ.get("CROSSINVEST_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "cli"


def _search(con, **filters: Any) -> list[dict]:
    from crossinvest.access.audit import search

    try:
        return search(con, **filters)
    except ValueError as e:
        raise _fail(str(e)) from e


def _table(title: str, keys: list[str] | tuple[str, ...], labels: dict, rows: list[dict]):
    from rich.table import Table

    table = Table(title=title)
    for k in keys:
        table.add_column(labels[k][0] if k in labels else k)
    for r in rows:
        table.add_row(*["" if r.get(k) is None else str(r.get(k)) for k in keys])
    return table


@audit_app.command("search")
def search_cmd(
    user: UserOption = None,
    org: OrgOption = None,
    event: EventOption = None,
    dataset: DatasetOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    path: PathOption = None,
    limit: Annotated[int, typer.Option("--limit", help="最多条数 / rows shown")] = 100,
    before: Annotated[
        int | None, typer.Option("--before", help="只看编号小于此值的（翻页）/ ids below (paging)")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """查询审计日志（新的在前）/ Search the audit log, newest first."""
    from rich.console import Console

    from crossinvest.access.audit import EVENT_NAMES, LABELS, local_time

    with _store() as con:
        rows = _search(
            con,
            user=user,
            org=org,
            event=event,
            dataset=dataset,
            since=since,
            until=until,
            path_contains=path,
            limit=limit,
            before_id=before,
        )
    if json_:
        _print_json(rows)
        return
    shown = [
        {**r, "at": local_time(r["at"]), "event": EVENT_NAMES.get(r["event"], (r["event"],))[0]}
        for r in rows
    ]
    Console().print(
        _table(f"审计日志 / audit log（{len(rows)} 条，北京时间）", _SHOWN, LABELS, shown)
    )
    if len(rows) == limit:
        typer.echo(f"下一页 / next page: --before {rows[-1]['id']}", err=True)


@audit_app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="输出文件 FILE.csv 或 FILE.xlsx / output file")],
    user: UserOption = None,
    org: OrgOption = None,
    event: EventOption = None,
    dataset: DatasetOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    path: PathOption = None,
    limit: Annotated[int, typer.Option("--limit", help="最多条数 / rows at most")] = 10_000,
    json_: JsonOption = False,
) -> None:
    """导出审计日志为 CSV 或 XLSX / Export the audit log (filtered) to CSV or XLSX."""
    from crossinvest.access.audit import FIELDS, LABELS, local_time, record
    from crossinvest.web.export import export_bytes

    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise _fail(f"文件「{file}」：只能导出为 .csv 或 .xlsx")
    filters = dict(user=user, org=org, event=event, dataset=dataset, since=since, until=until)
    with _store() as con:
        rows = _search(con, **filters, path_contains=path, limit=limit)
        keys = [*FIELDS, "hash"]
        columns = [(k, LABELS[k][0]) for k in keys]
        columns.insert(2, ("at_local", "北京时间"))
        for r in rows:
            r["at_local"] = local_time(r["at"])
        try:
            file.write_bytes(export_bytes(fmt, columns, rows))
        except OSError as e:
            raise _fail(f"无法写入「{file}」：{e.strerror}") from e
        # exporting the log is itself an access worth recording
        record(
            con,
            "export",
            username=_operator(),
            via="cli",
            dataset="audit",
            rows=len(rows),
            status=200,
            path=str(file.name),
            detail={k: v for k, v in {**filters, "path": path}.items() if v} or None,
        )
    if json_:
        _print_json({"file": str(file), "rows": len(rows), "format": fmt})
    else:
        typer.echo(f"已导出 {len(rows)} 条审计记录到 {file}")


@audit_app.command("verify")
def verify_cmd(json_: JsonOption = False) -> None:
    """校验审计日志的散列链（被改动则退出码 1）/ Verify the hash chain; exit 1 if broken."""
    from crossinvest.access.audit_verify import verify

    with _store() as con:
        result = verify(con)
    if json_:
        _print_json(result.as_json())
    elif result.ok:
        typer.echo(f"审计日志完整：已校验 {result.rows} 条，末行散列 {result.head or '（空）'}")
    else:
        typer.echo(
            f"审计日志已被改动：{result.reason}（已校验 {result.rows} 条，"
            f"首个问题行 {result.first_broken_id}）",
            err=True,
        )
    if not result.ok:
        raise typer.Exit(1)


def _pct(v: Any) -> str:
    return "—" if v is None else f"{v:.1%}"


@audit_app.command("usage")
def usage_cmd(
    month: Annotated[
        str | None, typer.Option("--month", help="统计月份 YYYY-MM（默认本月）/ month")
    ] = None,
    months: Annotated[int, typer.Option("--months", help="趋势月数 / months of trend")] = 12,
    all_reads: Annotated[
        bool,
        typer.Option(
            "--all-reads",
            help="任何成功的查看都算使用（含首页、目录）/ count every read, not only shared datasets",
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """共享使用统计：按单位、区、数据集、月份，使用率与排名 / Sharing usage statistics."""
    from rich.console import Console

    from crossinvest.access.usage import LABELS, TABLES, usage, usage_rows

    with _store() as con:
        try:
            result = usage(con, month=month, months=months, shared_only=not all_reads)
        except ValueError as e:
            raise _fail(str(e)) from e
    if json_:
        _print_json(result)
        return
    console = Console()
    r = result["rates"]
    console.print(
        f"[bold]{result['month']} 共享使用情况[/bold]（北京时间）  调用 {result['requests']} 次，"
        f"交付 {result['rows']} 行\n"
        f"共享对象使用率 {_pct(r['consumer_rate'])}"
        f"（活跃 {r['consumers_active']} / 应用 {r['consumers_entitled']}）  "
        f"数据集使用率 {_pct(r['dataset_rate'])}"
        f"（使用 {r['datasets_used']} / 共享 {r['datasets_shared']}）"
    )
    for name in ("by_org", "by_district", "by_dataset", "by_month", "ranking"):
        columns, rows = usage_rows(result, name)
        if not rows:
            continue
        for row in rows:
            for k in ("consumer_rate", "dataset_rate"):
                if k in row:
                    row[k] = _pct(row[k])
        keys = [k for k, _ in columns]
        console.print(_table(f"{TABLES[name][0]} / {TABLES[name][1]}", keys, LABELS, rows))

"""``crossinvest links``: the review queue and the analyst's decisions.

crossinvest links [--status review|auto|accepted|rejected|all] [--source tax|stats] [--json]
crossinvest links accept ID [--reviewer NAME] [--json]
crossinvest links reject ID [--reviewer NAME] [--json]
crossinvest links link RECORD_KEY ENTERPRISE_KEY [--source tax|stats] [--json]
crossinvest links relink [--redo] [--json]
crossinvest links retrain [--relink] [--json]
crossinvest links model [--json]
"""

from __future__ import annotations

import getpass
import json
import os
from typing import Annotated

import typer

links_app = typer.Typer(
    help="记录关联与人工复核 / Record linkage: the review queue and decisions.",
    invoke_without_command=True,
    no_args_is_help=False,
)

JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]
ReviewerOption = Annotated[
    str | None,
    typer.Option("--reviewer", help="复核人 / reviewer (default: CROSSINVEST_USER or login name)"),
]
SourceOption = Annotated[str | None, typer.Option("--source", help="tax | stats")]


def _print_json(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def _fail(message: str) -> typer.Exit:
    typer.echo(message.replace("\n", " "), err=True)
    return typer.Exit(2)


def _reviewer(given: str | None) -> str:
    if given:
        return given
    try:
        return os.environ.get("CROSSINVEST_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "cli"


def _connect():
    from crossinvest.warehouse.connection import WarehouseBusy, connect

    try:
        return connect()
    except WarehouseBusy as e:
        raise _fail(str(e)) from e


def _check_source(source: str | None) -> None:
    if source not in (None, "tax", "stats"):
        raise _fail(f"未知数据源「{source}」：应为 tax 或 stats")


@links_app.callback()
def links(
    ctx: typer.Context,
    status: Annotated[
        str, typer.Option(help="review | auto | accepted | rejected | all")
    ] = "review",
    source: SourceOption = None,
    limit: Annotated[int, typer.Option(help="最多显示条数 / rows shown")] = 100,
    json_: JsonOption = False,
) -> None:
    """列出待复核的关联（默认）/ List the review queue (or links of any status)."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.console import Console
    from rich.table import Table

    from crossinvest.linkage.review import LinkError, queue

    _check_source(source)
    with _connect() as wh:
        try:
            rows = queue(wh.con, status=status, source=source, limit=limit)
        except LinkError as e:
            raise _fail(str(e)) from e
    if json_:
        _print_json(rows)
        return
    table = Table(title=f"记录关联 / links（{status}，{len(rows)} 条）")
    cols = [
        "id",
        "source",
        "record_name",
        "enterprise_name",
        "enterprise_key",
        "method",
        "weight",
        "status",
        "amount_wan",
    ]
    for c in cols:
        table.add_column(c)
    for r in rows:
        table.add_row(*["" if r[c] is None else str(r[c]) for c in cols])
    Console().print(table)
    if status == "review" and rows:
        Console().print("接受：crossinvest links accept ID；拒绝：crossinvest links reject ID")


def _decide(link_id: int, decision: str, reviewer: str | None, json_: bool) -> None:
    from crossinvest.linkage.review import LinkError, decide

    with _connect() as wh:
        try:
            out = decide(wh.con, link_id, decision, _reviewer(reviewer))
        except LinkError as e:
            raise _fail(str(e)) from e
    if json_:
        _print_json(out)
    elif out.get("unchanged"):
        typer.echo(f"关联 {link_id} 已是 {out['status']}，未改变。")
    else:
        verb = "已接受" if decision == "accepted" else "已拒绝"
        extra = (
            f"，同一记录的其他 {out['others_rejected']} 个候选已拒绝"
            if out["others_rejected"]
            else ""
        )
        typer.echo(f"{verb}关联 {link_id}：{out['record_key']} → {out['enterprise_key']}{extra}。")


@links_app.command()
def accept(
    link_id: Annotated[int, typer.Argument(help="关联编号 / link id")],
    reviewer: ReviewerOption = None,
    json_: JsonOption = False,
) -> None:
    """接受一个关联 / Accept a link: its figures count from now on."""
    _decide(link_id, "accepted", reviewer, json_)


@links_app.command()
def reject(
    link_id: Annotated[int, typer.Argument(help="关联编号 / link id")],
    reviewer: ReviewerOption = None,
    json_: JsonOption = False,
) -> None:
    """拒绝一个关联 / Reject a link: never proposed again for this record and enterprise."""
    _decide(link_id, "rejected", reviewer, json_)


@links_app.command("link")
def link_cmd(
    record_key: Annotated[str, typer.Argument(help="记录键 / tax taxpayer_key or stats unit_key")],
    enterprise_key: Annotated[
        str, typer.Argument(help="企业键（统一社会信用代码）/ enterprise key")
    ],
    source: SourceOption = None,
    reviewer: ReviewerOption = None,
    json_: JsonOption = False,
) -> None:
    """人工关联 / Tie a record to an enterprise by hand."""
    from crossinvest.linkage.review import LinkError, manual_link

    _check_source(source)
    with _connect() as wh:
        try:
            out = manual_link(wh.con, record_key, enterprise_key, _reviewer(reviewer), source)
        except LinkError as e:
            raise _fail(str(e)) from e
    if json_:
        _print_json(out)
    else:
        typer.echo(
            f"已人工关联 {out['record_key']} → {out['enterprise_key']}（关联 {out['id']}）。"
        )


@links_app.command()
def relink(
    redo: Annotated[
        bool, typer.Option("--redo", help="先删除全部模型关联再重算 / drop model links first")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """重新关联未关联的记录 / Link every record that has no link yet (or all, with --redo)."""
    from crossinvest.linkage.review import relink as _relink

    with _connect() as wh:
        stats = _relink(wh.con, redo=redo)
    if json_:
        _print_json([s.as_json() for s in stats])
        return
    for s in stats:
        typer.echo(
            f"{s.source}：{s.records} 个记录，注册号 {s.regno}，自动 {s.auto}，待复核 {s.review}，未关联 {s.unlinked}。"
        )


@links_app.command()
def retrain(
    relink_after: Annotated[
        bool, typer.Option("--relink", help="训练后重算模型关联 / redo model links")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """用现有数据重新训练关联模型 / Train the linkage model again on the data there is."""
    from crossinvest.linkage.model import registry_scale
    from crossinvest.linkage.review import relink as _relink
    from crossinvest.linkage.training import describe, train
    from crossinvest.warehouse.connection import transaction

    with _connect() as wh:
        with transaction(wh.con):
            model_id, params = train(wh.con, reason="retrain")
        scale = registry_scale(wh.con)
        stats = _relink(wh.con, redo=True) if relink_after and model_id is not None else []
    if model_id is None:
        raise _fail("登记企业太少，无法训练（至少需要 200 家）；继续使用先验参数。")
    out = {
        "model": model_id,
        "info": params.info,
        "levels": describe(params, scale),
        "relinked": [s.as_json() for s in stats],
    }
    if json_:
        _print_json(out)
    else:
        typer.echo(
            f"已训练关联模型 {model_id}。"
            + ("已重算模型关联。" if stats else "用 crossinvest links relink --redo 重算。")
        )


@links_app.command("model")
def model_cmd(json_: JsonOption = False) -> None:
    """显示关联模型参数 / Show the active model's m, u and weight per level."""
    from crossinvest.linkage.model import registry_scale
    from crossinvest.linkage.training import active_params, describe

    with _connect() as wh:
        model_id, params = active_params(wh.con)
        scale = registry_scale(wh.con)
    out = {
        "model": model_id,
        "info": params.info,
        "enterprises": scale.enterprises,
        "levels": describe(params, scale),
    }
    if json_:
        _print_json(out)
        return
    import math

    typer.echo(f"关联模型 {model_id if model_id is not None else '（先验参数，尚未训练）'}")
    n = out["enterprises"]
    typer.echo(
        f"  先验 prior 1/M（M = {n} 家企业）: {math.log2(1 / max(n, 2)):+.1f}；各级权重 log2(m/u) 相加"
    )
    for comp, rows in out["levels"].items():
        for r in rows:
            w = "" if r["weight"] is None else f"{r['weight']:+.1f}"
            typer.echo(f"  {comp:7s} {r['level']:14s} m={r['m']:.4g} u={r['u']:.3g} {w}")

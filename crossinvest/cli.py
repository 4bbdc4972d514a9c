"""The ``crossinvest`` command line (Typer + Rich).

Core commands live here; statistics, linkage, the web server and operations add
theirs through the ``register_commands`` hook, the same way an extension would.
Command and option names follow ``../shared/spec/contract.md`` and must keep working.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from crossinvest.plugins import get_plugin_manager

app = typer.Typer(
    name="crossinvest",
    help="各地来沪投资与上海在外地投资数据系统 / Inter-provincial investment data system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console(stderr=True)
out = Console()

# Shared options, declared once (the sqlite-utils pattern) so every command
# spells them the same way.
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line to stderr and return the Exit to raise."""
    typer.echo(message.replace("\n", " "), err=True)
    return typer.Exit(code)


def print_json(obj: Any) -> None:
    """Print one JSON object on one line, Chinese kept readable."""
    typer.echo(json.dumps(obj, ensure_ascii=False, default=str))


def rich_table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    return table


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="registry | shareholders | tax | stats")],
    files: Annotated[
        list[Path], typer.Argument(help="交付文件 / delivered files (CSV, TSV, XLSX)")
    ],
    json_: JsonOption = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="任何一行有误即拒收整个文件 / refuse the file if any row fails"
        ),
    ] = False,
) -> None:
    """载入交付文件 / Load delivered files into the warehouse."""
    from crossinvest.readers import FileRefused
    from crossinvest.sources import SOURCES
    from crossinvest.warehouse.connection import WarehouseBusy, connect
    from crossinvest.warehouse.load import load_file

    if source not in SOURCES:
        raise fail(f"未知数据源「{source}」：应为 registry、shareholders、tax 或 stats")
    refused = False
    try:
        wh = connect()
    except WarehouseBusy as e:
        # A running server owns the warehouse: hand the loads to it.
        raise typer.Exit(
            _ingest_via_server(source, files, json_=json_, strict=strict, busy=str(e))
        ) from e
    with wh:
        for path in files:
            if not path.is_file():
                typer.echo(f"文件 {path}：不存在或不是文件", err=True)
                refused = True
                continue
            try:
                result = load_file(wh, source, path, strict=strict, show_progress=not json_)
            except FileRefused as e:
                typer.echo(str(e), err=True)
                refused = True
                continue
            if json_:
                print_json(result.as_json())
            else:
                out.print(result.summary_zh())
    if refused:
        raise typer.Exit(2)


def _ingest_via_server(
    source: str, files: list[Path], *, json_: bool, strict: bool, busy: str
) -> int:
    from crossinvest.config import current_home
    from crossinvest.web.client import (
        LoadFailed,
        LoadRefusedByServer,
        ServerUnavailable,
        submit_load,
    )

    code = 0
    for path in files:
        try:
            result = submit_load(current_home(), source, path.resolve(), strict)
        except LoadRefusedByServer as e:
            typer.echo(str(e).replace("\n", " "), err=True)
            code = 2
            continue
        except ServerUnavailable:
            typer.echo(busy, err=True)
            return 2
        except LoadFailed as e:
            typer.echo(str(e).replace("\n", " "), err=True)
            code = code or 1
            continue
        if json_:
            print_json(result)
        else:
            out.print(
                f"{result.get('file')} → 批次 {result.get('batch')}：载入 {result.get('rows_loaded')} 行（经运行中的服务）"
            )
    return code


@app.command()
def batches(json_: JsonOption = False) -> None:
    """列出历次载入 / List every load with its counts and status."""
    from crossinvest.warehouse.batches import list_batches
    from crossinvest.warehouse.connection import connect

    with connect() as wh:
        rows = list_batches(wh.con)
    if json_:
        print_json(rows)
        return
    cols = [
        "batch",
        "source",
        "file",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "status",
        "loaded_at",
    ]
    out.print(rich_table("载入批次 / batches", cols, [[r[c] for c in cols] for r in rows]))


@app.command()
def rollback(
    batch: Annotated[int, typer.Argument(help="批次号 / batch id")],
    json_: JsonOption = False,
) -> None:
    """撤销一次载入 / Undo one load: every figure returns to what it was before it."""
    from crossinvest.warehouse.connection import connect
    from crossinvest.warehouse.rollback import BatchNotFound, rollback_batch

    with connect() as wh:
        try:
            info = rollback_batch(wh, batch)
        except BatchNotFound as e:
            raise fail(str(e)) from e
    if json_:
        print_json(info)
    else:
        out.print(
            f"已撤销批次 {batch}（{info['source']}，{info['file']}），移除 {info['rows_removed']} 行。"
        )


@app.command("name-index")
def name_index_command(
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="从头重建 / build it again from scratch")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """更新企业搜索的名称索引 / Bring the search's name index up to date (normally automatic).

    The running server does this itself after it starts and after every load;
    this is for a warehouse loaded from the command line, before serving it.
    """
    from crossinvest.warehouse import name_index
    from crossinvest.warehouse.connection import connect

    with connect() as wh:
        info = name_index.refresh(wh.con, full=rebuild)
    if json_:
        print_json(info)
    else:
        mode = {"full": "已重建", "append": "已追加", "current": "已是最新"}[info["mode"]]
        out.print(f"名称索引{mode}：{info['rows']:,} 行登记记录，{info['seconds']:.1f} 秒。")


@app.command()
def demo(
    enterprises: Annotated[int, typer.Option(help="上海企业数 / number of enterprises")] = 20000,
    seed: Annotated[int, typer.Option(help="随机种子 / seed")] = 42,
    serve: Annotated[
        bool, typer.Option(help="载入后启动网页 / serve the dashboard afterwards")
    ] = True,
    host: Annotated[str, typer.Option(help="监听地址 / host")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口 / port")] = 8000,
) -> None:
    """演示：生成并载入真实感数据，然后启动网页 / Realistic data, loaded and served."""
    from crossinvest.ops.demo import run_demo

    run_demo(enterprises=enterprises, seed=seed, serve=serve, host=host, port=port)


def _register_core_commands() -> None:
    from crossinvest.generate.cli import generate_command

    app.command("generate")(generate_command)


def _register_plugin_commands() -> None:
    get_plugin_manager().hook.register_commands(app=app)


_register_core_commands()
_register_plugin_commands()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()

"""The ``crossinvest generate`` command, ready to register on the Typer app::

from crossinvest.generate.cli import generate_command
app.command("generate")(generate_command)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crossinvest.generate.core import generate

SOURCE_LABELS = {
    "registry": "企业登记信息",
    "shareholders": "股东及出资信息",
    "tax": "纳税信息",
    "stats": "统计年报",
}


def generate_command(
    out_dir: Annotated[Path, typer.Argument(help="输出目录（不存在则创建）")],
    enterprises: Annotated[
        int, typer.Option("--enterprises", "-n", min=50, help="企业数量")
    ] = 20000,
    seed: Annotated[int, typer.Option(help="随机种子：相同参数生成逐字节相同的文件")] = 42,
    year: Annotated[
        int, typer.Option(min=2000, max=2100, help="统计年度（参考日为该年 12 月 31 日）")
    ] = 2018,
    noise: Annotated[
        bool, typer.Option("--noise/--no-noise", help="是否加入真实交付中的各类偏差")
    ] = True,
    formats: Annotated[
        str, typer.Option(help="mixed：登记信息为 XLSX（不超过 5 万户时）；csv：全部为文本文件")
    ] = "mixed",
    workers: Annotated[int, typer.Option(min=1, help="并行生成的进程数（结果与 1 相同）")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="以 JSON 输出生成结果")] = False,
) -> None:
    """生成模拟的工商、税务、统计交付文件（含核对用的 truth/ 目录）。"""
    console = Console(stderr=True)
    try:
        with Progress(
            TextColumn("生成企业"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=as_json,
        ) as bar:
            task = bar.add_task("enterprises", total=enterprises)

            def report(stage: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = generate(
                out_dir,
                enterprises=enterprises,
                seed=seed,
                year=year,
                noise=noise,
                formats=formats,
                progress=report,
                workers=workers,
            )
    except ValueError as exc:
        console.print(f"[red]错误：{exc}[/red]")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "out_dir": str(result.out_dir),
                    "seconds": round(result.seconds, 2),
                    "files": [
                        {"file": f.path.name, "source": f.source, "rows": f.rows}
                        for f in result.files
                    ],
                    "manifest": str(result.manifest),
                    "counts": result.counts,
                },
                ensure_ascii=False,
            )
        )
        return
    table = Table(
        title=f"已生成 {result.enterprises:,} 户企业的交付文件（{result.seconds:.1f} 秒）"
    )
    table.add_column("文件")
    table.add_column("数据源")
    table.add_column("行数", justify="right")
    for f in result.files:
        table.add_row(f.path.name, SOURCE_LABELS[f.source], f"{f.rows:,}")
    Console().print(table)
    Console().print(f"核对信息：{result.manifest}")

"""A load killed with SIGKILL at a random point leaves no partial batch."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from stdnum.cn import uscc

from crossinvest.warehouse.connection import connect

CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def write_registry(path: Path, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        f.write("统一社会信用代码,企业名称,成立日期,注册资本,住所所在行政区划\n")
        for i in range(n):
            body = "91310115" + "".join(rnd.choice(CHARS) for _ in range(9))
            code = body + uscc.calc_check_digit(body)
            f.write(
                f"{code},上海测试{i}科技有限公司,2015-0{1 + i % 9}-1{i % 9},{i % 5000}.5,310115\n"
            )


def test_sigkill_leaves_no_partial_batch(home, tmp_path):
    big = tmp_path / "registry.csv"
    write_registry(big, 300_000)
    env = dict(os.environ, CROSSINVEST_HOME=str(home.root))
    cmd = [sys.executable, "-m", "crossinvest.cli", "ingest", "registry", str(big), "--json"]
    # How long a whole load takes here, to kill at random points inside it.
    t = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    full = time.perf_counter() - t
    with connect(home) as wh:
        wh.con.execute(
            "DELETE FROM registry_rows; DELETE FROM batches; DELETE FROM rejects; DELETE FROM quarantine"
        )

    rnd = random.Random(7)
    for _ in range(4):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(rnd.uniform(0.05, full * 0.95))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with connect(home) as wh:
            batches = wh.con.execute("SELECT batch_id, rows_loaded FROM batches").fetchall()
            rows = wh.con.execute("SELECT count(*) FROM registry_rows").fetchone()[0]
            # Either nothing of the load is there, or all of it: never a partial batch.
            assert (batches == [] and rows == 0) or (
                len(batches) == 1 and rows == batches[0][1] == 300_000
            ), (
                batches,
                rows,
            )
            if batches:
                wh.con.execute("DELETE FROM registry_rows; DELETE FROM batches")
    # The next load of the same file succeeds.
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with connect(home) as wh:
        assert wh.con.execute("SELECT count(*) FROM registry").fetchone()[0] == 300_000

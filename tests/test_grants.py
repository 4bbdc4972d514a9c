"""Requests, decisions and grants: the conditional-sharing workflow, and its command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crossinvest.access.actor import Actor
from crossinvest.access.catalogue import BY_NAME, CONDITIONAL, NOT_SHARED, UNCONDITIONAL
from crossinvest.access.grants import (
    GrantError,
    active_grants,
    decide,
    grant,
    list_grants,
    list_requests,
    request_access,
    revoke,
)
from crossinvest.access.store import open_store
from crossinvest.config import Home


@pytest.fixture
def con(tmp_path: Path):  # type: ignore[no-untyped-def]
    c = open_store(Home(tmp_path))
    c.execute(
        "INSERT INTO users (id, username, display_name, role, org, created_at, updated_at) VALUES "
        "(1, 'fgw', '发改委', 'agency', '市发改委', '', ''), (2, 'root', '管理员', 'admin', NULL, '', '')"
    )
    yield c
    c.close()


def test_only_conditional_datasets_can_be_requested(con) -> None:  # type: ignore[no-untyped-def]
    for name, entry in BY_NAME.items():
        if entry.sharing == CONDITIONAL:
            request_access(con, 1, name, purpose="专题分析用途", days=30)
        else:
            with pytest.raises(GrantError) as e:
                request_access(con, 1, name, purpose="专题分析用途", days=30)
            assert "不可申请" in e.value.message
    assert {r["dataset"] for r in list_requests(con)} == {
        n for n, e in BY_NAME.items() if e.sharing == CONDITIONAL
    }


@pytest.mark.parametrize(
    "purpose, days", [("", 30), ("看看", 30), ("专题分析用途", 0), ("专题分析用途", 400)]
)
def test_a_request_needs_a_purpose_and_a_sane_duration(con, purpose: str, days: int) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(GrantError):
        request_access(con, 1, "enterprise", purpose=purpose, days=days)
    assert list_requests(con) == []


def test_decisions_need_a_reason_and_another_person(con) -> None:  # type: ignore[no-untyped-def]
    r = request_access(con, 1, "enterprise", purpose="重点企业服务", days=30)
    with pytest.raises(GrantError):  # a second pending request for the same data
        request_access(con, 1, "enterprise", purpose="重点企业服务", days=30)
    with pytest.raises(GrantError):
        decide(con, r["id"], approver_id=2, approve=True, reason="  ")
    with pytest.raises(GrantError) as own:
        decide(con, r["id"], approver_id=1, approve=True, reason="自己批")
    assert own.value.status == 403
    assert active_grants(con, 1) == {}
    out = decide(con, r["id"], approver_id=2, approve=False, reason="用途不明确")
    assert out["status"] == "rejected" and out["decided_by"] == "root"
    assert active_grants(con, 1) == {}
    with pytest.raises(GrantError) as again:
        decide(con, r["id"], approver_id=2, approve=True, reason="改主意")
    assert again.value.status == 409


def test_grants_expire_and_can_be_revoked(con) -> None:  # type: ignore[no-untyped-def]
    r = request_access(con, 1, "enterprise", purpose="重点企业服务", days=10)
    decide(con, r["id"], approver_id=2, approve=True, reason="同意", at="2026-01-01T00:00:00Z")
    assert active_grants(con, 1, at="2026-01-10T23:59:59Z") == {"enterprise": "重点企业服务"}
    assert active_grants(con, 1, at="2026-01-11T00:00:00Z") == {}
    assert active_grants(con, 1, at="2025-12-31T23:59:59Z") == {}  # not before it was given
    gid = grant(con, 1, "enterprise_money", by=2, purpose="税源分析", days=5)
    assert "enterprise_money" in active_grants(con, 1)
    revoke(con, gid)
    assert "enterprise_money" not in active_grants(con, 1)
    with pytest.raises(GrantError):
        revoke(con, gid)
    states = {g["id"]: g["active"] for g in list_grants(con, user_id=1)}
    assert states[gid] is False


def test_the_catalogue_class_is_what_actors_are_allowed() -> None:
    partner = Actor(id="p", name="p", role="agency")
    for name, entry in BY_NAME.items():
        assert partner.can(name) == (entry.sharing == UNCONDITIONAL), name
        granted = Actor(id="g", name="g", role="agency", grants=frozenset({name}))
        assert granted.can(name) and granted.can(name, "export")
        assert not granted.can(name, "write")
        if entry.sharing == NOT_SHARED:
            assert not Actor(id="d", name="d", role="district").can(name)
    assert not Actor(id="a", name="a", role="anonymous").can("stats")


def test_grants_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crossinvest.cli import app

    monkeypatch.setenv("CROSSINVEST_HOME", str(tmp_path))
    runner = CliRunner()
    pw = "Cli-grant-test-1\n"
    assert runner.invoke(app, ["users", "add", "fgw", "--role", "agency", "--org", "发改委",
                               "--password-stdin"], input=pw).exit_code == 0  # fmt: skip
    res = runner.invoke(
        app, ["grants", "add", "fgw", "enterprise", "--purpose", "招商分析", "--days", "7"]
    )
    assert res.exit_code == 0, res.output
    rows = json.loads(runner.invoke(app, ["grants", "list", "--json"]).output)
    assert [(g["username"], g["dataset"], g["active"]) for g in rows] == [
        ("fgw", "enterprise", True)
    ]
    bad = runner.invoke(app, ["grants", "add", "nobody", "enterprise", "--purpose", "x"])
    assert bad.exit_code == 2 and "没有账户" in bad.output
    assert runner.invoke(app, ["grants", "revoke", str(rows[0]["id"])]).exit_code == 0
    rows = json.loads(runner.invoke(app, ["grants", "list", "--json", "--active"]).output)
    assert rows == []
    # every change is in the audit log, attributed to the command line
    con = open_store(Home(tmp_path))
    actions = [json.loads(r[0])["action"] for r in con.execute(
        "SELECT detail FROM audit WHERE via = 'cli' ORDER BY id")]  # fmt: skip
    assert actions[-2:] == ["grant", "revoke"]

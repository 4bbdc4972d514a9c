"""Schemathesis against the OpenAPI document, in-process over ASGI, every default check.

Every operation, including the write ones, runs on its own copy of the demo
warehouse: generated uploads are refused, generated rollbacks hit unknown
batches or undo loads of this copy only. No input may produce a 500, every
answer must match its documented schema and status, and schema-valid input
must be accepted. Requests are authenticated as a signed-in administrator (a
session cookie and its CSRF token), so every operation is reached. (Driven
through schemathesis' Python API inside one test: its lazy pytest-fixture
loader does not work with pytest 9.)
"""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from crossinvest.access.accounts import create_user
from crossinvest.access.store import open_store
from crossinvest.web.app import create_app
from crossinvest.web.state import ServerState
from crossinvest.web.testing import demo_home

PASSWORD = "Schema-check-2026"


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = demo_home(tmp_path_factory.mktemp("schema") / "home", anonymous_role=None)
    con = open_store(home)
    create_user(con, "root", role="admin", password=PASSWORD)
    con.close()
    state = ServerState.open(home, inbox_interval=None)
    app = create_app(state=state)
    with TestClient(app, base_url="https://testserver") as client:
        r = client.post("/api/v1/session", json={"username": "root", "password": PASSWORD})
        assert r.status_code == 200, r.text
        headers = {
            "Cookie": f"ci_session={r.cookies['ci_session']}",
            "X-CSRF-Token": r.json()["data"]["csrf_token"],
        }
    yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app), headers
    state.close()


def test_api_conforms_to_its_schema(api_schema) -> None:  # type: ignore[no-untyped-def]
    """Every operation, ~15 generated cases each (positive and negative), every default check."""
    api_schema, headers = api_schema
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        op = result.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(
            max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call_and_validate(headers=headers)
            assert response.status_code < 500

        try:
            run()
        except Exception as e:  # collect every operation's failure, then fail once
            failures.append(f"{op.label}: {type(e).__name__}: {str(e)[:1500]}")
    assert operations >= 25
    assert failures == [], "\n\n".join(failures)

"""Schemathesis against the OpenAPI document, in-process over ASGI, every default check.

Every operation, including the write ones, runs on its own copy of the demo
warehouse: generated uploads are refused, generated rollbacks hit unknown
batches or undo loads of this copy only. No input may produce a 500, every
answer must match its documented schema and status, and schema-valid input
must be accepted. (Driven through schemathesis' Python API inside one test:
its lazy pytest-fixture loader does not work with pytest 9.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from crossinvest.web.app import create_app
from crossinvest.web.state import ServerState
from crossinvest.web.testing import demo_home


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = demo_home(tmp_path_factory.mktemp("schema") / "home")
    state = ServerState.open(home, inbox_interval=None)
    app = create_app(state=state)
    yield schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    state.close()


def test_api_conforms_to_its_schema(api_schema) -> None:  # type: ignore[no-untyped-def]
    """Every operation, ~15 generated cases each (positive and negative), every default check."""
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
            response = case.call_and_validate()
            assert response.status_code < 500

        try:
            run()
        except Exception as e:  # collect every operation's failure, then fail once
            failures.append(f"{op.label}: {type(e).__name__}: {str(e)[:1500]}")
    assert operations >= 25
    assert failures == [], "\n\n".join(failures)

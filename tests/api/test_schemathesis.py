"""schemathesis against the live app's own OpenAPI schema: generated requests to every
operation (with a member's token) must never get a server error.

Bounded for CI: a few examples per operation (derandomized, no shrinking) and a time limit;
the app runs in pytest-django's live server on loopback with the test database. (The
operations are driven from one test through schemathesis' Python API: its pytest plugin does
not run under pytest 9.)
"""

from __future__ import annotations

import time

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as examples
from schemathesis.checks import not_a_server_error

from tests.api.client import new_token

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES_PER_OPERATION = 4
TIME_LIMIT_S = 110


@pytest.mark.timeout(TIME_LIMIT_S + 60)
def test_no_operation_answers_a_server_error(live_server, member, team, media_root, settings):
    settings.API_RATE_LIMIT = "100000/min"
    _row, raw = new_token(member, team, ("read", "render"))
    headers = {"Authorization": f"Bearer {raw}"}
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/schema/")
    started = time.monotonic()
    tried = []
    for result in schema.get_all_operations():
        operation = result.ok()
        assert time.monotonic() - started < TIME_LIMIT_S, f"over the time limit at {tried}"

        @given(case=operation.as_strategy())
        @examples(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:
            case.call_and_validate(
                base_url=f"{live_server.url}/api/v1", headers=headers, checks=[not_a_server_error]
            )

        check()
        tried.append(operation.label)
    assert len(tried) >= 25, tried

"""schemathesis against the running engine with docs/openapi.yaml (issue 13): every operation
of the bearer API and of the desk JSON API gets generated input (valid and not); no answer may
be a 500, and every answer must match the description (status, content type, schema).

Bounded: a few examples per operation, no shrinking, so the whole run stays well under a minute.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import EngineProcess
from tests.support.desk import PASSWORDS, add_user

pytestmark = pytest.mark.asterisk

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# A few per operation in the suite; HOTLINE_FUZZ_EXAMPLES=200 for a longer hunt by hand.
EXAMPLES = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "10"))


def cases(operation: Any) -> st.SearchStrategy[Any]:
    """Valid input and input that breaks the description (wrong types, missing fields...)."""
    valid = operation.as_strategy()
    try:
        return st.one_of(valid, operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # nothing about this operation can be made invalid
        return valid


def fuzz(
    engine: EngineProcess,
    prefix: str | tuple[str, ...],
    headers: dict[str, str],
    cookies: dict[str, str],
) -> list[str]:
    """Run every operation under ``prefix``; the failures, one line each."""
    schema = schemathesis.openapi.from_path(SPEC)
    failures: list[str] = []
    ran = 0
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(prefix):
            continue
        ran += 1

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: report, do not minimise
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases(operation))
        def check(case: Any) -> None:
            calls.append(1)
            try:
                case.call_and_validate(
                    base_url=engine.base, headers=headers, cookies=cookies, checks=CHECKS,
                    timeout=10,
                )  # fmt: skip
            except Exception as exc:  # collected: one run reports every operation's failure
                failures.append(f"{case.operation.label}: {str(exc)[:600]}")

        check()
    assert ran > 3, f"no operations under {prefix} in {SPEC}"
    assert len(calls) >= ran, f"only {len(calls)} requests for {ran} operations"
    print(f"schemathesis: {len(calls)} requests to {ran} operations under {prefix}")
    return failures


def test_the_bearer_api_never_answers_500_and_matches_its_description(
    engine: EngineProcess,
) -> None:
    failures = fuzz(engine, ("/api/", "/healthz"), {"Authorization": f"Bearer {engine.token}"}, {})
    assert not failures, "\n".join(failures) + "\n" + engine.log_tail(60)
    assert "Traceback" not in engine.log_tail(400)


def desk_session(engine: EngineProcess, name: str) -> tuple[dict[str, str], dict[str, str]]:
    """Log in like a browser: the CSRF header and the session cookie."""
    http = requests.Session()
    page = http.get(f"{engine.base}/desk/login", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, "no CSRF field on the login page"
    form = {"csrf_token": token.group(1), "name": name, "password": PASSWORDS[name]}
    done = http.post(f"{engine.base}/desk/login", data=form, allow_redirects=False, timeout=10)
    assert done.status_code == 303, done.text[:300]
    landing = http.get(f"{engine.base}/desk/", timeout=10).text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]*)"', landing)
    assert csrf, "no CSRF token on the landing page"
    return {"X-CSRF-Token": csrf.group(1)}, {"hl_session": http.cookies["hl_session"]}


@pytest.mark.parametrize(("name", "role", "extra"), [
    ("super1", "supervisor", ()),
    ("agent1002", "agent", ("--agent", "1002")),
])  # fmt: skip
def test_the_desk_api_never_answers_500_and_matches_its_description(
    engine: EngineProcess, name: str, role: str, extra: tuple[str, ...]
) -> None:
    add_user(engine, name, role, *extra)
    headers, cookies = desk_session(engine, name)
    failures = fuzz(engine, "/desk/", headers, cookies)
    assert not failures, "\n".join(failures) + "\n" + engine.log_tail(60)
    assert "Traceback" not in engine.log_tail(400)

"""docs/openapi.yaml describes every JSON route the engine serves, and nothing it does not serve
(issue 13): the schemathesis run (tests/app/test_openapi_fuzz.py) fuzzes only what the
description names, so a route missing from it would never be fuzzed. The route table is the
engine's own (``add_routes``), built here on stand-ins that registration never calls.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from aiohttp import web

from hotline.acd.http import make_app
from hotline.app.engine import add_routes

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}
# HTML pages, forms, the websocket and static files: not part of a JSON API. A new route must
# go either into docs/openapi.yaml or here, on purpose.
PAGES = {
    ("GET", "/"),
    ("GET", "/desk/"),
    ("GET", "/desk/login"),
    ("POST", "/desk/login"),
    ("POST", "/desk/logout"),
    ("POST", "/desk/lang"),
    ("GET", "/desk/agent"),
    ("GET", "/desk/wallboard"),
    ("GET", "/desk/tickets/{number}"),
    ("GET", "/desk/units"),
    ("GET", "/desk/disputes"),
    ("GET", "/desk/ws"),
    ("GET", "/desk/static"),
    ("GET", "/desk/vendor/sip.js"),
    ("GET", "/desk/quality"),
    ("POST", "/desk/quality/{recording_id}/score"),
    ("GET", "/desk/review"),
    ("POST", "/desk/review/{number}/accept"),
    ("POST", "/desk/review/{number}/dismiss"),
    ("POST", "/desk/review/{number}/callback"),
}
# Added by the engine only when it has a standby (hotline/app/engine.py, Engine.start).
STANDBY_ONLY = {("GET", "/api/v1/leader")}


async def _nothing(*_args: Any) -> None:
    return None


def engine_routes() -> set[tuple[str, str]]:
    stub: Any = SimpleNamespace()
    desk: Any = SimpleNamespace(
        cfg=SimpleNamespace(),
        sessions=SimpleNamespace(get=_nothing),
        gate=SimpleNamespace(allows=_nothing, end=_nothing),
        softphone=None,
        tickets=stub,
        agents=stub,
        hub=stub,
    )
    app = make_app("token", stub, dict)
    add_routes(app, desk, stub, stub)

    def walk(router: web.UrlDispatcher) -> Iterator[tuple[str, str]]:
        for resource in router.resources():
            sub = getattr(resource, "_app", None)  # a mounted sub-application (the desk)
            if isinstance(sub, web.Application):
                yield from walk(sub.router)
                continue
            for route in resource:
                if route.method != "HEAD":  # aiohttp's automatic HEAD of every GET
                    yield route.method, resource.canonical

    return set(walk(app.router))


def described() -> set[tuple[str, str]]:
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }


def test_the_route_table_is_read_whole() -> None:
    routes = engine_routes()
    # The walk reaches the desk's sub-application and the recordings mounted in it.
    assert ("POST", "/api/v1/agents/{agent_id}/login") in routes
    assert ("GET", "/desk/api/me") in routes
    assert ("GET", "/desk/recordings/{recording_id}/audio") in routes
    assert PAGES <= routes, f"pages no longer served: {sorted(PAGES - routes)}"


def test_every_json_route_is_in_the_openapi_description() -> None:
    missing = engine_routes() - PAGES - described()
    assert not missing, f"routes missing from {SPEC.name}: {sorted(missing)}"


def test_the_openapi_description_names_no_route_the_engine_lacks() -> None:
    stale = described() - engine_routes() - STANDBY_ONLY
    assert not stale, f"{SPEC.name} describes routes the engine does not serve: {sorted(stale)}"

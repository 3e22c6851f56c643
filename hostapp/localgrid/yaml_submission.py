"""`POST /v1/jobs` with a YAML body: Nosana's job file as it is, turned into the JSON submission.

The body (Content-Type application/yaml, text/yaml or application/x-yaml) is the job definition alone,
read by hostapp/jobs/yaml_text.py (safe loader, size and alias limits, JSON types only); the price and
time limit come as query parameters (`?price_per_second=…&timeout_seconds=…`). The result replaces the
request body as the JSON `{definition, price_per_second, timeout_seconds}`, so the route validates it
like any JSON submission: same limits, same errors, same JSON paths.

Only a request carrying the owner token is parsed: without it the body goes on untouched and the
route's owner check answers 401 before reading it. Runs after BodyLimitMiddleware (size cap first).
"""

from __future__ import annotations

import hmac
import json
from urllib.parse import parse_qs

from fastapi.responses import JSONResponse

from hostapp.jobs.yaml_text import YamlDefinitionError, load_yaml_definition
from hostapp.localgrid.asgi_body import ASGIApp, Receive, Scope, Send, read_body, replay

YAML_MEDIA_TYPES = ("application/yaml", "text/yaml", "application/x-yaml")
SUBMIT_PATH = "/v1/jobs"
QUERY_FIELDS = ("price_per_second", "timeout_seconds")


def _refusal(status: int, code: str, path: str, reason: str, what: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": {
                "code": code,
                "message": f"{what} at {path}: {reason}",
                "details": [{"path": path, "reason": reason}],
            }
        },
        status_code=status,
    )


def yaml_submission(body: bytes, query: str) -> bytes | JSONResponse:
    """The JSON submission for a YAML definition and its query, or the 422 answer saying what is wrong."""
    params = parse_qs(query, keep_blank_values=True)
    numbers: dict[str, int] = {}
    for name in QUERY_FIELDS:
        given = params.get(name, [""])[-1]
        if not given.isascii() or not given.isdigit() or len(given) > 30:
            reason = (
                f"must be a whole number, got {given[:40]!r}"
                if given
                else "missing: a YAML body is the job definition alone; give ?price_per_second=…&timeout_seconds=…"
            )
            return _refusal(422, "invalid_request", f"query.{name}", reason, "submission is invalid")
        numbers[name] = int(given)  # the route's model checks the range, as for JSON
    try:
        definition = load_yaml_definition(body)
    except YamlDefinitionError as exc:
        return _refusal(422, "invalid_definition", exc.path, exc.reason, "job definition is invalid")
    if not isinstance(definition, dict):
        reason = f"a job definition is a mapping (version, type, ops), got {type(definition).__name__}"
        return _refusal(422, "invalid_definition", "$", reason, "job definition is invalid")
    return json.dumps({"definition": definition, **numbers}).encode("utf-8")


class YamlSubmissionMiddleware:
    def __init__(self, app: ASGIApp, owner_token: bytes) -> None:
        self.app = app
        self.owner_token = owner_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != SUBMIT_PATH:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower().decode("latin-1")
        scheme, _, credentials = headers.get(b"authorization", b"").partition(b" ")
        owner = scheme.lower() == b"bearer" and hmac.compare_digest(credentials.strip(), self.owner_token)
        if media_type not in YAML_MEDIA_TYPES or not owner:
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)  # BodyLimitMiddleware already read (and capped) it: this is its replay
        if body is None:
            return
        converted = yaml_submission(body, scope.get("query_string", b"").decode("latin-1"))
        if isinstance(converted, JSONResponse):
            await converted(scope, receive, send)
            return
        kept = [(k, v) for k, v in scope["headers"] if k not in (b"content-type", b"content-length")]
        kept += [(b"content-type", b"application/json"), (b"content-length", str(len(converted)).encode())]
        await self.app({**scope, "headers": kept}, replay(converted, receive), send)

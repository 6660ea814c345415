"""Ask Open Policy Agent whether each request to a preview may pass.

The guard is a small Envoy ext_authz client. For every request it sends OPA
the input opa-envoy-plugin builds from Envoy's CheckRequest, so the shipped
preview_access module reads it exactly as it would behind Envoy:

    POST {GUARD_OPA_URL}/v1/data/preview_access/decision
    {"input": {"attributes": {"request": {"http": {
        "host": "pr-42.preview.example.com", "method": "POST",
        "path": "/api/orders?page=2", "scheme": "https",
        "headers": {"x-forwarded-user": "octocat", ...}}}}}}

Only an answer whose result says "allow": true lets the request through. A
denial is 403 with OPA's reason; anything else (OPA unreachable, an answer
that is not 200, a body without a decision) is 503: the guard fails closed.
Each refused request is logged as one JSON line.

The guard is plain ASGI middleware wrapped around the whole app, so nothing
runs before it: it decides HTTP requests and WebSocket handshakes (as the
GET they are), and refuses any other kind of connection.

One server serves one preview, named by GUARD_HOST. A request for any other
Host is refused (421) before OPA is asked: the Host header is the caller's
to choose, and a caller holding a role on preview B must not reach preview A
by sending B's name to A's server.

Who the caller is comes from the identity-aware proxy in front (oauth2-proxy:
X-Forwarded-User, X-Forwarded-Groups), which overwrites those headers on every
request. Nothing but that proxy may reach this server: whoever can set the
headers is whoever they name. A request that repeats a header naming the
user is refused (400): a proxy that added its own beside the caller's would
have the two joined.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

log = logging.getLogger("preview_guard")

# Headers that name the caller with one value, in oauth2-proxy's names and
# the token's. The proxy in front replaces them; one given twice is a proxy
# that added its own beside the caller's, and the two would reach OPA
# joined with a comma, as Envoy joins repeats. (Groups headers may repeat:
# a proxy may send one line per group, after removing the caller's.)
# GUARD_IDENTITY_HEADERS names more.
IDENTITY_HEADERS = frozenset(
    {
        "authorization",
        "x-forwarded-user",
        "x-forwarded-email",
        "x-forwarded-preferred-username",
        "x-auth-request-user",
        "x-auth-request-email",
        "x-auth-request-preferred-username",
    }
)

# An HTTP header name (RFC 9110 token), in lower case.
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")

HOST = re.compile(r"[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?(:[0-9]{1,5})?")

# Close code 1008, policy violation: a refused WebSocket handshake, which the
# server answers with 403. A close frame's reason holds at most 123 bytes.
POLICY_VIOLATION = 1008

# Credentials the proxy passes on with the request. OPA decides on who the
# proxy says the caller is, so it never needs them, and a decision log must
# not collect them. GUARD_FORWARD_HEADERS lets some through, e.g.
# authorization when OPA verifies the identity provider's JWT itself.
SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-forwarded-access-token"})


@dataclass(frozen=True)
class Settings:
    """What the guard needs, read from GUARD_* environment variables."""

    opa_url: str
    host: str
    opa_token: str = ""
    decision: str = "preview_access/decision"
    forward_headers: frozenset[str] = frozenset()
    identity_headers: frozenset[str] = IDENTITY_HEADERS
    timeout: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        url = env.get("GUARD_OPA_URL", "").strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(
                f"GUARD_OPA_URL is {url!r}: set it to the OPA server's base URL, e.g. http://127.0.0.1:8181"
            )
        host = env.get("GUARD_HOST", "").strip().lower()
        if not HOST.fullmatch(host):
            raise ValueError(
                f"GUARD_HOST is {host!r}: set it to the one host this server serves, as people call it "
                "(the preview-url preview-access published, without scheme or path), e.g. pr-42.preview.example.com"
            )
        forward = frozenset(h.strip().lower() for h in env.get("GUARD_FORWARD_HEADERS", "").split(",") if h.strip())
        if unknown := forward - SECRET_HEADERS:
            raise ValueError(
                f"GUARD_FORWARD_HEADERS names {', '.join(sorted(unknown))}: every other header is forwarded "
                f"already; list only some of {', '.join(sorted(SECRET_HEADERS))}"
            )
        identity = frozenset(h.strip().lower() for h in env.get("GUARD_IDENTITY_HEADERS", "").split(",") if h.strip())
        if bad := sorted(h for h in identity if not TOKEN.fullmatch(h)):
            raise ValueError(f"GUARD_IDENTITY_HEADERS names {', '.join(map(repr, bad))}: list header names, comma-separated")
        try:
            timeout = float(env.get("GUARD_OPA_TIMEOUT", "2"))
        except ValueError:
            timeout = 0
        if not 0 < timeout <= 30:
            raise ValueError("GUARD_OPA_TIMEOUT must be a number of seconds, more than 0 and at most 30")
        return cls(
            opa_url=url,
            host=normal_host(host),
            opa_token=env.get("GUARD_OPA_TOKEN", "").strip(),
            decision=env.get("GUARD_OPA_DECISION", cls.decision).strip("/ "),
            forward_headers=forward,
            identity_headers=IDENTITY_HEADERS | identity,
            timeout=timeout,
        )


@dataclass(frozen=True)
class Decision:
    allow: bool
    status: int
    reason: str
    role: str = ""
    preview: str = ""
    user: str = ""
    # False for a request refused before OPA was asked (another host, a
    # repeated identity header): it may not have come through the proxy, so
    # its identity headers are only its own claim, and not logged as who.
    asked: bool = True


def header_lines(scope: Scope) -> list[tuple[str, str]]:
    """The request's header lines, names in lower case, repeats kept."""
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]]


def envoy_input(
    conn: HTTPConnection, host: str, lines: list[tuple[str, str]], forward: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The request as opa-envoy-plugin passes Envoy's CheckRequest to OPA.

    host is the guard's own (GUARD_HOST), which the request's Host matched;
    lines are its header_lines.
    """
    headers: dict[str, str] = {}
    for name, value in lines:
        if name in SECRET_HEADERS and name not in forward:
            continue
        # Envoy joins a repeated header's values with commas.
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    # The path as it arrived, not as decoded for routing: the policy refuses
    # encoded dots and slashes, which it could not see once decoded.
    # (Some ASGI test clients leave the query in raw_path; it is added below.
    # Some servers' WebSocket scopes carry raw_path as str, not bytes.)
    raw = conn.scope.get("raw_path") or b""
    raw = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    path = raw.partition("?")[0] or quote(conn.url.path)
    if query := conn.scope.get("query_string", b"").decode("latin-1"):
        path = f"{path}?{query}"
    return {
        "attributes": {
            "request": {
                "http": {
                    "host": host,
                    "method": method_of(conn.scope),
                    "path": path,
                    # Envoy sees a WebSocket handshake as the HTTP request it is.
                    "scheme": {"ws": "http", "wss": "https"}.get(conn.url.scheme, conn.url.scheme),
                    "headers": headers,
                }
            }
        }
    }


def method_of(scope: Scope) -> str:
    # A WebSocket handshake is a GET with Upgrade: websocket.
    return scope.get("method", "GET") if scope["type"] == "http" else "GET"


def normal_host(host: str) -> str:
    """host in lower case without a default port, as the policy compares it."""
    host = host.strip().lower()
    name, colon, port = host.rpartition(":")
    return name if colon and port in ("80", "443") else host


class OPAGuard:
    """ASGI middleware: asks OPA about every request before the app sees it.

    Wrap the whole app, so that nothing runs before the guard, and close the
    guard on shutdown:

        api = FastAPI()
        app = OPAGuard(api, Settings.from_env())
        api.router.on_shutdown.append(app.aclose)
    """

    def __init__(self, app: ASGIApp, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.app = app
        self.settings = settings
        self.url = f"{settings.opa_url}/v1/data/{settings.decision}"
        self.client = client or httpx.AsyncClient(timeout=settings.timeout)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Start-up and shutdown: no caller, nothing to decide.
            return await self.app(scope, receive, send)
        if scope["type"] not in ("http", "websocket"):
            # A kind of connection this guard cannot decide is not let in.
            raise RuntimeError(f"preview_guard refuses ASGI {scope['type']!r} connections: it decides http and websocket")
        conn = HTTPConnection(scope)
        decision = await self.decide(conn)
        if decision.allow:
            return await self.app(scope, receive, send)
        log.warning(
            json.dumps(
                {
                    "event": "denied",
                    "status": decision.status,
                    "who": decision.user or (conn.headers.get("x-forwarded-user", "") if decision.asked else ""),
                    "preview": decision.preview,
                    "host": conn.headers.get("host", ""),
                    "method": method_of(scope),
                    # Without the query, which can carry secrets.
                    "path": conn.url.path,
                    "role": decision.role,
                    "reason": decision.reason,
                },
                sort_keys=True,
            )
        )
        if scope["type"] == "websocket":
            reason = decision.reason.encode()[:123].decode(errors="ignore")
            return await WebSocketClose(POLICY_VIOLATION, reason)(scope, receive, send)
        await JSONResponse({"detail": decision.reason}, status_code=decision.status)(scope, receive, send)

    async def decide(self, conn: HTTPConnection) -> Decision:
        host = normal_host(conn.headers.get("host", ""))
        if host != self.settings.host:
            return Decision(
                allow=False,
                status=421,
                reason=f"this server serves {self.settings.host} only, not {host or 'a request without a Host'}",
                asked=False,
            )
        lines = header_lines(conn.scope)
        counts = Counter(name for name, _ in lines)
        if repeated := sorted(name for name in self.settings.identity_headers if counts[name] > 1):
            return Decision(
                allow=False,
                status=400,
                reason=f"header {', '.join(repeated)} given more than once: the proxy in front must replace it, not add to it",
                asked=False,
            )
        headers = {"Authorization": f"Bearer {self.settings.opa_token}"} if self.settings.opa_token else {}
        body = {"input": envoy_input(conn, host, lines, self.settings.forward_headers)}
        try:
            resp = await self.client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as e:
            return unavailable(f"cannot reach OPA at {self.settings.opa_url} ({type(e).__name__})")
        if resp.status_code != 200:
            hint = {401: ": check GUARD_OPA_TOKEN", 403: ": GUARD_OPA_TOKEN may not ask for this decision"}
            return unavailable(f"OPA answered {resp.status_code}{hint.get(resp.status_code, '')}")
        try:
            result = resp.json().get("result")
        except (ValueError, AttributeError):
            return unavailable("OPA's answer is not a JSON object")
        if not isinstance(result, dict):
            # OPA answers {} for a rule that does not exist.
            return unavailable(f"OPA has no decision at {self.settings.decision}: is the preview_access module installed?")
        allow = result.get("allow") is True
        reason = text(result.get("reason")) or text(result.get("deny_reason"))
        return Decision(
            allow=allow,
            status=200 if allow else 403,
            reason=reason or ("allowed" if allow else "denied by OPA, which gave no reason"),
            role=text(result.get("role")),
            preview=text(result.get("preview_id")),
            user=text(result.get("user")),
        )


def unavailable(reason: str) -> Decision:
    return Decision(allow=False, status=503, reason=f"access check unavailable: {reason}")


def text(v: Any) -> str:
    return v if isinstance(v, str) else ""

"""Unit tests of the guard against a fake OPA: python3 -m unittest -v.

The end-to-end test (internal/run/e2e_gateway_test.go) runs the example
behind a real oauth2-proxy and a real OPA; these cover what it cannot cause
on demand: an OPA that is down, failing or answering nonsense.
"""

import asyncio
import json
import unittest

import httpx
from fastapi import FastAPI, WebSocket
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from preview_guard import OPAGuard, Settings

HOST = "pr-42.preview.test"
SETTINGS = Settings(opa_url="http://opa.test", host=HOST, opa_token="gateway-token")


def guarded(opa, settings=SETTINGS):
    """An app behind a guard that asks opa(request) -> httpx.Response."""
    api = FastAPI()

    @api.api_route("/api/orders", methods=["GET", "POST"])
    async def orders():
        return {"ok": True}

    @api.websocket("/api/orders/feed")
    async def feed(ws: WebSocket):
        await ws.accept()
        await ws.send_json({"orders": []})
        await ws.close()

    return OPAGuard(api, settings, httpx.AsyncClient(transport=httpx.MockTransport(opa)))


def client_for(opa, settings=SETTINGS):
    """A test client, calling HOST, of an app guarded by opa."""
    return TestClient(guarded(opa, settings), base_url=f"http://{HOST}")


def asgi(app, scope, first):
    """Runs one ASGI connection of app, whose first received message is
    first; returns the messages the app sent."""
    sent = []

    async def receive():
        return first

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def call(app, headers, path="/api/orders"):
    """GET path from app over raw ASGI, with headers exactly as given, names
    in their case and repeats kept (and Host: HOST); returns the status and
    the body."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", HOST.encode())] + [(k.encode(), v.encode()) for k, v in headers],
        "server": (HOST, 80), "client": ("127.0.0.1", 1234),
    }
    sent = asgi(app, scope, {"type": "http.request", "body": b"", "more_body": False})
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


def decision(**result):
    return lambda request: httpx.Response(200, json={"result": result})


class GuardTest(unittest.TestCase):
    def test_asks_with_envoy_input_and_no_credentials(self):
        seen = []

        def opa(request):
            seen.append(request)
            return httpx.Response(200, json={"result": {"allow": True, "reason": "octocat is admin on PR 42"}})

        resp = client_for(opa).get(
            "/api/orders?page=2",
            headers={
                "X-Forwarded-User": "octocat",
                "X-Forwarded-Groups": "octo-org/qa,octo-org/dev",
                "Cookie": "_oauth2_proxy=secret",
                "Authorization": "Bearer secret",
                "X-Forwarded-Access-Token": "secret",
            },
        )
        self.assertEqual(resp.status_code, 200, resp.text)
        (req,) = seen
        self.assertEqual(str(req.url), "http://opa.test/v1/data/preview_access/decision")
        self.assertEqual(req.headers["authorization"], "Bearer gateway-token")
        http = json.loads(req.content)["input"]["attributes"]["request"]["http"]
        self.assertEqual(
            (http["host"], http["method"], http["path"], http["scheme"]),
            ("pr-42.preview.test", "GET", "/api/orders?page=2", "http"),
        )
        self.assertEqual(http["headers"]["x-forwarded-user"], "octocat")
        self.assertEqual(http["headers"]["x-forwarded-groups"], "octo-org/qa,octo-org/dev")
        self.assertNotIn("secret", req.content.decode())

    def test_forwards_a_configured_credential(self):
        seen = []

        def opa(request):
            seen.append(json.loads(request.content))
            return httpx.Response(200, json={"result": {"allow": True}})

        settings = Settings.from_env(
            {"GUARD_OPA_URL": "http://opa.test", "GUARD_HOST": HOST, "GUARD_FORWARD_HEADERS": "Authorization"}
        )
        client_for(opa, settings).get("/api/orders", headers={"Authorization": "Bearer jwt", "Cookie": "c=1"})
        headers = seen[0]["input"]["attributes"]["request"]["http"]["headers"]
        self.assertEqual(headers.get("authorization"), "Bearer jwt")
        self.assertNotIn("cookie", headers)

    def test_denial_is_403_with_the_reason_and_one_log_line(self):
        reason = "alice is reader on PR 42; reader may not POST /api/orders"
        opa = decision(allow=False, reason=reason, role="reader", preview_id="gh-1-pr-42", user="alice")
        with self.assertLogs("preview_guard") as logs:
            resp = client_for(opa).post("/api/orders?token=x", json={}, headers={"X-Forwarded-User": "alice"})
        self.assertEqual((resp.status_code, resp.json()), (403, {"detail": reason}))
        (line,) = logs.records
        self.assertEqual(
            json.loads(line.getMessage()),
            {
                "event": "denied",
                "status": 403,
                "who": "alice",
                "preview": "gh-1-pr-42",
                "host": HOST,
                "method": "POST",
                "path": "/api/orders",
                "role": "reader",
                "reason": reason,
            },
        )

    def test_fails_closed(self):
        def unreachable(request):
            raise httpx.ConnectError("connection refused", request=request)

        cases = {
            "unreachable": (unreachable, 503, "cannot reach OPA"),
            "401": (lambda r: httpx.Response(401, json={"code": "unauthorized"}), 503, "GUARD_OPA_TOKEN"),
            "500": (lambda r: httpx.Response(500, text="boom"), 503, "OPA answered 500"),
            "not JSON": (lambda r: httpx.Response(200, text="<html>"), 503, "not a JSON object"),
            "a list": (lambda r: httpx.Response(200, json=[]), 503, "not a JSON object"),
            "no result": (lambda r: httpx.Response(200, json={}), 503, "no decision at preview_access/decision"),
            "no allow": (decision(reason="?"), 403, "?"),
            'allow "true"': (decision(allow="true"), 403, "gave no reason"),
            "old module": (decision(allow=False, deny_reason="no preview for host x"), 403, "no preview for host x"),
        }
        for name, (opa, status, reason) in cases.items():
            with self.subTest(name), self.assertLogs("preview_guard"):
                resp = client_for(opa).get("/api/orders")
                self.assertEqual(resp.status_code, status, resp.text)
                self.assertIn(reason, resp.json()["detail"])

    def test_serves_its_own_host_only(self):
        # A caller with a role on preview B sends B's name to A's server:
        # refused before OPA is asked, whatever OPA would say.
        seen = []

        def opa(request):
            seen.append(json.loads(request.content))
            return httpx.Response(200, json={"result": {"allow": True}})

        client = client_for(opa)
        with self.assertLogs("preview_guard") as logs:
            for host in ("pr-7.preview.test", "pr-42.preview.test.evil.example", "", "PR-42.preview.test:8080",
                         "pr-42.preview.test:443:80", "pr-42.preview.test."):
                with self.subTest(host):
                    resp = client.get("/api/orders", headers={"Host": host, "X-Forwarded-User": "octocat"})
                    self.assertEqual(resp.status_code, 421, resp.text)
                    self.assertIn(f"this server serves {HOST} only", resp.json()["detail"])
        self.assertEqual(seen, [])
        self.assertEqual(json.loads(logs.records[0].getMessage())["status"], 421)
        # Not through the proxy, perhaps: the header is the caller's claim.
        self.assertEqual({json.loads(r.getMessage())["who"] for r in logs.records}, {""})
        # The same host in another case, or with its scheme's default port,
        # is the same host; OPA is told the guard's own name.
        for host in ("PR-42.Preview.Test", "pr-42.preview.test:80"):
            with self.subTest(host):
                self.assertEqual(client.get("/api/orders", headers={"Host": host}).status_code, 200)
        self.assertEqual([s["input"]["attributes"]["request"]["http"]["host"] for s in seen], [HOST, HOST])

    def test_refuses_repeated_identity_headers(self):
        # A proxy that adds its X-Forwarded-User beside the caller's: the
        # two would reach OPA joined. (The test client joins repeated
        # headers itself: raw ASGI here, names in the case given.)
        seen = []

        def opa(request):
            seen.append(json.loads(request.content)["input"]["attributes"]["request"]["http"]["headers"])
            return httpx.Response(200, json={"result": {"allow": True}})

        settings = Settings.from_env({"GUARD_OPA_URL": "http://opa.test", "GUARD_HOST": HOST, "GUARD_IDENTITY_HEADERS": "X-User"})
        app = guarded(opa, settings)
        for name in ("X-Forwarded-User", "x-forwarded-email", "Authorization", "X-User"):
            with self.subTest(name), self.assertLogs("preview_guard"):
                status, body = call(app, [(name, "mallory"), (name.lower(), "alice")])
                self.assertEqual(status, 400, body)
                self.assertIn(f"header {name.lower()} given more than once", json.loads(body)["detail"])
        self.assertEqual(seen, [])
        # A proxy may send one X-Forwarded-Groups line per group; other
        # headers may repeat too. They reach OPA joined, as Envoy joins them.
        groups = [("X-Forwarded-User", "alice"), ("X-Forwarded-Groups", "octo-org/qa"), ("X-Forwarded-Groups", "octo-org/eng")]
        self.assertEqual(call(app, groups + [("accept", "a/b"), ("Accept", "c/d")])[0], 200)
        self.assertEqual(
            (seen[0]["x-forwarded-groups"], seen[0]["accept"], seen[0]["x-forwarded-user"]),
            ("octo-org/qa,octo-org/eng", "a/b,c/d", "alice"),
        )

    def test_websocket_handshakes_are_decided(self):
        seen = []

        def opa(request):
            http = json.loads(request.content)["input"]["attributes"]["request"]["http"]
            seen.append((http["method"], http["path"], http["scheme"]))
            allow = http["headers"].get("x-forwarded-user") == "alice"
            return httpx.Response(200, json={"result": {"allow": allow, "reason": "bob has no role on PR 42"}})

        client = client_for(opa)
        # Starlette's test client sends its own Host on a handshake, whatever the base URL.
        with client.websocket_connect("/api/orders/feed", headers={"Host": HOST, "X-Forwarded-User": "alice"}) as ws:
            self.assertEqual(ws.receive_json(), {"orders": []})
        with self.assertLogs("preview_guard") as logs, self.assertRaises(WebSocketDisconnect) as refused:
            with client.websocket_connect("/api/orders/feed", headers={"Host": HOST, "X-Forwarded-User": "bob"}):
                self.fail("bob's handshake was accepted")
        self.assertEqual((refused.exception.code, refused.exception.reason), (1008, "bob has no role on PR 42"))
        self.assertEqual(seen, [("GET", "/api/orders/feed", "http")] * 2)
        line = json.loads(logs.records[0].getMessage())
        self.assertEqual((line["method"], line["path"], line["who"]), ("GET", "/api/orders/feed", "bob"))

    def test_raw_path_as_str(self):
        # uvicorn's WebSocket scopes carry raw_path as str (ASGI says bytes).
        seen = []

        def opa(request):
            seen.append(json.loads(request.content)["input"]["attributes"]["request"]["http"]["path"])
            return httpx.Response(200, json={"result": {"allow": False, "reason": "no"}})

        scope = {
            "type": "websocket", "scheme": "ws", "path": "/api/orders/feed", "raw_path": "/api/%2e%2e/feed",
            "query_string": b"x=1", "headers": [(b"host", HOST.encode())], "server": (HOST, 80),
        }
        with self.assertLogs("preview_guard"):
            sent = asgi(guarded(opa), scope, {"type": "websocket.connect"})
        self.assertEqual(seen, ["/api/%2e%2e/feed?x=1"])
        self.assertEqual(sent[0]["type"], "websocket.close")

    def test_refuses_connections_it_cannot_decide(self):
        with self.assertRaisesRegex(RuntimeError, "refuses ASGI 'webtransport' connections"):
            asgi(guarded(decision(allow=True)), {"type": "webtransport", "headers": []}, {})

    def test_settings_name_what_is_wrong(self):
        ok = {"GUARD_OPA_URL": "http://o", "GUARD_HOST": HOST}
        cases = {
            "GUARD_OPA_URL": {"GUARD_HOST": HOST},
            "GUARD_HOST": {"GUARD_OPA_URL": "http://o"},
            "GUARD_HOST ": {"GUARD_OPA_URL": "http://o", "GUARD_HOST": "https://pr-42.preview.test/"},
            "GUARD_FORWARD_HEADERS": {**ok, "GUARD_FORWARD_HEADERS": "x-forwarded-user"},
            "GUARD_OPA_TIMEOUT": {**ok, "GUARD_OPA_TIMEOUT": "soon"},
            "GUARD_IDENTITY_HEADERS": {**ok, "GUARD_IDENTITY_HEADERS": "x-user, bad header"},
        }
        for name, env in cases.items():
            with self.subTest(name), self.assertRaisesRegex(ValueError, name.strip()):
                Settings.from_env(env)
        self.assertEqual(Settings.from_env({**ok, "GUARD_HOST": "PR-42.preview.test:443"}).host, HOST)


if __name__ == "__main__":
    unittest.main()

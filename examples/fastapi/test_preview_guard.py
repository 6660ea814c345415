"""Unit tests of the guard against a fake OPA: python3 -m unittest -v.

The end-to-end test (internal/run/e2e_gateway_test.go) runs the example
behind a real oauth2-proxy and a real OPA; these cover what it cannot cause
on demand: an OPA that is down, failing or answering nonsense.
"""

import json
import unittest

import httpx
from fastapi import FastAPI
from starlette.testclient import TestClient

from preview_guard import OPAGuard, Settings

SETTINGS = Settings(opa_url="http://opa.test", opa_token="gateway-token")


def client_for(opa, settings=SETTINGS):
    """A test client of an app whose guard asks opa(request) -> httpx.Response."""
    guard = OPAGuard(settings, httpx.AsyncClient(transport=httpx.MockTransport(opa)))
    app = FastAPI()
    app.middleware("http")(guard)

    @app.api_route("/api/orders", methods=["GET", "POST"])
    async def orders():
        return {"ok": True}

    return TestClient(app)


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
                "Host": "pr-42.preview.test",
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

        settings = Settings.from_env({"GUARD_OPA_URL": "http://opa.test", "GUARD_FORWARD_HEADERS": "Authorization"})
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
                "host": "testserver",
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

    def test_settings_name_what_is_wrong(self):
        cases = {
            "GUARD_OPA_URL": {},
            "GUARD_FORWARD_HEADERS": {"GUARD_OPA_URL": "http://o", "GUARD_FORWARD_HEADERS": "x-forwarded-user"},
            "GUARD_OPA_TIMEOUT": {"GUARD_OPA_URL": "http://o", "GUARD_OPA_TIMEOUT": "soon"},
        }
        for name, env in cases.items():
            with self.subTest(name), self.assertRaisesRegex(ValueError, name):
                Settings.from_env(env)


if __name__ == "__main__":
    unittest.main()

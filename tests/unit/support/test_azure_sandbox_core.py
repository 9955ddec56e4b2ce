"""The sandbox core itself: TLS, the token service, bearer checks, faults, holds and the control endpoints.

Plain HTTPS from the standard library, so these tests do not depend on the Azure SDK's behaviour.
"""

from __future__ import annotations

import json
import ssl
import threading
import urllib.parse
from http.client import HTTPSConnection
from typing import Any

from tests.support.azure_sandbox import AzureSandbox

ZONES = f"/subscriptions/{AzureSandbox.subscription_id}/providers/Microsoft.Network/dnszones"


def send(sb: AzureSandbox, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
         form: bool = False) -> tuple[int, Any]:
    """One request over verified TLS (the sandbox CA only); returns the status and the parsed body."""
    host, port = sb.url.removeprefix("https://").split(":")
    connection = HTTPSConnection(host, int(port), context=ssl.create_default_context(cafile=sb.ca_file), timeout=20)
    payload = None
    headers = dict(headers or {})
    if body is not None:
        payload = urllib.parse.urlencode(body) if form else json.dumps(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded" if form else "application/json"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, json.loads(raw) if raw else None


def token(sb: AzureSandbox, secret: str | None = None) -> tuple[int, Any]:
    return send(sb, "POST", f"/{sb.tenant}/oauth2/v2.0/token", form=True, body={
        "grant_type": "client_credentials", "client_id": sb.client_id,
        "client_secret": sb.client_secret if secret is None else secret, "scope": f"{sb.url}/.default"})


def bearer(sb: AzureSandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sb)[1]['access_token']}"}


def test_token_service_checks_the_secret_and_never_logs_it(azure_sandbox: AzureSandbox) -> None:
    assert token(azure_sandbox, "wrong")[0] == 401
    status, body = token(azure_sandbox)
    assert status == 200 and body["token_type"] == "Bearer"
    assert [r.body["client_secret"] for r in azure_sandbox.token_requests()] == ["***", "***"]


def test_arm_routes_need_a_token_issued_by_the_sandbox(azure_sandbox: AzureSandbox) -> None:
    assert send(azure_sandbox, "GET", ZONES)[0] == 401
    assert send(azure_sandbox, "GET", ZONES + "?api-version=2018-05-01", headers={"Authorization": "Bearer forged"})[0] == 401
    status, body = send(azure_sandbox, "GET", ZONES + "/missing/route", headers=bearer(azure_sandbox))
    assert status == 404 and body["error"]["code"] == "NotFound"


def test_fault_answers_the_next_matching_requests_only(azure_sandbox: AzureSandbox) -> None:
    auth = bearer(azure_sandbox)
    azure_sandbox.fault("GET", ".*/dnszones", 429, times=2, headers={"Retry-After": "0"})
    assert [send(azure_sandbox, "GET", ZONES + "?api-version=2018-05-01", headers=auth)[0] for attempt in range(3)] == [429, 429, 200]


def test_metadata_in_both_forms(azure_sandbox: AzureSandbox) -> None:
    azure_sandbox.cloud_name = "AzureUSGovernment"
    status, body = send(azure_sandbox, "GET", "/metadata/endpoints?api-version=2022-09-01")
    assert status == 200 and body[0]["name"] == "AzureUSGovernment"
    assert body[0]["authentication"]["loginEndpoint"] == azure_sandbox.url + "/"
    azure_sandbox.metadata_format = "2015"
    assert "name" not in send(azure_sandbox, "GET", "/metadata/endpoints?api-version=2015-01-01")[1]
    azure_sandbox.reset()
    assert (azure_sandbox.cloud_name, azure_sandbox.metadata_format) == ("AzureCloud", "list")


def test_hold_releases_concurrent_requests_and_fails_sequential_ones(azure_sandbox: AzureSandbox) -> None:
    auth = bearer(azure_sandbox)
    held = azure_sandbox.hold("GET", ".*/dnszones", parties=2, timeout=5)
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(send(azure_sandbox, "GET", ZONES + "?api-version=2018-05-01", headers=auth)[0]))
               for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200, 200] and (held.arrived, held.released, held.broken) == (2, 2, False)

    alone = azure_sandbox.hold("GET", ".*/dnszones", parties=2, timeout=0.3)
    status, body = send(azure_sandbox, "GET", ZONES + "?api-version=2018-05-01", headers=auth)
    assert status == 500 and body["error"]["code"] == "SandboxBarrierTimeout"
    assert alone.broken


def test_control_endpoints_for_process_mode(azure_sandbox: AzureSandbox) -> None:
    send(azure_sandbox, "GET", "/metadata/endpoints")
    status, logged = send(azure_sandbox, "GET", "/_sandbox/requests")
    assert status == 200 and [entry["path"] for entry in logged] == ["/metadata/endpoints"]
    assert send(azure_sandbox, "POST", "/_sandbox/clear-requests")[0] == 204
    assert azure_sandbox.requests == []

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DNS fault matrix (issue 10): every Azure DNS request cmg_cname sends, against every fault.

Requests: the zone listing, the zone read, the record set read, the record set write (PUT) and
delete. Faults: 429 with Retry-After, 500, 503, a connection reset before and after the sandbox
applied the request, a read timeout, a 200 whose body is not JSON, and a redirect from https to
http. Expected: transient faults are retried and the task succeeds; the others fail with one line
that names what was being done and the status; nothing is half-written; ``changed`` is true
whenever a write may have been applied; a re-run converges (changed false, no write).

Wire-level faults (reset, timeout, HTML, redirect) need the socket, which the sandbox's JSON fault
hook does not give: :class:`WireFaults` swaps the running server's handler class for a subclass
that applies them (fixtures live here until the shared reliability harness has them). No clock is
asserted on: retries sleep 0 s through injected :class:`RetrySettings` (Retry-After is honoured up to
a cap of 0 s); only the read-timeout case waits for a real socket timeout of 0.5 s.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator, Optional
from urllib.parse import parse_qsl, urlsplit

import pytest

from ansible_collections.configmgr.cmg.plugins.module_utils._azure import RetrySettings
from ansible_collections.configmgr.cmg.plugins.module_utils._cname import run_cname
from ansible_collections.configmgr.cmg.plugins.module_utils._errors import CmgError
from tests.support.azure_sandbox import AzureSandbox
from tests.support.azure_sandbox import dns as sandbox_dns
from tests.support.azure_sandbox.core import Request

TARGET = "granitefalls.westus.cloudapp.azure.com"
SUB = f"/subscriptions/{AzureSandbox.subscription_id}"
ZONE = f"{SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/dnsZones/contoso.com"
RECORD = f"{ZONE}/CNAME/granitefalls"
#: request name -> (method, path regex, options that make the module send it, state before the run)
REQUESTS = {
    "zone list": ("GET", re.escape(f"{SUB}/providers/Microsoft.Network/dnszones"), {}, "absent"),
    "zone read": ("GET", re.escape(ZONE), {"zone": "contoso.com", "resource_group": "rg-dns"}, "absent"),
    "record read": ("GET", re.escape(RECORD), {}, "absent"),
    "record write": ("PUT", re.escape(RECORD), {}, "absent"),
    "record delete": ("DELETE", re.escape(RECORD), {"state": "absent"}, "present"),
}
FAULTS = ("429", "500", "503", "reset before", "reset after", "read timeout", "non-JSON", "redirect to http")
TRANSIENT = ("429", "500", "503", "reset before", "reset after", "read timeout")
RETRY = RetrySettings(total_retries=3, backoff_factor=0.0, backoff_max=0.0, max_retry_after=0.0, total_seconds=60.0,
                      connection_timeout=5.0, read_timeout=0.5)


@dataclass
class _WireFault:
    method: str
    pattern: re.Pattern[str]
    kind: str
    remaining: int = 1


class WireFaults:
    """Socket-level faults for the next matching requests of a running sandbox."""

    def __init__(self, sandbox: AzureSandbox) -> None:
        self.sandbox = sandbox
        self.faults: list[_WireFault] = []
        self.lock = threading.Lock()
        server = sandbox._server  # pylint: disable=protected-access  # the running server of this test's sandbox
        self.server = server
        self.original = server.RequestHandlerClass
        server.RequestHandlerClass = _faulty_handler(self.original, self)

    def add(self, method: str, path_regex: str, kind: str, times: int = 1) -> None:
        """Apply ``kind`` (reset-before, reset-after, timeout, html, redirect) to the next ``times`` matches."""
        with self.lock:
            self.faults.append(_WireFault(method, re.compile(path_regex, re.IGNORECASE), kind, times))

    def take(self, method: str, path: str) -> Optional[str]:
        """The fault for this request, if any (consumed)."""
        with self.lock:
            for fault in self.faults:
                if fault.remaining and fault.method == method and fault.pattern.fullmatch(path):
                    fault.remaining -= 1
                    return fault.kind
        return None

    def close(self) -> None:
        """Back to the sandbox's own handler."""
        self.server.RequestHandlerClass = self.original


def _faulty_handler(base: type, faults: WireFaults) -> type:
    class Faulty(base):  # type: ignore[misc,valid-type]
        def _wire(self) -> None:
            parts = urlsplit(self.path)
            kind = faults.take(self.command, parts.path)
            if kind is None:
                base._serve(self)  # pylint: disable=protected-access
                return
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if kind == "reset before":
                self._reset()
                return
            if kind == "redirect to http":
                location = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"
                self._send(307, b"", "application/json", {"Location": location})
                return
            import json  # pylint: disable=import-outside-toplevel

            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode("utf-8", "replace")
            response = faults.sandbox.handle(Request(self.command, parts.path, dict(parse_qsl(parts.query)), headers, body))
            if kind == "reset after":
                self._reset()
            elif kind == "read timeout":
                time.sleep(RETRY.read_timeout * 2)
                self._reset()
            elif kind == "non-JSON":
                self._send(200, b"<html><body>Service Unavailable - Zscaler</body></html>", "text/html", {})

        def _send(self, status: int, payload: bytes, content_type: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _reset(self) -> None:
            """Close with RST (SO_LINGER 0): the client sees a reset connection."""
            self.close_connection = True
            try:
                raw = self.connection
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                raw.close()
            except OSError:
                pass

        do_GET = do_PUT = do_DELETE = do_POST = do_PATCH = do_HEAD = _wire

    return Faulty


@pytest.fixture
def sb(azure_sandbox: AzureSandbox, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzureSandbox]:
    """The sandbox with contoso.com and the environment pointing at it."""
    for key, value in azure_sandbox.env().items():
        monkeypatch.setenv(key, value)
    sandbox_dns.add_zone(azure_sandbox, "contoso.com")
    yield azure_sandbox


@pytest.fixture
def wire(sb: AzureSandbox) -> Iterator[WireFaults]:
    """Socket-level faults on the sandbox for one test."""
    faults = WireFaults(sb)
    yield faults
    faults.close()


def _run(**params: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"service_name": "GraniteFalls.contoso.com", "target": TARGET, "wait": False}
    values.update(params)
    return run_cname(values, retry=RETRY)


def _inject(sb: AzureSandbox, wire: WireFaults, method: str, pattern: str, fault: str) -> None:
    if fault == "429":
        sb.fault(method, pattern, 429, headers={"Retry-After": "7"})
    elif fault in ("500", "503"):
        sb.fault(method, pattern, int(fault))
    else:
        wire.add(method, pattern, fault)


def _stored_target(sb: AzureSandbox) -> Optional[str]:
    record = sandbox_dns.get_record(sb, "contoso.com", "granitefalls")
    return None if record is None else record["properties"]["CNAMERecord"]["cname"]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("request_name", list(REQUESTS))
def test_fault_matrix(sb: AzureSandbox, wire: WireFaults, request_name: str, fault: str) -> None:
    method, pattern, options, before = REQUESTS[request_name]
    if before == "present":
        sandbox_dns.put_record(sb, "contoso.com", "granitefalls", "CNAME",
                               {"TTL": 3600, "CNAMERecord": {"cname": TARGET}, "metadata": {}})
    wanted = None if options.get("state") == "absent" else TARGET
    _inject(sb, wire, method, pattern, fault)
    sb.clear_requests()
    try:
        result: Optional[dict[str, Any]] = _run(**options)
        error: Optional[CmgError] = None
    except CmgError as exc:
        result, error = None, exc
    sent = [r for r in sb.requests if r.method == method and re.fullmatch(pattern, r.path, re.IGNORECASE)]
    is_write = method in ("PUT", "DELETE")

    if fault in TRANSIENT or (fault == "non-JSON" and method == "DELETE"):  # a DELETE's answer has no body to read
        assert error is None, f"{request_name} / {fault}: not retried: {error}"
        assert result is not None and result["changed"] is True, result  # the write was sent (or re-sent) and applied
        assert _stored_target(sb) == wanted
        if fault in TRANSIENT and fault != "reset before":  # a reset before the request was read is not logged
            assert len(sent) >= 2, f"{request_name} / {fault}: {[(r.method, r.path) for r in sent]}"
    else:
        assert error is not None, f"{request_name} / {fault}: succeeded although the answer was unusable: {result}"
        message = str(error)
        assert "\n" not in message and len(message) < 400, message
        if fault == "non-JSON":
            assert "HTTP 200" in message or "without a valid" in message, message
        if fault == "redirect to http":
            assert "non-https" in message or "http://" in message or "redirect" in message.lower(), message
            assert sent == [], "the redirect was followed"  # azure-core refused to send the token over http
        applied = _stored_target(sb) == wanted and before != ("present" if wanted else "absent")
        if is_write and fault == "non-JSON":
            assert applied and error.details.get("changed") is True, (error.details, _stored_target(sb))
        elif not is_write:
            assert error.details.get("changed") in (None, False), error.details
            assert _stored_target(sb) == (TARGET if before == "present" else None)  # nothing written before the failure
    # a re-run without faults converges: the wanted state, changed false when it already holds, and no write after that
    again = _run(**options)
    assert _stored_target(sb) == wanted
    sb.clear_requests()
    third = _run(**options)
    assert (third["changed"], sb.writes()) == (False, [])
    assert again["record"]["target"] == wanted


def test_lost_put_response_reports_changed(sb: AzureSandbox, wire: WireFaults) -> None:
    """10.7: the PUT was applied, its answer lost; azure-core retries with If-None-Match: *, gets 412,
    the core reads again and finds the record right: that is a change made by this run."""
    wire.add("PUT", re.escape(RECORD), "reset after")
    result = _run()
    puts = [(r.method, r.headers.get("if-none-match")) for r in sb.writes()]
    assert puts == [("PUT", "*"), ("PUT", "*")]  # the retry met its own effect (412)
    assert result["changed"] is True
    assert result["record"]["target"] == TARGET
    assert result["diff"]["before"] == {}
    assert _stored_target(sb) == TARGET


def test_html_after_write_is_one_line_and_changed(sb: AzureSandbox, wire: WireFaults) -> None:
    """10.5: a 200 whose body is an HTML page after the PUT: one line, and changed (the write was applied)."""
    wire.add("PUT", re.escape(RECORD), "non-JSON")
    with pytest.raises(CmgError) as caught:
        _run()
    assert "\n" not in str(caught.value)
    assert caught.value.details["changed"] is True
    assert _stored_target(sb) == TARGET


class _LosingProxy:
    """A TCP proxy in front of BIND: relays DNS messages, but drops (resets) the answer to the first UPDATE."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.dropped = 0
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _address = self.listener.accept()
            except OSError:
                return
            with client, socket.create_connection(self.upstream, timeout=5) as upstream:
                try:
                    length = struct.unpack("!H", _read(client, 2))[0]
                    message = _read(client, length)
                except OSError:
                    continue
                upstream.sendall(struct.pack("!H", length) + message)
                answer_length = struct.unpack("!H", _read(upstream, 2))[0]
                answer = _read(upstream, answer_length)
                if (message[2] >> 3) & 0xF == 5 and not self.dropped:  # opcode UPDATE: BIND applied it, the answer is lost
                    self.dropped += 1
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    continue
                client.sendall(struct.pack("!H", answer_length) + answer)

    def close(self) -> None:
        self.listener.close()


def _read(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("closed")
        data += chunk
    return data


def test_rfc2136_update_applied_but_answer_lost_reports_changed() -> None:
    """10.7 for RFC 2136: the update reached BIND and was applied, its answer was lost: the failure says changed,
    and a re-run converges without a write."""
    from ansible_collections.configmgr.cmg.plugins.module_utils._dns_resolve import (  # pylint: disable=import-outside-toplevel
        NameServer, answered_target)
    from tests.support.bind import running_named  # pylint: disable=import-outside-toplevel

    with running_named(("contoso.test",)) as bind:
        proxy = _LosingProxy((bind.host, bind.port))
        params = {"service_name": "lost.contoso.test", "target": TARGET, "provider": "rfc2136", "server": bind.host,
                  "port": proxy.port, "zone": "contoso.test", "key_name": bind.key_name, "key_secret": bind.key_secret,
                  "wait": False}
        try:
            with pytest.raises(CmgError) as caught:
                run_cname(params)
            again = run_cname(params)
        finally:
            proxy.close()
        target = answered_target(NameServer(bind.host, bind.host, bind.port), "lost.contoso.test", 2)
    assert proxy.dropped == 1
    assert caught.value.details.get("changed") is True, (str(caught.value), caught.value.details)
    assert "\n" not in str(caught.value)
    assert target == TARGET
    assert again["changed"] is False


@pytest.mark.parametrize("zone, expected", [
    ({"name": "contoso.com", "id": "not-an-arm-id", "properties": {"nameServers": []}}, "with a malformed resource id"),
    ({"name": "contoso..com", "id": f"{SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/dnszones/x"},
     "whose name is not a DNS name"),
    ({"id": f"{SUB}/resourceGroups/rg-dns/providers/Microsoft.Network/dnszones/x"}, "without a name"),
])
def test_malformed_zone_listing_is_one_line(sb: AzureSandbox, zone: dict, expected: str) -> None:
    """10.5: a zone list whose ids or names are malformed is one line, nothing is written."""
    sb.fault("GET", re.escape(f"{SUB}/providers/Microsoft.Network/dnszones"), 200, body={"value": [zone]})
    with pytest.raises(CmgError) as caught:
        _run()
    assert expected in str(caught.value) and "\n" not in str(caught.value)
    assert sb.writes() == []

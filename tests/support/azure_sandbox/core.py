"""The local Azure sandbox: an HTTPS stand-in for Azure Resource Manager and the token service.

It answers the real azure-identity and azure-mgmt clients on 127.0.0.1 with a certificate from
``trustme`` (clients trust it through ``REQUESTS_CA_BUNDLE``). Request and response shapes follow
Microsoft's published REST API examples (``../shared/azure-rest-examples``).

The core serves the token service, ``/metadata/endpoints`` and the control endpoints; handler
modules beside it (``names.py``, ``dns.py``) add Resource Manager routes with :func:`route` and
state seeders with :func:`seeder`. Every request is logged so that tests can assert what was sent;
faults and latency can be injected per test, and :meth:`AzureSandbox.hold` proves that requests
were sent concurrently (a barrier they must reach together).
"""

from __future__ import annotations

import importlib
import json
import re
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qsl, urlsplit

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CLIENT_SECRET = "sandbox-secret-value-7f3c"  # a test secret: tests assert it never shows in output

Handler = Callable[..., "Response"]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []
_SEEDERS: dict[str, Callable[["AzureSandbox", Any], None]] = {}
_HANDLER_MODULES = ("names", "dns", "readiness")


@dataclass
class Request:
    """One request the sandbox received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None
    time: float = field(default_factory=time.monotonic)
    peer: str = ""  # the client's address and port: one per TCP connection (make bench counts connections)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able view, for the process-mode control endpoint."""
        return {"method": self.method, "path": self.path, "query": self.query,
                "headers": self.headers, "body": self.body}


@dataclass
class Response:
    """What a handler answers: a status, a JSON body (or ``raw`` bytes of ``content_type``) and extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] | None = None
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"


class ConnectionReset(Exception):
    """Raised by :meth:`AzureSandbox.handle` to drop the connection with a TCP reset instead of answering."""


#: What an injected fault does instead of (or after) handling the request: see :meth:`AzureSandbox.fault`.
FAULT_ACTIONS = ("respond", "reset_before", "reset_after", "stall", "html", "redirect")


def arm_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """A Resource Manager error in its published shape ``{"error": {"code", "message"}}``."""
    return Response(status, {"error": {"code": code, "message": message}}, headers)


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register a Resource Manager route; the regex is full-matched, case-insensitively, to the path."""
    def register(func: Handler) -> Handler:
        _ROUTES.append((method.upper(), re.compile(pattern, re.IGNORECASE), func))
        return func
    return register


def seeder(name: str) -> Callable[[Callable[["AzureSandbox", Any], None]], Callable[["AzureSandbox", Any], None]]:
    """Register a function that loads the ``name`` section of a seed document into the state."""
    def register(func: Callable[["AzureSandbox", Any], None]) -> Callable[["AzureSandbox", Any], None]:
        _SEEDERS[name] = func
        return func
    return register


def _load_handler_modules() -> None:
    for name in _HANDLER_MODULES:
        try:
            importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    remaining: int
    headers: dict[str, str] | None
    body: Any
    action: str = "respond"


@dataclass
class Hold:
    """A barrier for matching ARM requests: see :meth:`AzureSandbox.hold`."""

    method: str  # "*" for any
    pattern: re.Pattern[str]
    parties: int
    timeout: float
    arrived: int = 0  # matching requests that reached the barrier
    released: int = 0  # requests the barrier let through together
    broken: bool = False  # the barrier timed out: every later matching request gets a 500
    barrier: threading.Barrier = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.barrier = threading.Barrier(self.parties)

    def matches(self, request: Request) -> bool:
        """True for a request of this method (any with ``*``) whose path full-matches the pattern."""
        return self.method in ("*", request.method) and bool(self.pattern.fullmatch(request.path))

    def error(self) -> Response:
        """The 500 a request gets when the barrier timed out."""
        return arm_error(500, "SandboxBarrierTimeout",
                         f"the sandbox held {self.method} {self.pattern.pattern} until {self.parties} requests were in "
                         f"flight together, but only {self.arrived} arrived within {self.timeout} s: the calls were not "
                         "concurrent")


class AzureSandbox:
    """A running sandbox. ``start()``/``stop()`` or use it as a context manager."""

    tenant = TENANT
    subscription_id = SUBSCRIPTION
    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET

    def __init__(self, latency: float = 0.0, cloud_name: str = "AzureCloud", metadata_format: str = "list") -> None:
        _load_handler_modules()
        self._defaults = (latency, cloud_name, metadata_format)
        self.latency, self.cloud_name, self.metadata_format = self._defaults
        self.state: dict[str, Any] = {}
        self.requests: list[Request] = []
        self.tokens: set[str] = set()
        self._faults: list[_Fault] = []
        self._holds: list[Hold] = []
        self._unstall = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="azure-sandbox-")
        self.ca_file = f"{self._tmp.name}/sandbox-ca.pem"
        self.url = ""

    # -- life cycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> "AzureSandbox":
        """Start serving HTTPS on 127.0.0.1 (a free port unless ``port`` is given)."""
        import trustme  # a test dependency, only needed when a sandbox really starts

        authority = trustme.CA()
        authority.cert_pem.write_to_path(self.ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(self))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.url = f"https://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, name="azure-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the CA file."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._tmp.cleanup()

    def __enter__(self) -> "AzureSandbox":
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- per-test control -------------------------------------------------------------------
    def reset(self) -> None:
        """Forget state, requests and faults; latency, cloud name and metadata form go back to the
        constructor's values (the server and its tokens stay)."""
        with self._lock:
            self.state.clear()
            self.requests.clear()
            self._faults.clear()
            self._holds.clear()
            self._unstall.set()
            self._unstall = threading.Event()
        self.latency, self.cloud_name, self.metadata_format = self._defaults

    def seed(self, data: dict[str, Any]) -> None:
        """Load a seed document: each top-level key goes to the seeder registered under its name."""
        for name, section in data.items():
            if name not in _SEEDERS:
                raise KeyError(f"no sandbox seeder named {name!r}; known: {sorted(_SEEDERS)}")
            _SEEDERS[name](self, section)

    def fault(self, method: str, path_regex: str, status: int | None = None, times: int = 1,
              headers: dict[str, str] | None = None, body: Any = None, action: str = "respond") -> None:
        """Answer the next ``times`` matching requests with ``status`` instead of handling them.

        ``action`` chooses another fault: ``reset_before`` drops the connection (TCP reset) without
        handling the request, ``reset_after`` handles it (state changes apply) and then drops the
        connection instead of answering, ``stall`` answers nothing until :meth:`reset` (or 30 s),
        ``html`` answers ``status`` (200 by default) with an HTML page, ``redirect`` answers
        ``status`` (302 by default) with the ``Location`` given in ``headers``.
        """
        if action not in FAULT_ACTIONS:
            raise ValueError(f"unknown fault action {action!r}: use one of {FAULT_ACTIONS}")
        status = status if status is not None else {"html": 200, "redirect": 302}.get(action, 500)
        if body is None and status >= 400 and action == "respond":
            body = {"error": {"code": f"Injected{status}", "message": f"injected fault {status}"}}
        with self._lock:
            self._faults.append(_Fault(method.upper(), re.compile(path_regex, re.IGNORECASE), status, times,
                                       headers, body, action))

    def hold(self, method: str, path_regex: str, parties: int, timeout: float = 5.0) -> Hold:
        """Hold the next ``parties`` matching ARM requests until all of them are in flight, then answer them.

        A deterministic proof of concurrency: ``method`` (``*`` for any) and ``path_regex`` (full match,
        case-insensitive) select the requests, which wait at a :class:`threading.Barrier` of ``parties``.
        Requests sent one after another never meet there: after ``timeout`` seconds the waiting ones
        get a 500 ``SandboxBarrierTimeout`` with a clear message, and so does every later matching
        request (the barrier stays broken, so a retry cannot pass either). Once the barrier has let its
        ``parties`` through together, later matching requests are handled normally. The returned
        :class:`Hold` counts ``arrived`` and ``released`` requests and says whether it is ``broken``.
        """
        held = Hold(method.upper(), re.compile(path_regex, re.IGNORECASE), parties, timeout)
        with self._lock:
            self._holds.append(held)
        return held

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self.requests.clear()

    def arm_requests(self) -> list[Request]:
        """The requests sent to Resource Manager (not the token service, metadata or control)."""
        return [r for r in list(self.requests) if _is_arm(r.path)]

    def writes(self) -> list[Request]:
        """The Resource Manager requests that change something: PUT, PATCH, DELETE."""
        return [r for r in self.arm_requests() if r.method in ("PUT", "PATCH", "DELETE")]

    def token_requests(self) -> list[Request]:
        """The token requests (client credentials grants)."""
        return [r for r in list(self.requests) if r.path.endswith("/oauth2/v2.0/token")]

    def env(self) -> dict[str, str]:
        """The environment a task needs to reach this sandbox as AWX's Azure credential injects it."""
        return {
            "AZURE_CLIENT_ID": self.client_id,
            "AZURE_SECRET": self.client_secret,
            "AZURE_TENANT": self.tenant,
            "AZURE_SUBSCRIPTION_ID": self.subscription_id,
            "AZURE_CLOUD_ENVIRONMENT": self.url,
            "REQUESTS_CA_BUNDLE": self.ca_file,
        }

    # -- request handling -------------------------------------------------------------------
    def _log(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def _take_fault(self, request: Request) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.method == request.method and fault.pattern.fullmatch(request.path):
                    fault.remaining -= 1
                    return fault
        return None

    def _faulty_answer(self, fault: _Fault) -> Response | None:
        """The answer of a fault taken before handling; None for ``reset_after`` (handle first)."""
        if fault.action == "reset_before":
            raise ConnectionReset()
        if fault.action == "stall":
            unstall = self._unstall
            unstall.wait(30)
            raise ConnectionReset()
        if fault.action == "html":
            return Response(fault.status, headers=fault.headers,
                            raw=b"<html><body><h1>Service Unavailable</h1></body></html>", content_type="text/html")
        if fault.action == "redirect":
            return Response(fault.status, headers=fault.headers)
        if fault.action == "respond":
            return Response(fault.status, fault.body, fault.headers)
        return None

    def _join_hold(self, request: Request) -> Response | None:
        """Wait at the barrier of the first hold that takes this request; the 500 when it times out."""
        with self._lock:
            held = next((item for item in self._holds if item.matches(request)
                         and (item.broken or item.arrived < item.parties)), None)
            if held is None:
                return None
            if held.broken:
                return held.error()
            held.arrived += 1
        try:
            held.barrier.wait(held.timeout)
        except threading.BrokenBarrierError:
            with self._lock:
                held.broken = True
            return held.error()
        with self._lock:
            held.released += 1
        return None

    def handle(self, request: Request) -> Response:
        """Answer one request (called from the server threads); :class:`ConnectionReset` drops the connection."""
        fault = None
        if not request.path.startswith("/_sandbox/"):
            fault = self._take_fault(request)
        response = self._handle(request, fault)
        if fault is not None and fault.action == "reset_after":
            raise ConnectionReset()
        return response

    def _handle(self, request: Request, fault: _Fault | None) -> Response:
        if request.path.startswith("/_sandbox/"):
            return self._control(request)
        self._log(request)
        if _is_arm(request.path):
            held = self._join_hold(request)
            if held is not None:
                return held
        if _is_arm(request.path) and self.latency:
            time.sleep(self.latency)
        if fault is not None:
            answer = self._faulty_answer(fault)
            if answer is not None:
                return answer
        if request.path == "/metadata/endpoints":
            return Response(200, self._metadata())
        match = re.fullmatch(r"/(?P<tenant>[^/]+)/(?P<rest>v2\.0/\.well-known/openid-configuration|oauth2/v2\.0/token)",
                             request.path)
        if match:
            return self._token_service(request, match["tenant"], match["rest"])
        if not self._authorized(request):
            return arm_error(401, "InvalidAuthenticationToken", "The access token is invalid.",
                             {"WWW-Authenticate": f'Bearer authorization_uri="{self.url}/{self.tenant}", '
                                                  'error="invalid_token"'})
        for method, pattern, func in _ROUTES:
            found = pattern.fullmatch(request.path)
            if found and method == request.method:
                return func(self, request, **found.groupdict())
        return arm_error(404, "NotFound", f"The sandbox has no route for {request.method} {request.path}.")

    def _authorized(self, request: Request) -> bool:
        parts = request.headers.get("authorization", "").split(" ", 1)
        return len(parts) == 2 and parts[0].lower() == "bearer" and parts[1] in self.tokens

    def _metadata(self) -> Any:
        if self.metadata_format == "2015":
            return {
                "galleryEndpoint": f"{self.url}/gallery/",
                "graphEndpoint": "https://graph.sandbox.test/",
                "portalEndpoint": f"{self.url}/portal/",
                "authentication": {"loginEndpoint": f"{self.url}/", "audiences": [f"{self.url}/"]},
            }
        return [{
            "name": self.cloud_name,
            "portal": f"{self.url}/portal",
            "resourceManager": f"{self.url}/",
            "authentication": {"loginEndpoint": f"{self.url}/", "audiences": [f"{self.url}/"],
                               "tenant": "common", "identityProvider": "AAD"},
            "suffixes": {"keyVaultDns": "vault.azure.net", "storage": "core.windows.net"},
        }]

    def _token_service(self, request: Request, tenant: str, rest: str) -> Response:
        if tenant != self.tenant:
            return Response(400, {"error": "invalid_tenant",
                                  "error_description": f"AADSTS90002: Tenant '{tenant}' not found."})
        base = f"{self.url}/{tenant}"
        if rest.startswith("v2.0"):
            return Response(200, {
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "tenant_region_scope": "WW",
            })
        form = request.body if isinstance(request.body, dict) else {}
        if form.get("grant_type") != "client_credentials" or form.get("client_id") != self.client_id:
            return Response(400, {"error": "unauthorized_client",
                                  "error_description": f"AADSTS700016: Application with identifier "
                                                       f"'{form.get('client_id')}' was not found in the directory."})
        if form.get("client_secret") != self.client_secret:
            return Response(401, {"error": "invalid_client",
                                  "error_description": "AADSTS7000215: Invalid client secret provided."})
        token = f"sandbox-{uuid.uuid4().hex}"
        self.tokens.add(token)
        return Response(200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                              "access_token": token})

    def _control(self, request: Request) -> Response:
        if request.method == "GET" and request.path == "/_sandbox/requests":
            return Response(200, [r.as_dict() for r in list(self.requests)])
        if request.method == "POST" and request.path == "/_sandbox/clear-requests":
            self.clear_requests()
            return Response(204)
        if request.method == "POST" and request.path == "/_sandbox/seed":
            self.seed(request.body or {})
            return Response(204)
        if request.method == "GET" and request.path == "/_sandbox/state":
            return Response(200, json.loads(json.dumps(self.state, default=_jsonable)))
        return Response(404, {"error": {"code": "NotFound", "message": "unknown control endpoint"}})


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _is_arm(path: str) -> bool:
    return path.startswith(("/subscriptions/", "/providers/"))


def _parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if "application/x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(text))
    try:
        return json.loads(text)
    except ValueError:
        return text


def _make_handler(sandbox: AzureSandbox) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            body = _parse_body(raw, headers.get("content-type", ""))
            logged_body = dict(body, client_secret="***") if isinstance(body, dict) and "client_secret" in body else body
            request = Request(self.command, parts.path, dict(parse_qsl(parts.query)), headers, body,
                              peer="%s:%s" % self.client_address[:2])
            try:
                response = sandbox.handle(request)
            except ConnectionReset:
                request.body = logged_body
                self._reset()
                return
            except Exception as exc:  # pylint: disable=broad-except  # a sandbox bug must show, not hang
                response = arm_error(500, "SandboxError", f"{type(exc).__name__}: {exc}")
            request.body = logged_body
            if response.raw is not None:
                payload = response.raw
            else:
                payload = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            for key, value in (response.headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("x-ms-request-id", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(payload)

        def _reset(self) -> None:
            """Drop the connection with a TCP reset (SO_LINGER 0), answering nothing."""
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass

        do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
            """Quiet: the request log is the record."""

    return _Handler

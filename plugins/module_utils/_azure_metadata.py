# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud of a Resource Manager URL: its ``/metadata/endpoints`` document, fetched and read safely.

The document chooses the login endpoint the client secret is sent to, so it is only ever read over
verified https: no redirect is followed (a 3xx answer is an error naming where it pointed), an
``http://`` login endpoint is refused, and the answer is read up to :data:`MAX_METADATA_BYTES`.
A corporate CA bundle comes in through ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``), which must
name a readable file (:func:`check_ca_bundle`).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Mapping

from ._azure_pipeline import RetrySettings
from ._clouds import API_VERSIONS, Cloud, check_https_url, is_url, resolve, with_endpoints
from ._errors import AzureError, CmgError, MissingDependencyError

#: The largest metadata document read (Azure's is about 2 KB).
MAX_METADATA_BYTES = 1024 * 1024

#: The variables requests and azure-core read a CA bundle from, first one wins.
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type name when empty)."""
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_ca_bundle(environ: Mapping[str, str] | None = None) -> None:
    """Fail with one line when ``REQUESTS_CA_BUNDLE`` (or ``CURL_CA_BUNDLE``) names no readable file or directory.

    requests would otherwise raise a bare ``OSError`` deep inside the first request.
    """
    environ = os.environ if environ is None else environ
    for variable in CA_BUNDLE_VARIABLES:
        path = environ.get(variable)
        if not path:
            continue
        if os.path.isdir(path):
            return
        if not os.path.isfile(path):
            raise AzureError(f"{variable} names {path!r}, which is not a file: set it to the PEM file of the CA "
                             "certificates to trust, or unset it")
        if not os.access(path, os.R_OK):
            raise AzureError(f"{variable} names {path!r}, which this user cannot read")
        return


def _same_endpoint(left: str, right: str) -> bool:
    def norm(url: str) -> str:
        url = url.strip().lower()
        return url if url.endswith("/") else url + "/"
    return norm(left) == norm(right)


def parse_metadata(url: str, document: Any) -> Cloud:
    """The cloud of Resource Manager ``url`` from its ``/metadata/endpoints`` document (2015 or 2019+ form)."""
    if isinstance(document, list):
        entries = [entry for entry in document if isinstance(entry, dict)]
        matching = [entry for entry in entries if _same_endpoint(str(entry.get("resourceManager", "")), url)]
        if not matching and len(entries) == 1:
            matching = entries
        if not matching:
            raise AzureError(f"the cloud metadata of {url} lists no cloud whose resourceManager is {url}")
        entry = matching[0]
    elif isinstance(document, dict):
        entry = document
    else:
        raise AzureError(f"the cloud metadata of {url} is neither an object nor a list")
    authentication = entry.get("authentication")
    if not isinstance(authentication, dict) or not authentication.get("loginEndpoint"):
        raise AzureError(f"the cloud metadata of {url} has no authentication.loginEndpoint")
    login = authentication["loginEndpoint"]
    if not isinstance(login, str):
        raise AzureError(f"the cloud metadata of {url} has an authentication.loginEndpoint that is not a string "
                         f"({type(login).__name__})")
    try:
        check_https_url(login, "login endpoint")
    except CmgError as exc:
        raise AzureError(f"the cloud metadata of {url} names a login endpoint that is not https ({login[:200]!r}): "
                         "refused, the client secret is never sent over plain http") from None
    audiences = authentication.get("audiences")
    audiences = [value for value in audiences if isinstance(value, str) and value] if isinstance(audiences, list) else []
    if not audiences:
        raise AzureError(f"the cloud metadata of {url} has no authentication.audiences")
    name = entry.get("name")
    try:
        cloud = resolve(url, {}, metadata_name=name if isinstance(name, str) else "")
    except CmgError as exc:
        raise AzureError(str(exc)) from None
    return with_endpoints(cloud, login.strip(), audiences[0])


def metadata_endpoint(url: str) -> str:
    """The metadata URL of a Resource Manager URL."""
    return f"{url.rstrip('/')}/metadata/endpoints?api-version={API_VERSIONS['metadata']}"


_TRANSIENT = (429, 500, 502, 503, 504)


def _retry_after(response: Any, settings: RetrySettings) -> float | None:
    try:
        value = float(response.headers.get("retry-after", ""))
    except (TypeError, ValueError):
        return None
    return min(max(value, 0.0), settings.max_retry_after)


def fetch_metadata(url: str, retry: RetrySettings | None = None) -> Any:
    """GET ``<url>/metadata/endpoints`` over verified TLS, without following redirects, and parse the JSON.

    429, 5xx, resets and timeouts are retried like every Azure request (:class:`RetrySettings`: at
    most ``total_retries`` retries, ``Retry-After`` capped, the waits within ``total_seconds``).
    """
    try:
        import requests  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise MissingDependencyError("requests", exc) from None
    settings = retry or RetrySettings()
    check_ca_bundle()
    endpoint = metadata_endpoint(url)
    waited = 0.0
    for attempt in range(settings.total_retries + 1):
        error, delay = _fetch_once(requests, endpoint, settings)
        if isinstance(error, bytes):
            return _parse_json(endpoint, error)
        if delay is None:
            delay = min(settings.backoff_factor * (2 ** attempt), settings.backoff_max)
        if attempt == settings.total_retries or waited + delay > settings.total_seconds:
            raise error
        waited += delay
        settings.sleep(delay)
    raise AzureError(f"the cloud metadata endpoint {endpoint} did not answer")  # not reached


def _fetch_once(requests: Any, endpoint: str, settings: RetrySettings) -> tuple[Any, float | None]:
    """``(body, None)``, or ``(AzureError, delay)`` where the error is final when the loop gives up."""
    try:
        with requests.get(endpoint, timeout=(settings.connection_timeout, settings.read_timeout),
                          allow_redirects=False, stream=True) as response:
            status = response.status_code
            if 300 <= status < 400:
                target = str(response.headers.get("location", ""))[:200]
                raise AzureError(f"the cloud metadata endpoint {endpoint} answered HTTP {status}, a redirect to "
                                 f"{target!r}: refused, the document that chooses where credentials go is only read "
                                 "from the URL given", status_code=status)
            if status in _TRANSIENT:
                return (AzureError(f"the cloud metadata endpoint {endpoint} answered HTTP {status}", status_code=status),
                        _retry_after(response, settings))
            if status != 200:
                raise AzureError(f"the cloud metadata endpoint {endpoint} answered HTTP {status}", status_code=status)
            body = response.raw.read(MAX_METADATA_BYTES + 1, decode_content=True)
    except requests.Timeout:
        return AzureError(f"the cloud metadata endpoint {endpoint} did not answer within {settings.read_timeout:g} s"), None
    except requests.RequestException as exc:
        return AzureError(f"cannot read the cloud metadata endpoint {endpoint}: {first_line(exc)}"), None
    except OSError as exc:  # a CA bundle that vanished, a reset while reading the body
        return AzureError(f"cannot read the cloud metadata endpoint {endpoint}: {first_line(exc)}"), None
    if len(body) > MAX_METADATA_BYTES:
        raise AzureError(f"the cloud metadata endpoint {endpoint} answered more than {MAX_METADATA_BYTES} bytes")
    return body, None


def _parse_json(endpoint: str, body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise AzureError(f"the cloud metadata endpoint {endpoint} answered HTTP 200 without JSON") from None


def resolve_cloud(value: str | None, fetch: Callable[[str], Any] = fetch_metadata) -> Cloud:
    """The cloud, with its endpoints, for a ``cloud_environment`` value: a known name or an https Resource Manager URL."""
    text = (value or "AzureCloud").strip() if isinstance(value, str) or value is None else value
    try:
        cloud = resolve(text, {})
    except CmgError as exc:
        raise AzureError(str(exc)) from None
    if is_url(text):
        return parse_metadata(str(text).strip(), fetch(str(text).strip()))
    return cloud

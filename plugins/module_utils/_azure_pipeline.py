# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP pipeline every Azure request goes through: retries, redirects, policy order and errors.

- :class:`RetrySettings` bounds azure-core's ``RetryPolicy``: 429 and 5xx answers are retried,
  ``Retry-After`` is honoured up to ``max_retry_after``, and the waits of one request add up to at
  most ``total_seconds`` (a retry that would wait longer is not made). ``sleep`` is the function
  that waits: tests inject one and assert on what was waited for, never on the clock.
- :func:`redirect_policy` follows a redirect only when it stays on https: a request that carries a
  token (or leads to one) never leaves TLS. The token requests of azure-identity follow no
  redirect at all (azure-core's transport sends ``allow_redirects=False`` and identity's pipeline
  has no redirect policy). :func:`arm_link` holds a ``nextLink`` to the same rule, and to the Resource
  Manager's own host.
- :func:`arm_policies` is the policy list a generated azure-mgmt client builds, in its order
  (``azure.mgmt.core.ARMPipelineClient``), less one: azure-mgmt-core's
  ``ARMAutoResourceProviderRegistrationPolicy``, which answers a 409 ``MissingSubscriptionRegistration``
  by registering the resource provider in the subscription on its own. A read (a name check, a DNS
  read, check mode) must never change the subscription: registering is ``cmg_azure_readiness``'s
  explicit ``register: true``, and the 409 becomes one line that says so. :data:`ERROR_MAP` is the
  map every generated operation passes to ``map_error``.
  ``tests/unit/plugins/module_utils/test_azure_pipeline.py`` fails when the SDK's own defaults stop
  matching these copies.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

from ._errors import AzureError

T = TypeVar("T")


@dataclass(frozen=True)
class RetrySettings:
    """Bounds of azure-core's retry policy: 429/5xx retried, Retry-After honoured up to ``max_retry_after``."""

    total_retries: int = 4
    backoff_factor: float = 0.8
    backoff_max: float = 10.0
    max_retry_after: float = 30.0  # a longer Retry-After is shortened to this
    total_seconds: float = 120.0  # the waits of one request add up to at most this
    connection_timeout: float = 10.0
    read_timeout: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)


#: SDK client of each kind: (pip package, module, class).
#: :data:`PIPELINE` names the plain ARM pipeline of :meth:`AzureSession.arm_json` instead (for ``warm_up``).
CLIENTS: dict[str, tuple[str, str, str]] = {
    "network": ("azure-mgmt-network", "azure.mgmt.network", "NetworkManagementClient"),
    "storage": ("azure-mgmt-storage", "azure.mgmt.storage", "StorageManagementClient"),
    "keyvault": ("azure-mgmt-keyvault", "azure.mgmt.keyvault", "KeyVaultManagementClient"),
}

#: The kind of the plain ARM pipeline (:meth:`AzureSession.arm_json`) in the session's client cache.
PIPELINE = "arm"

#: Answers the SDK maps to a dedicated azure-core exception (as every generated operation does).
ERROR_MAP = {401: "ClientAuthenticationError", 404: "ResourceNotFoundError", 409: "ResourceExistsError",
             304: "ResourceNotModifiedError"}


def retry_policy(settings: RetrySettings, statuses: list[int] | None = None) -> Any:
    """An azure-core RetryPolicy that caps each Retry-After, bounds the sum of the waits and waits with ``settings.sleep``.

    ``statuses``, when given, collects the status of every answer (for messages about the token service).
    """
    from azure.core.pipeline import PipelineResponse  # pylint: disable=import-outside-toplevel
    from azure.core.pipeline.policies import RetryPolicy  # pylint: disable=import-outside-toplevel

    class BoundedRetryPolicy(RetryPolicy):  # type: ignore[misc,valid-type]
        """RetryPolicy with capped Retry-After, a budget for the waits of one request, and an injectable sleep."""

        def send(self, request: Any) -> Any:
            response = super().send(request)
            if statuses is not None:
                statuses.append(response.http_response.status_code)
            return response

        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(value, settings.max_retry_after)

        def _delay(self, retry_settings: dict[str, Any], response: Any) -> float:
            if isinstance(response, PipelineResponse):
                after = self.get_retry_after(response)
                if after:
                    return float(after)
            return max(float(self.get_backoff_time(retry_settings)), 0.0)

        def increment(self, settings_: dict[str, Any], response: Any = None, error: Any = None) -> bool:
            if not super().increment(settings_, response=response, error=error):
                return False
            delay = self._delay(settings_, response)
            if settings_.get("waited", 0.0) + delay > settings.total_seconds:
                return False  # the answer (or error) at hand is final: waiting would pass the budget
            settings_["next_delay"] = delay
            return True

        def sleep(self, settings_: dict[str, Any], transport: Any, response: Any = None) -> None:
            delay = settings_.pop("next_delay", None)
            if delay is None:
                delay = self._delay(settings_, response)
            settings_["waited"] = settings_.get("waited", 0.0) + delay
            if delay > 0:
                settings.sleep(delay)

    return BoundedRetryPolicy(retry_total=settings.total_retries, retry_backoff_factor=settings.backoff_factor,
                              retry_backoff_max=settings.backoff_max, timeout=settings.total_seconds)


def _without_query(url: str, limit: int = 120) -> str:
    """``url`` without its query, shortened to ``limit`` characters (an ARM path can be long)."""
    parts = urlsplit(url)
    text = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def redirect_policy() -> Any:
    """An azure-core RedirectPolicy that refuses any redirect leaving https (one line naming both URLs)."""
    from azure.core.pipeline.policies import RedirectPolicy  # pylint: disable=import-outside-toplevel

    class HttpsOnlyRedirectPolicy(RedirectPolicy):  # type: ignore[misc,valid-type]
        """Follows redirects only to https URLs."""

        def increment(self, settings: dict[str, Any], response: Any, redirect_location: str) -> bool:
            source = response.http_request.url
            target = urljoin(source, redirect_location)
            if urlsplit(target).scheme.lower() != "https":
                raise AzureError(f"{_without_query(source)} answered HTTP {response.http_response.status_code}, a redirect "
                                 f"to {_without_query(target)}: refused, a request that carries a credential never "
                                 "leaves https", status_code=response.http_response.status_code)
            return super().increment(settings, response, redirect_location)

    return HttpsOnlyRedirectPolicy()


#: The longest ``nextLink`` followed (an ARM path with a skip token is a few hundred characters).
MAX_LINK = 4096


def arm_link(resource_manager: str, path: str, description: str) -> str:
    """The URL of ``path``: a path from the Resource Manager root, or a full URL (an answer's ``nextLink``).

    A full URL is followed only over https to the Resource Manager's own host (the request carries the
    token); its ``api-version`` is dropped for the caller's, as the SDK's pagers do. Anything else is
    refused in one line that names the link (without its query) and what was being done.
    """
    if path.startswith("/"):
        return resource_manager.rstrip("/") + path
    try:
        link = urlsplit(path)
        allowed = len(path) <= MAX_LINK and link.scheme.lower() == "https" \
            and link.netloc.lower() == urlsplit(resource_manager).netloc.lower()
        shown = _without_query(path) if link.scheme else path.split("?", 1)[0]
    except ValueError:  # not a URL (an unclosed IPv6 bracket...)
        allowed, shown = False, path.split("?", 1)[0]
    if not allowed:
        shown = "".join(char if char.isprintable() else "?" for char in (shown if len(shown) <= 120 else shown[:117] + "..."))
        why = f"longer than {MAX_LINK} characters" if len(path) > MAX_LINK \
            else f"next pages are read only over https from the Resource Manager {resource_manager}"
        raise AzureError(f"Azure answered a next page at {shown} while {description}: refused, {why}")
    query = "&".join(part for part in link.query.split("&") if part and part.split("=", 1)[0].lower() != "api-version")
    return urlunsplit((link.scheme, link.netloc, link.path, query, ""))


def next_link(resource_manager: str, link: object, description: str) -> str:
    """The URL of a listing's next page from its ``nextLink``: an absolute https URL on the Resource Manager's
    host (:func:`arm_link`); a relative link or anything that is not text is refused in one line too."""
    if isinstance(link, str) and not link.startswith("/"):
        return arm_link(resource_manager, link, description)
    shown = "".join(char if char.isprintable() else "?" for char in str(link)[:120].split("?", 1)[0])
    raise AzureError(f"Azure answered a next page at {shown} while {description}: refused, next pages are read only "
                     f"over https from the Resource Manager {resource_manager}")


def transport_options(settings: RetrySettings) -> dict[str, Any]:
    """Retries, redirects and timeouts, the same for SDK clients and the plain pipeline."""
    return {"retry_policy": retry_policy(settings), "redirect_policy": redirect_policy(),
            "connection_timeout": settings.connection_timeout, "read_timeout": settings.read_timeout}


def arm_policies(credential: Any, scope: str, retry: Any, redirect: Any) -> list[Any]:
    """The policies a generated azure-mgmt client puts in its pipeline, in its order (azure-mgmt-core), without
    the automatic resource provider registration (see the module's docstring)."""
    from azure.core.pipeline import policies  # pylint: disable=import-outside-toplevel
    from azure.mgmt.core.policies import (  # pylint: disable=import-outside-toplevel
        ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy,
    )

    return [
        policies.RequestIdPolicy(), policies.HeadersPolicy(), policies.UserAgentPolicy(sdk_moniker="configmgr-cmg"),
        policies.ProxyPolicy(), policies.ContentDecodePolicy(),
        redirect, retry, ARMChallengeAuthenticationPolicy(credential, scope),
        policies.CustomHookPolicy(), policies.NetworkTraceLoggingPolicy(), policies.DistributedTracingPolicy(),
        policies.SensitiveHeaderCleanupPolicy(), ARMHttpLoggingPolicy(),
    ]


def raise_for_arm_status(response: Any) -> None:
    """Raise for a non-2xx answer as the SDK does: a mapped exception or HttpResponseError in ARM's error format."""
    if 200 <= response.status_code < 300:
        return
    from azure.core import exceptions as core  # pylint: disable=import-outside-toplevel
    from azure.mgmt.core.exceptions import ARMErrorFormat  # pylint: disable=import-outside-toplevel

    core.map_error(response.status_code, response, {status: getattr(core, name) for status, name in ERROR_MAP.items()})
    raise core.HttpResponseError(response=response, error_format=ARMErrorFormat)


def run_concurrently(calls: Mapping[str, Callable[[], T]], max_workers: int = 8) -> dict[str, T]:
    """Run independent calls in threads and return their results by key.

    Every call runs to its end; then the first error, in the order of ``calls``, is raised.
    """
    if not calls:
        return {}
    with ThreadPoolExecutor(max_workers=min(max_workers, len(calls))) as pool:
        futures = {key: pool.submit(call) for key, call in calls.items()}
    errors = [future.exception() for future in futures.values() if future.exception() is not None]
    if errors:
        raise errors[0]
    return {key: future.result() for key, future in futures.items()}

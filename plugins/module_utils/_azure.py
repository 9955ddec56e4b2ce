# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection reaches Azure: one :class:`AzureSession` per task, and error translation.

Shared by every Azure-facing module. Plain Python without Ansible; third-party packages
(``azure-identity``, ``azure-mgmt-*``, ``requests``) are imported lazily, and a missing one raises
:class:`MissingDependencyError` naming the pip package. The layers, each in its own file:

- ``_azure_settings``: options and environment (:func:`resolve_settings`, :data:`AZURE_ARGUMENT_SPEC`),
  credentials files;
- ``_clouds``: one record per cloud and :func:`~._clouds.resolve`, the one place that picks it;
  ``_azure_metadata``: the metadata of a Resource Manager URL (https only, no redirect);
- ``_azure_pipeline``: retries (:class:`RetrySettings`), https-only redirects, the ARM policy
  order and error map, :func:`run_concurrently`;
- this file: the session (one credential, so one token request per run; cached SDK clients;
  :meth:`AzureSession.arm_json` for plain REST requests) and the one-line messages of
  :meth:`AzureSession.translate`.

The names other modules import from here (``AzureSession``, ``AzureSettings``, ``AzureCloud``,
``RetrySettings``, ``PIPELINE``, ``CLIENTS``, ``run_concurrently``, ``resolve_settings``,
``resolve_cloud``, ``parse_metadata``, ``fetch_metadata``, ``naming_cloud``, ``azure_argument_spec``,
``AZURE_ARGUMENT_SPEC``, ``ENVIRONMENT``) stay importable from this module.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import Any, Callable, Mapping, TypeVar

from ._azure_metadata import check_ca_bundle, fetch_metadata, first_line, parse_metadata, resolve_cloud
from ._azure_pipeline import (
    CLIENTS, ERROR_MAP, PIPELINE, RetrySettings, arm_link, arm_policies, raise_for_arm_status, retry_policy,
    run_concurrently, transport_options,
)
from ._azure_settings import (
    AUTH_SOURCES, AZURE_ARGUMENT_SPEC, ENVIRONMENT, AzureSettings, azure_argument_spec, read_credentials_file,
    resolve_settings,
)
from ._clouds import Cloud, resolve
from ._errors import AzureError, CmgError, MissingDependencyError

__all__ = [
    "AUTH_SOURCES", "AZURE_ARGUMENT_SPEC", "CLIENTS", "ENVIRONMENT", "ERROR_MAP", "PIPELINE",
    "AzureCloud", "AzureSession", "AzureSettings", "RetrySettings", "azure_argument_spec", "check_ca_bundle",
    "fetch_metadata", "naming_cloud", "parse_metadata", "read_credentials_file", "resolve_cloud", "resolve_settings",
    "run_concurrently",
]

T = TypeVar("T")

#: The endpoints and names of one cloud (the record of ``_clouds``; kept under its old name).
AzureCloud = Cloud


def _missing_permission(permission: str | None) -> str:
    """What a 403 lacks and which role to grant: one that holds the permission (docs/permissions.md)."""
    if not permission:
        return "it lacks the needed permissions; grant a role that holds them (docs/permissions.md)"
    if permission.lower().startswith("microsoft.network/dnszones/"):
        example = ", such as DNS Zone Contributor on the zone"
    elif permission.lower().endswith("/read"):
        example = ", such as Reader or the custom role in docs/permissions.md"
    else:
        example = " (docs/permissions.md)"
    return f"it lacks the permission {permission}; grant a role that holds {permission}{example}"


def _caused_by(exc: BaseException | None, kinds: tuple[type[BaseException], ...]) -> bool:
    """True when ``exc`` or an exception it was raised from is one of ``kinds`` (azure-identity wraps errors)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, kinds):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


class _SharedCredential:
    """Wraps one azure-identity credential: one token per scope, fetched once under a lock."""

    def __init__(self, credential: Any, on_error: Callable[[BaseException], CmgError]) -> None:
        self._credential = credential
        self._on_error = on_error
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], Any] = {}
        self.requests = 0  # token requests made through this credential

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """Return a cached token with more than five minutes left, else request one (once, under the lock)."""
        with self._lock:
            token = self._tokens.get(scopes)
            if token is None or token.expires_on - time.time() < 300:
                self.requests += 1
                try:
                    # Only the token options: a pipeline passes its request options (retry_on_methods...) on too.
                    token = self._credential.get_token(*scopes, **{key: value for key, value in kwargs.items()
                                                                   if key in ("claims", "tenant_id", "enable_cae")})
                except CmgError:
                    raise
                except Exception as exc:  # pylint: disable=broad-except
                    raise self._on_error(exc) from None
                self._tokens[scopes] = token
            return token

    def close(self) -> None:
        """Close the wrapped credential's transport."""
        close = getattr(self._credential, "close", None)
        if close is not None:
            close()


class AzureSession:
    """One task's access to Azure: settings, cloud, one credential and cached SDK clients."""

    def __init__(self, settings: AzureSettings, cloud: AzureCloud, retry: RetrySettings | None = None) -> None:
        self.settings = settings
        self.cloud = cloud
        self.retry = retry or RetrySettings()
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._credential: _SharedCredential | None = None
        self._token_statuses: list[int] = []  # the status of every answer of the token service

    @classmethod
    def from_options(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                     retry: RetrySettings | None = None) -> "AzureSession":
        """Resolve the options (see the module docstring) and the cloud; no token is requested yet."""
        settings = resolve_settings(options, os.environ if environ is None else environ)
        check_ca_bundle()  # requests reads the CA bundle from this process's environment
        retry = retry or RetrySettings()
        return cls(settings, resolve_cloud(settings.cloud_environment, lambda url: fetch_metadata(url, retry)), retry)

    # -- what the result may show ------------------------------------------------------------
    @property
    def subscription_id(self) -> str:
        """The subscription every client works in."""
        return str(self.settings.subscription_id)

    @property
    def auth_source_used(self) -> str:
        """``options``, ``env``, ``credential_file``, ``cli`` or ``msi``."""
        return self.settings.auth_source

    @property
    def cloud_name(self) -> str:
        """``AzureCloud`` or ``AzureUSGovernment`` (the naming rules to apply)."""
        return self.cloud.name

    @property
    def resource_manager(self) -> str:
        """The Resource Manager base URL, with a trailing slash."""
        return self.cloud.resource_manager

    @property
    def principal(self) -> str:
        """Who signs in, for messages (never the secret)."""
        source = self.settings.auth_source
        if source == "cli":
            return "the Azure CLI's signed-in account"
        if source == "msi":
            client = self.settings.client_id
            return f"the managed identity {client}" if client else "the system-assigned managed identity"
        return f"the service principal {self.settings.client_id}"

    @property
    def token_requests(self) -> int:
        """How many token requests this session made so far."""
        return self._credential.requests if self._credential else 0

    # -- credential and clients ----------------------------------------------------------------
    @property
    def credential(self) -> _SharedCredential:
        """The session's one credential (created on first use)."""
        with self._lock:
            if self._credential is None:
                self._credential = _SharedCredential(self._make_credential(), self._token_error)
            return self._credential

    def _make_credential(self) -> Any:
        try:
            from azure import identity  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise MissingDependencyError("azure-identity", exc) from None
        settings = self.settings
        # The token requests wait and give up like every other request (bounded, injectable sleep).
        common: dict[str, Any] = {"authority": self.cloud.authority,
                                  "retry_policy_class": lambda **_: retry_policy(self.retry, self._token_statuses),
                                  "connection_timeout": self.retry.connection_timeout,
                                  "read_timeout": self.retry.read_timeout}
        if self.cloud.custom:
            common["disable_instance_discovery"] = True
        if settings.auth_source == "cli":
            return identity.AzureCliCredential(tenant_id=settings.tenant) if settings.tenant else identity.AzureCliCredential()
        if settings.auth_source == "msi":
            return identity.ManagedIdentityCredential(client_id=settings.client_id) if settings.client_id \
                else identity.ManagedIdentityCredential()
        return identity.ClientSecretCredential(settings.tenant, settings.client_id, settings.secret, **common)

    def client(self, kind: str) -> Any:
        """The cached SDK management client of ``kind`` (network, storage, keyvault)."""
        if kind not in CLIENTS:
            raise ValueError(f"unknown Azure client kind {kind!r}: use one of {', '.join(CLIENTS)}")
        credential = self.credential
        with self._lock:
            if kind not in self._clients:
                self._clients[kind] = self._make_client(kind, credential)
            return self._clients[kind]

    def pipeline(self) -> Any:
        """The cached ``ARMPipelineClient`` of :meth:`arm_json` (no SDK package imported)."""
        credential = self.credential
        with self._lock:
            if PIPELINE not in self._clients:
                self._clients[PIPELINE] = self._make_pipeline(credential)
            return self._clients[PIPELINE]

    def warm_up(self, *kinds: str) -> None:
        """Request the session's token while the clients of ``kinds`` (SDK kinds or :data:`PIPELINE`) are built.

        Building a client is mostly importing its package (CPU); the token is two round trips to
        the login endpoint (network). Done together, the round trips hide behind the imports instead of
        following them. A failure raises the error the first call would have raised.
        """
        calls: dict[str, Callable[[], Any]] = {"token": lambda: self.credential.get_token(self.cloud.scope)}
        calls.update({kind: (lambda kind=kind: self.pipeline() if kind == PIPELINE else self.client(kind))
                      for kind in kinds})
        run_concurrently(calls)

    def _transport_options(self) -> dict[str, Any]:
        """Retries, redirects and timeouts, the same for SDK clients and the plain pipeline."""
        return transport_options(self.retry)

    def _make_client(self, kind: str, credential: _SharedCredential) -> Any:
        package, module_name, class_name = CLIENTS[kind]
        try:
            module = __import__(module_name, fromlist=[class_name])
        except ImportError as exc:
            raise MissingDependencyError(package, exc) from None
        options = self._transport_options()
        # Our policy list, not the client's default: the same order without the automatic provider registration.
        policies = arm_policies(credential, self.cloud.scope, options.pop("retry_policy"), options.pop("redirect_policy"))
        return getattr(module, class_name)(credential, self.subscription_id, base_url=self.resource_manager,
                                           credential_scopes=[self.cloud.scope], policies=policies, **options)

    def _make_pipeline(self, credential: _SharedCredential) -> Any:
        try:
            from azure.mgmt.core import ARMPipelineClient  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise MissingDependencyError("azure-mgmt-core", exc) from None
        options = self._transport_options()
        return ARMPipelineClient(base_url=self.resource_manager,
                                 policies=arm_policies(credential, self.cloud.scope, options.pop("retry_policy"),
                                                       options.pop("redirect_policy")),
                                 **options)

    def close(self) -> None:
        """Close every client and the credential."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()
        if self._credential is not None:
            self._credential.close()

    def __enter__(self) -> "AzureSession":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- calls and errors ----------------------------------------------------------------------
    def call(self, description: str, fn: Callable[..., T], *args: Any, permission: str | None = None, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)``; azure-core errors become one-line :class:`AzureError` messages.

        ``description`` says what was done (``checking Key Vault name 'x'``); ``permission`` is the
        Azure RBAC action it needs, named in the message of a 403.
        """
        try:
            return fn(*args, **kwargs)
        except CmgError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise self.translate(exc, description, permission) from None

    def arm_json(self, method: str, path: str, api_version: str, *, description: str, permission: str | None = None,
                 query: Mapping[str, str] | None = None, body: Any = None, read_only: bool = False,
                 headers: Mapping[str, str] | None = None, read_body: bool = True) -> Any:
        """Send one Resource Manager request through :meth:`pipeline` and return its parsed JSON (None if empty).

        ``path`` starts at the Resource Manager root (``/subscriptions/...``), or is an answer's ``nextLink``
        (:func:`~._azure_pipeline.arm_link`: https on the Resource Manager's host only); ``api_version`` and
        ``query`` become the query string, ``body`` the JSON body, ``headers`` extra request headers
        (``If-Match``). Errors are those of :meth:`call`. ``read_only`` marks a POST that changes nothing
        (``checkNameAvailability``): like a GET, it is retried after a reset or timeout too. With
        ``read_body`` false the answer's body is not read (a DELETE: None is returned).
        """
        def send() -> Any:
            from azure.core.rest import HttpRequest  # pylint: disable=import-outside-toplevel

            params = {**(query or {}), "api-version": api_version}
            request = HttpRequest(method, arm_link(self.resource_manager, path, description), params=params, json=body,
                                  headers={**(headers or {}), "Accept": "application/json"})
            options = {"retry_on_methods": ["HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE", method.upper()]} \
                if read_only else {}
            response = self.pipeline().send_request(request, **options)
            raise_for_arm_status(response)
            try:
                return response.json() if read_body and response.content else None
            except ValueError:
                raise AzureError(f"{self.resource_manager} answered HTTP {response.status_code} without valid JSON while "
                                 f"{description}", status_code=response.status_code) from None

        return self.call(description, send, permission=permission)

    def translate(self, exc: BaseException, description: str, permission: str | None = None) -> CmgError:
        """The :class:`AzureError` for an exception raised while ``description``."""
        try:
            from azure.core import exceptions as core  # pylint: disable=import-outside-toplevel
        except ImportError as error:
            return MissingDependencyError("azure-core", error)
        status = getattr(exc, "status_code", None)
        details: dict[str, object] = {"status_code": status} if status else {}
        error_code = getattr(getattr(exc, "error", None), "code", None)
        if error_code:
            details["error_code"] = error_code
        if isinstance(exc, core.ClientAuthenticationError) and status in (None, 401):
            return AzureError(f"Azure refused the credentials of {self.principal} ({self.auth_source_used}) while "
                              f"{description}: {first_line(exc)}; check client_id, secret and tenant", **details)
        if status == 403:
            return AzureError(f"{self.principal} may not act in subscription {self.subscription_id} while {description}: "
                              f"{_missing_permission(permission)} ({first_line(exc)})", **details)
        if status == 429:
            return AzureError(f"Azure kept throttling (429 Too Many Requests) while {description} after "
                              f"{self.retry.total_retries} retries; try again later ({first_line(exc)})", **details)
        if isinstance(exc, (core.ServiceRequestError, core.ServiceResponseError)):
            return AzureError(f"the Azure endpoint {self.resource_manager} did not answer while {description} "
                              f"({first_line(exc)})", **details)
        if isinstance(exc, core.HttpResponseError) and error_code == "MissingSubscriptionRegistration":
            return AzureError(_unregistered_message(first_line(exc), self.subscription_id, description), **details)
        if isinstance(exc, core.HttpResponseError):
            return AzureError(f"Azure answered HTTP {status} while {description}: {first_line(exc)}", **details)
        if isinstance(exc, core.AzureError):
            return AzureError(f"Azure failed while {description}: {first_line(exc)}", **details)
        raise exc

    def _token_error(self, exc: BaseException) -> CmgError:
        """The message of a failed token request (the login endpoint is the one that did not answer)."""
        try:
            from azure.core import exceptions as core  # pylint: disable=import-outside-toplevel
        except ImportError as error:
            return MissingDependencyError("azure-core", error)
        if _caused_by(exc, (core.ServiceRequestError, core.ServiceResponseError, OSError)):
            return AzureError(f"the Azure login endpoint {self.cloud.authority} did not answer ({first_line(exc)})")
        status = self._token_statuses[-1] if self._token_statuses else None
        if isinstance(exc, core.ClientAuthenticationError) and status is not None and not 400 <= status < 500:
            refused = ": refused, a redirect is never followed for a credential" if 300 <= status < 400 else ""
            return AzureError(f"the Azure login endpoint {self.cloud.authority} answered HTTP {status} without a token "
                              f"({first_line(exc)}){refused}", status_code=status)
        if isinstance(exc, core.ClientAuthenticationError):
            return AzureError(f"Azure refused the credentials of {self.principal} ({self.auth_source_used}) at "
                              f"{self.cloud.authority}: {first_line(exc)}; check client_id, secret and tenant",
                              status_code=401)
        status = getattr(exc, "status_code", None)
        return AzureError(f"getting an Azure token from {self.cloud.authority} for {self.principal} failed"
                          + (f" (HTTP {status})" if status else "") + f": {first_line(exc)}")


def _unregistered_message(text: str, subscription: str | None, description: str) -> str:
    """A 409 ``MissingSubscriptionRegistration``: the collection never registers a provider as a side effect of a read."""
    found = re.search(r"namespace '([A-Za-z0-9.]{1,100})'", text)
    namespace = found.group(1) if found else "the resource provider named in Azure's answer"
    return (f"the resource provider {namespace} is not registered in subscription {subscription} (found while "
            f"{description}): register it once with 'az provider register --namespace {namespace}', or run "
            "cmg_azure_readiness with register: true (role: cmg_register_providers: true)")


def naming_cloud(value: str | None, environ: Mapping[str, str] | None = None, region: str | None = None) -> str:
    """The name of the cloud whose naming rules a credential-free path follows (``_clouds.resolve``):
    ``value`` (the ``cloud_environment`` option), else ``AZURE_CLOUD_ENVIRONMENT``, else AzureCloud. A
    Resource Manager URL, whose metadata is not fetched here, follows the cloud of ``region``."""
    try:
        return resolve(value, environ, region=region).name
    except CmgError as exc:
        raise AzureError(str(exc)) from None

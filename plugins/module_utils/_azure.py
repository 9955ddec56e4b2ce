# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection reaches Azure: options, credentials, clouds, SDK clients, retries and errors.

Shared by every Azure-facing module. Plain Python without Ansible; third-party packages
(``azure-identity``, ``azure-mgmt-*``, ``requests``) are imported lazily, and a missing one raises
:class:`MissingDependencyError` naming the pip package.

Options and environment variables
    :data:`AZURE_ARGUMENT_SPEC` is the Ansible argument spec of the Azure options. It has no
    ``fallback``: the environment is resolved here, in :func:`resolve_settings`, so that
    ``auth_source: auto`` can tell an explicit option from an environment variable and report the
    source it used. The variables are those AWX's "Microsoft Azure Resource Manager" credential
    injects (:data:`ENVIRONMENT`); an explicit option always wins over its variable.

``auth_source``
    ``auto`` (default) takes the first that applies: a complete service principal in the options
    (``client_id``, ``secret``, ``tenant``), a ``profile`` option, a complete service principal
    from options and environment, ``AZURE_PROFILE`` or a ``[default]`` section of
    ``~/.azure/credentials``, the Azure CLI (``az`` on ``PATH``), a managed identity.
    ``env``, ``credential_file``, ``cli`` and ``msi`` force one source. :attr:`AzureSession.auth_source_used`
    says which one was taken (``options``, ``env``, ``credential_file``, ``cli`` or ``msi``),
    never the secret.

``cloud_environment``
    ``AzureCloud`` (default), ``AzureUSGovernment``, or the https URL of a Resource Manager endpoint
    (Azure Stack Hub, private clouds): its ``/metadata/endpoints`` document, in the 2015
    single-object form or the 2019+ list form, gives the login endpoint and the token audience; MSAL
    instance discovery is turned off for that authority. Names follow AzureCloud's domains unless
    the metadata names the cloud ``AzureUSGovernment``. TLS is always verified; a corporate CA bundle
    comes in through ``REQUESTS_CA_BUNDLE``.

Sessions
    :meth:`AzureSession.from_options` builds one session per task: one credential (so one token
    request per run, even with concurrent calls), cached SDK clients (:meth:`AzureSession.client`),
    and :meth:`AzureSession.call` which turns azure-core exceptions into one-line
    :class:`AzureError` messages. 429 and 5xx answers are retried by azure-core's ``RetryPolicy``,
    which honours ``Retry-After``; each ``Retry-After`` is capped and the whole retry time is bounded
    (:class:`RetrySettings`). :func:`run_concurrently` runs independent calls in threads;
    :meth:`AzureSession.warm_up` requests the token while the SDK clients are built.

Plain Resource Manager requests
    :meth:`AzureSession.arm_json` sends one REST request through azure-mgmt-core's
    ``ARMPipelineClient`` and returns its parsed JSON, without importing an ``azure-mgmt-*`` SDK
    package (importing ``azure.mgmt.network`` alone takes about 0.3 s). It is the pipeline the SDK
    clients build (:func:`_arm_policies`): the session's one credential behind
    ``ARMChallengeAuthenticationPolicy``, the same bounded ``RetryPolicy``, timeouts and TLS
    handling, and errors raised the way the SDK raises them, so :meth:`AzureSession.translate`
    turns them into the same messages.
"""

from __future__ import annotations

import configparser
import copy
import json
import os
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, TypeVar
from urllib.parse import urlsplit

from ._errors import AzureError, CmgError, MissingDependencyError

T = TypeVar("T")

AUTH_SOURCES = ("auto", "env", "cli", "credential_file", "msi")

#: Environment variables of each option, first one wins (AWX's Azure Resource Manager credential).
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "auth_source": ("ANSIBLE_AZURE_AUTH_SOURCE",),
    "subscription_id": ("AZURE_SUBSCRIPTION_ID",),
    "client_id": ("AZURE_CLIENT_ID",),
    "secret": ("AZURE_SECRET", "AZURE_CLIENT_SECRET"),
    "tenant": ("AZURE_TENANT", "AZURE_TENANT_ID"),
    "profile": ("AZURE_PROFILE",),
    "cloud_environment": ("AZURE_CLOUD_ENVIRONMENT",),
}

#: Ansible argument spec of the Azure options (documented by the ``configmgr.cmg.azure`` doc fragment).
AZURE_ARGUMENT_SPEC: dict[str, dict[str, Any]] = {
    "auth_source": {"type": "str", "choices": list(AUTH_SOURCES)},
    "subscription_id": {"type": "str"},
    "client_id": {"type": "str"},
    "secret": {"type": "str", "no_log": True},
    "tenant": {"type": "str"},
    "profile": {"type": "str"},
    "cloud_environment": {"type": "str"},
}

_SERVICE_PRINCIPAL = ("client_id", "secret", "tenant")
_METADATA_API_VERSION = "2015-01-01"


def azure_argument_spec() -> dict[str, dict[str, Any]]:
    """A fresh copy of :data:`AZURE_ARGUMENT_SPEC` for a module to extend."""
    return copy.deepcopy(AZURE_ARGUMENT_SPEC)


# --------------------------------------------------------------------------------------------
# Settings: which credential, which subscription, which cloud (pure, no network)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AzureSettings:
    """The resolved Azure options of one task (``secret`` is never shown by ``repr``)."""

    auth_source: str  # options | env | credential_file | cli | msi
    subscription_id: str | None
    client_id: str | None = None
    secret: str | None = field(default=None, repr=False)
    tenant: str | None = None
    cloud_environment: str = "AzureCloud"
    profile: str | None = None


def _option(options: Mapping[str, Any], name: str) -> str | None:
    value = options.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return str(value).strip()


def _env(environ: Mapping[str, str], name: str) -> str | None:
    for variable in ENVIRONMENT[name]:
        value = environ.get(variable, "").strip()
        if value:
            return value
    return None


def _credentials_path(environ: Mapping[str, str]) -> str:
    home = environ.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, ".azure", "credentials")


def read_credentials_file(path: str, profile: str) -> dict[str, str]:
    """The ``profile`` section of an azure.azcollection style credentials file (INI)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
        items = parser.items(profile) if parser.has_section(profile) else None
    except OSError as exc:
        raise AzureError(f"cannot read the Azure credentials file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AzureError(f"the Azure credentials file {path} is not UTF-8 text") from None
    except configparser.Error as exc:
        raise AzureError(f"the Azure credentials file {path} is not a valid INI file: {str(exc).splitlines()[0]}") from None
    if items is None:
        sections = ", ".join(parser.sections()) or "none"
        raise AzureError(f"the Azure credentials file {path} has no [{profile}] section (sections: {sections})")
    return {key: value.strip() for key, value in items if value.strip()}


def _cli_subscription(environ: Mapping[str, str]) -> str | None:
    """The default subscription of the Azure CLI (``azureProfile.json``), if any."""
    config_dir = environ.get("AZURE_CONFIG_DIR") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".azure")
    try:
        with open(os.path.join(config_dir, "azureProfile.json"), encoding="utf-8-sig") as handle:
            subscriptions = json.load(handle).get("subscriptions", [])
    except (OSError, ValueError, AttributeError):
        return None
    for subscription in subscriptions:
        if isinstance(subscription, dict) and subscription.get("isDefault"):
            return subscription.get("id")
    return None


def _service_principal(options: Mapping[str, Any], environ: Mapping[str, str], use_env: bool) -> tuple[dict[str, str | None], bool]:
    """The service principal fields from options (and env), and whether every field came from options."""
    values: dict[str, str | None] = {}
    from_options = True
    for name in _SERVICE_PRINCIPAL:
        values[name] = _option(options, name)
        if values[name] is None and use_env:
            values[name] = _env(environ, name)
            from_options = False
    return values, from_options


def _missing_principal(values: Mapping[str, str | None]) -> list[str]:
    return [name for name in _SERVICE_PRINCIPAL if not values.get(name)]


def _subscription(options: Mapping[str, Any], environ: Mapping[str, str], *more: str | None) -> str | None:
    candidates = [_option(options, "subscription_id"), _env(environ, "subscription_id"), *more]
    return next((value for value in candidates if value), None)


def _cloud(options: Mapping[str, Any], environ: Mapping[str, str], file_value: str | None = None) -> str:
    return _option(options, "cloud_environment") or _env(environ, "cloud_environment") or file_value or "AzureCloud"


def _from_principal(source: str, options: Mapping[str, Any], environ: Mapping[str, str]) -> AzureSettings:
    values, from_options = _service_principal(options, environ, use_env=True)
    missing = _missing_principal(values)
    if missing:
        variables = ", ".join(ENVIRONMENT[name][0] for name in missing)
        raise AzureError(f"the service principal is incomplete: set {', '.join(missing)} (options or {variables})")
    return AzureSettings(
        auth_source="options" if source == "auto" and from_options else "env",
        subscription_id=_subscription(options, environ),
        client_id=values["client_id"], secret=values["secret"], tenant=values["tenant"],
        cloud_environment=_cloud(options, environ),
    )


def _from_file(options: Mapping[str, Any], environ: Mapping[str, str]) -> AzureSettings:
    profile = _option(options, "profile") or _env(environ, "profile") or "default"
    section = read_credentials_file(_credentials_path(environ), profile)
    missing = _missing_principal(section)
    if missing:
        raise AzureError(f"the [{profile}] section of {_credentials_path(environ)} lacks {', '.join(missing)}: "
                         "a service principal needs client_id, secret and tenant")
    return AzureSettings(
        auth_source="credential_file",
        subscription_id=_subscription(options, environ, section.get("subscription_id")),
        client_id=section["client_id"], secret=section["secret"], tenant=section["tenant"],
        cloud_environment=_cloud(options, environ, section.get("cloud_environment")),
        profile=profile,
    )


def _from_cli(options: Mapping[str, Any], environ: Mapping[str, str]) -> AzureSettings:
    return AzureSettings(
        auth_source="cli",
        subscription_id=_subscription(options, environ, _cli_subscription(environ)),
        tenant=_option(options, "tenant"),
        cloud_environment=_cloud(options, environ),
    )


def _from_msi(options: Mapping[str, Any], environ: Mapping[str, str]) -> AzureSettings:
    return AzureSettings(
        auth_source="msi",
        subscription_id=_subscription(options, environ),
        client_id=_option(options, "client_id") or _env(environ, "client_id"),
        cloud_environment=_cloud(options, environ),
    )


def _auto_source(options: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The source ``auto`` picks, in the documented order."""
    explicit = _service_principal(options, environ, use_env=False)[0]
    if not _missing_principal(explicit):
        return "auto"
    if _option(options, "profile"):
        return "credential_file"
    merged = _service_principal(options, environ, use_env=True)[0]
    if not _missing_principal(merged):
        return "auto"
    if _env(environ, "profile") or _has_default_profile(environ):
        return "credential_file"
    if shutil.which("az", path=environ.get("PATH", os.defpath)):
        return "cli"
    return "msi"


def _has_default_profile(environ: Mapping[str, str]) -> bool:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(_credentials_path(environ), encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError):
        return False
    return parser.has_section("default")


def resolve_settings(options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> AzureSettings:
    """Choose the credential source and collect subscription, principal and cloud (no network)."""
    environ = os.environ if environ is None else environ
    requested = (_option(options, "auth_source") or _env(environ, "auth_source") or "auto").lower()
    if requested not in AUTH_SOURCES:
        raise AzureError(f"unknown auth_source {requested!r}: use one of {', '.join(AUTH_SOURCES)}")
    source = _auto_source(options, environ) if requested == "auto" else requested
    builders: dict[str, Callable[[], AzureSettings]] = {
        "auto": lambda: _from_principal("auto", options, environ),
        "env": lambda: _from_principal("env", options, environ),
        "credential_file": lambda: _from_file(options, environ),
        "cli": lambda: _from_cli(options, environ),
        "msi": lambda: _from_msi(options, environ),
    }
    settings = builders[source]()
    if not settings.subscription_id:
        raise AzureError(f"no Azure subscription given (auth_source {settings.auth_source}): set subscription_id or "
                         "AZURE_SUBSCRIPTION_ID")
    return settings


# --------------------------------------------------------------------------------------------
# Clouds
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AzureCloud:
    """The endpoints of one Azure cloud."""

    name: str  # AzureCloud or AzureUSGovernment: the naming rules to apply
    resource_manager: str  # base URL of every client, with a trailing slash
    authority: str  # login endpoint (authority host) of the token service
    audience: str  # token audience; the credential scope is <audience>/.default
    custom: bool = False  # read from a metadata URL: MSAL instance discovery is off

    @property
    def scope(self) -> str:
        """The OAuth scope of Resource Manager tokens."""
        return self.audience.rstrip("/") + "/.default"


KNOWN_CLOUDS: dict[str, AzureCloud] = {
    "AzureCloud": AzureCloud("AzureCloud", "https://management.azure.com/", "https://login.microsoftonline.com/",
                             "https://management.azure.com/"),
    "AzureUSGovernment": AzureCloud("AzureUSGovernment", "https://management.usgovcloudapi.net/",
                                    "https://login.microsoftonline.us/", "https://management.usgovcloudapi.net/"),
}

_CLOUD_ALIASES = {"azurecloud": "AzureCloud", "azurepubliccloud": "AzureCloud", "public": "AzureCloud",
                  "azureusgovernment": "AzureUSGovernment", "azureusgovernmentcloud": "AzureUSGovernment",
                  "usgovernment": "AzureUSGovernment"}


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _same_endpoint(left: str, right: str) -> bool:
    return _with_slash(left.strip()).lower() == _with_slash(right.strip()).lower()


def parse_metadata(url: str, document: Any) -> AzureCloud:
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
    audiences = [value for value in authentication.get("audiences") or [] if isinstance(value, str) and value]
    if not audiences:
        raise AzureError(f"the cloud metadata of {url} has no authentication.audiences")
    name = "AzureUSGovernment" if str(entry.get("name", "")).lower() in ("azureusgovernment", "azureusgovernmentcloud") else "AzureCloud"
    return AzureCloud(name, _with_slash(url), _with_slash(authentication["loginEndpoint"]), audiences[0], custom=True)


def fetch_metadata(url: str, timeout: float = 30.0) -> Any:
    """GET ``<url>/metadata/endpoints`` over verified TLS (``REQUESTS_CA_BUNDLE`` honoured) and parse the JSON."""
    try:
        import requests  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise MissingDependencyError("requests", exc) from None
    endpoint = f"{url.rstrip('/')}/metadata/endpoints?api-version={_METADATA_API_VERSION}"
    try:
        response = requests.get(endpoint, timeout=timeout)
    except requests.Timeout:
        raise AzureError(f"the cloud metadata endpoint {endpoint} did not answer within {timeout:g} s") from None
    except requests.RequestException as exc:
        raise AzureError(f"cannot read the cloud metadata endpoint {endpoint}: {_first_line(exc)}") from None
    if response.status_code != 200:
        raise AzureError(f"the cloud metadata endpoint {endpoint} answered HTTP {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise AzureError(f"the cloud metadata endpoint {endpoint} did not return JSON") from None


def resolve_cloud(value: str | None, fetch: Callable[[str], Any] = fetch_metadata) -> AzureCloud:
    """The cloud for a ``cloud_environment`` value: a known name or an https Resource Manager URL."""
    text = (value or "AzureCloud").strip()
    if "://" in text:
        if urlsplit(text).scheme.lower() != "https" or not urlsplit(text).hostname:
            raise AzureError(f"the cloud_environment URL {text!r} must be an https URL of a Resource Manager endpoint")
        return parse_metadata(text, fetch(text))
    key = _CLOUD_ALIASES.get(text.replace(" ", "").replace("_", "").replace("-", "").lower())
    if key is None:
        raise AzureError(f"unknown cloud_environment {text!r}: use AzureCloud, AzureUSGovernment or the https URL of a "
                         "Resource Manager endpoint")
    return KNOWN_CLOUDS[key]


# --------------------------------------------------------------------------------------------
# Credential, retries, clients, errors
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetrySettings:
    """Bounds of azure-core's retry policy: 429/5xx retried, Retry-After honoured up to ``max_retry_after``."""

    total_retries: int = 4
    backoff_factor: float = 0.8
    backoff_max: float = 10.0
    max_retry_after: float = 30.0  # a longer Retry-After is shortened to this
    total_seconds: float = 120.0  # the whole operation, retries and sleeps included
    connection_timeout: float = 10.0
    read_timeout: float = 60.0


#: SDK client of each kind: (pip package, module, class).
#: :data:`PIPELINE` names the plain ARM pipeline of :meth:`AzureSession.arm_json` instead (for ``warm_up``).
CLIENTS: dict[str, tuple[str, str, str]] = {
    "network": ("azure-mgmt-network", "azure.mgmt.network", "NetworkManagementClient"),
    "storage": ("azure-mgmt-storage", "azure.mgmt.storage", "StorageManagementClient"),
    "keyvault": ("azure-mgmt-keyvault", "azure.mgmt.keyvault", "KeyVaultManagementClient"),
    "dns": ("azure-mgmt-dns", "azure.mgmt.dns", "DnsManagementClient"),
    "compute": ("azure-mgmt-compute", "azure.mgmt.compute", "ComputeManagementClient"),
}

#: The kind of the plain ARM pipeline (:meth:`AzureSession.arm_json`) in the session's client cache.
PIPELINE = "arm"

#: Answers the SDK maps to a dedicated azure-core exception (as every generated operation does).
_ERROR_MAP = {401: "ClientAuthenticationError", 404: "ResourceNotFoundError", 409: "ResourceExistsError",
              304: "ResourceNotModifiedError"}


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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


def _retry_policy(settings: RetrySettings) -> Any:
    """An azure-core RetryPolicy that caps each Retry-After and bounds the total time."""
    from azure.core.pipeline.policies import RetryPolicy  # pylint: disable=import-outside-toplevel

    class BoundedRetryPolicy(RetryPolicy):  # type: ignore[misc,valid-type]
        """RetryPolicy whose Retry-After sleeps are capped (the service's value is used up to the cap)."""

        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(value, settings.max_retry_after)

    return BoundedRetryPolicy(retry_total=settings.total_retries, retry_backoff_factor=settings.backoff_factor,
                              retry_backoff_max=settings.backoff_max, timeout=settings.total_seconds)


def _arm_policies(credential: Any, scope: str, retry_policy: Any) -> list[Any]:
    """The policies a generated azure-mgmt client puts in its pipeline, in its order (azure-mgmt-core)."""
    from azure.core.pipeline import policies  # pylint: disable=import-outside-toplevel
    from azure.mgmt.core.policies import (  # pylint: disable=import-outside-toplevel
        ARMAutoResourceProviderRegistrationPolicy, ARMChallengeAuthenticationPolicy, ARMHttpLoggingPolicy,
    )

    return [
        policies.RequestIdPolicy(), policies.HeadersPolicy(), policies.UserAgentPolicy(sdk_moniker="configmgr-cmg"),
        policies.ProxyPolicy(), policies.ContentDecodePolicy(), ARMAutoResourceProviderRegistrationPolicy(),
        policies.RedirectPolicy(), retry_policy, ARMChallengeAuthenticationPolicy(credential, scope),
        policies.CustomHookPolicy(), policies.NetworkTraceLoggingPolicy(), policies.DistributedTracingPolicy(),
        policies.SensitiveHeaderCleanupPolicy(), ARMHttpLoggingPolicy(),
    ]


def _raise_for_arm_status(response: Any) -> None:
    """Raise for a non-2xx answer as the SDK does: a mapped exception or HttpResponseError in ARM's error format."""
    if 200 <= response.status_code < 300:
        return
    from azure.core import exceptions as core  # pylint: disable=import-outside-toplevel
    from azure.mgmt.core.exceptions import ARMErrorFormat  # pylint: disable=import-outside-toplevel

    core.map_error(response.status_code, response, {status: getattr(core, name) for status, name in _ERROR_MAP.items()})
    raise core.HttpResponseError(response=response, error_format=ARMErrorFormat)


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
                    token = self._credential.get_token(*scopes, **kwargs)
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

    @classmethod
    def from_options(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                     retry: RetrySettings | None = None) -> "AzureSession":
        """Resolve the options (see the module docstring) and the cloud; no token is requested yet."""
        settings = resolve_settings(options, os.environ if environ is None else environ)
        return cls(settings, resolve_cloud(settings.cloud_environment), retry)

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
        common: dict[str, Any] = {"authority": self.cloud.authority}
        if self.cloud.custom:
            common["disable_instance_discovery"] = True
        if settings.auth_source == "cli":
            return identity.AzureCliCredential(tenant_id=settings.tenant) if settings.tenant else identity.AzureCliCredential()
        if settings.auth_source == "msi":
            return identity.ManagedIdentityCredential(client_id=settings.client_id) if settings.client_id \
                else identity.ManagedIdentityCredential()
        return identity.ClientSecretCredential(settings.tenant, settings.client_id, settings.secret, **common)

    def client(self, kind: str) -> Any:
        """The cached SDK management client of ``kind`` (network, storage, keyvault, dns, compute)."""
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
        """Retries and timeouts, the same for SDK clients and the plain pipeline."""
        return {"retry_policy": _retry_policy(self.retry), "connection_timeout": self.retry.connection_timeout,
                "read_timeout": self.retry.read_timeout}

    def _make_client(self, kind: str, credential: _SharedCredential) -> Any:
        package, module_name, class_name = CLIENTS[kind]
        try:
            module = __import__(module_name, fromlist=[class_name])
        except ImportError as exc:
            raise MissingDependencyError(package, exc) from None
        return getattr(module, class_name)(credential, self.subscription_id, base_url=self.resource_manager,
                                           credential_scopes=[self.cloud.scope], **self._transport_options())

    def _make_pipeline(self, credential: _SharedCredential) -> Any:
        try:
            from azure.mgmt.core import ARMPipelineClient  # pylint: disable=import-outside-toplevel
        except ImportError as exc:
            raise MissingDependencyError("azure-mgmt-core", exc) from None
        options = self._transport_options()
        return ARMPipelineClient(base_url=self.resource_manager,
                                 policies=_arm_policies(credential, self.cloud.scope, options.pop("retry_policy")),
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
                 query: Mapping[str, str] | None = None, body: Any = None) -> Any:
        """Send one Resource Manager request through :meth:`pipeline` and return its parsed JSON (None if empty).

        ``path`` starts at the Resource Manager root (``/subscriptions/...``); ``api_version`` and
        ``query`` become the query string, ``body`` the JSON body. Errors are those of :meth:`call`.
        """
        def send() -> Any:
            from azure.core.rest import HttpRequest  # pylint: disable=import-outside-toplevel

            params = {**(query or {}), "api-version": api_version}
            request = HttpRequest(method, self.resource_manager.rstrip("/") + path, params=params, json=body,
                                  headers={"Accept": "application/json"})
            response = self.pipeline().send_request(request)
            _raise_for_arm_status(response)
            try:
                return response.json() if response.content else None
            except ValueError:
                raise AzureError(f"Azure answered HTTP {response.status_code} without valid JSON while {description}") from None

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
                              f"{description}: {_first_line(exc)}; check client_id, secret and tenant", **details)
        if status == 403:
            return AzureError(f"{self.principal} may not act in subscription {self.subscription_id} while {description}: "
                              f"{_missing_permission(permission)} ({_first_line(exc)})", **details)
        if status == 429:
            return AzureError(f"Azure kept throttling (429 Too Many Requests) while {description} after "
                              f"{self.retry.total_retries} retries; try again later ({_first_line(exc)})", **details)
        if isinstance(exc, (core.ServiceRequestError, core.ServiceResponseError)):
            return AzureError(f"the Azure endpoint {self.resource_manager} did not answer while {description} "
                              f"({_first_line(exc)})", **details)
        if isinstance(exc, core.HttpResponseError):
            return AzureError(f"Azure answered HTTP {status} while {description}: {_first_line(exc)}", **details)
        if isinstance(exc, core.AzureError):
            return AzureError(f"Azure failed while {description}: {_first_line(exc)}", **details)
        raise exc

    def _token_error(self, exc: BaseException) -> CmgError:
        """The message of a failed token request (the login endpoint is the one that did not answer)."""
        try:
            from azure.core import exceptions as core  # pylint: disable=import-outside-toplevel
        except ImportError as error:
            return MissingDependencyError("azure-core", error)
        if _caused_by(exc, (core.ServiceRequestError, core.ServiceResponseError, OSError)):
            return AzureError(f"the Azure login endpoint {self.cloud.authority} did not answer ({_first_line(exc)})")
        if isinstance(exc, core.ClientAuthenticationError):
            return AzureError(f"Azure refused the credentials of {self.principal} ({self.auth_source_used}) at "
                              f"{self.cloud.authority}: {_first_line(exc)}; check client_id, secret and tenant",
                              status_code=401)
        return AzureError(f"getting an Azure token for {self.principal} failed: {_first_line(exc)}")


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


def naming_cloud(value: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The cloud whose naming rules a credential-free path follows: ``value`` (the ``cloud_environment``
    option), else ``AZURE_CLOUD_ENVIRONMENT``, else None (AzureCloud). A Resource Manager URL names by
    AzureCloud's domains: its metadata, which alone could say AzureUSGovernment, is not fetched here."""
    environ = os.environ if environ is None else environ
    candidates = [str(value or "")] + [environ.get(variable, "") for variable in ENVIRONMENT["cloud_environment"]]
    cloud = next((candidate.strip() for candidate in candidates if candidate.strip()), None)
    return "AzureCloud" if cloud and "://" in cloud else cloud

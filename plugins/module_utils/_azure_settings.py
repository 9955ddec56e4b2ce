# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure settings: which credential, which subscription, which cloud (pure, no network).

:data:`AZURE_ARGUMENT_SPEC` is the Ansible argument spec of the Azure options. It has no
``fallback``: the environment is resolved here, in :func:`resolve_settings`, so that
``auth_source: auto`` can tell an explicit option from an environment variable and report the
source it used. The variables are those AWX's "Microsoft Azure Resource Manager" credential
injects (:data:`ENVIRONMENT`); an explicit option always wins over its variable.

``auth_source: auto`` (default) takes the first that applies: a complete service principal in the
options (``client_id``, ``secret``, ``tenant``), a ``profile`` option, a complete service principal
from options and environment, ``AZURE_PROFILE`` or a ``[default]`` section of
``~/.azure/credentials``, the Azure CLI (``az`` on ``PATH``), a managed identity. ``env``,
``credential_file``, ``cli`` and ``msi`` force one source.

The credentials file is read up to :data:`MAX_CREDENTIALS_BYTES`; anything that is not a regular
file is refused.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ._errors import AzureError

#: The largest credentials file or ``azureProfile.json`` read (real ones are well under 10 KB).
MAX_CREDENTIALS_BYTES = 256 * 1024

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


def azure_argument_spec() -> dict[str, dict[str, Any]]:
    """A fresh copy of :data:`AZURE_ARGUMENT_SPEC` for a module to extend."""
    return copy.deepcopy(AZURE_ARGUMENT_SPEC)


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


def read_text_file(path: str, what: str, limit: int = MAX_CREDENTIALS_BYTES, encoding: str = "utf-8") -> str:
    """The text of a small regular file; one-line AzureErrors for anything else (FIFOs, devices, huge files)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise AzureError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise AzureError(f"the {what} {path} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise AzureError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise AzureError(f"the {what} {path} is larger than {limit} bytes")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise AzureError(f"the {what} {path} is not UTF-8 text") from None


def _parse_credentials(path: str) -> Any:
    import configparser  # pylint: disable=import-outside-toplevel  # only with a credentials file

    parser = configparser.ConfigParser(interpolation=None)
    text = read_text_file(path, "Azure credentials file")
    try:
        parser.read_string(text, source=path)
    except configparser.Error as exc:
        raise AzureError(f"the Azure credentials file {path} is not a valid INI file: {str(exc).splitlines()[0]}") from None
    return parser


def read_credentials_file(path: str, profile: str) -> dict[str, str]:
    """The ``profile`` section of an azure.azcollection style credentials file (INI)."""
    parser = _parse_credentials(path)
    if not parser.has_section(profile):
        sections = ", ".join(parser.sections()) or "none"
        raise AzureError(f"the Azure credentials file {path} has no [{profile}] section (sections: {sections})")
    return {key: value.strip() for key, value in parser.items(profile) if value.strip()}


def _cli_subscription(environ: Mapping[str, str]) -> str | None:
    """The default subscription of the Azure CLI (``azureProfile.json``), if any."""
    config_dir = environ.get("AZURE_CONFIG_DIR") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".azure")
    try:
        text = read_text_file(os.path.join(config_dir, "azureProfile.json"), "Azure CLI profile", encoding="utf-8-sig")
        subscriptions = json.loads(text).get("subscriptions", [])
    except (AzureError, ValueError, AttributeError):
        return None
    if not isinstance(subscriptions, list):
        return None
    for subscription in subscriptions:
        if isinstance(subscription, dict) and subscription.get("isDefault"):
            value = subscription.get("id")
            return value if isinstance(value, str) and value.strip() else None
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
    if not os.path.exists(_credentials_path(environ)):
        return False
    try:
        return _parse_credentials(_credentials_path(environ)).has_section("default")
    except AzureError:
        return False


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

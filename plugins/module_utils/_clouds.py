# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Azure clouds a CMG can live in: one record per cloud, and the one function that picks it.

A :class:`Cloud` holds everything the collection knows about one cloud: its name and the other
spellings users give it, the Resource Manager, login and token audience endpoints, the DNS domains
CMG names live in (scale sets, classic cloud services), the Key Vault and storage suffixes, and its
regions (``_regions.py``). Adding a cloud is one record here plus its regions there.

:func:`resolve` is the one place that decides which cloud applies: the ``cloud_environment``
option, else ``AZURE_CLOUD_ENVIRONMENT``, else ``AzureCloud``. A value may also be the https URL of
a Resource Manager endpoint (Azure Stack Hub, private clouds, the test sandbox); then its
``/metadata/endpoints`` document gives the login endpoint and token audience, and its ``name``
(only ``AzureUSGovernment`` is recognised) picks the naming domains. Without the metadata (paths
that need no credential) a URL cloud follows the cloud of the region when the region belongs to
exactly one cloud (``usgovvirginia``: AzureUSGovernment), else AzureCloud. Only the public and US
Government clouds host a CMG; a URL cloud is tested against the local sandbox only.

Pure data and pure functions, no network and no Ansible (the metadata fetch lives in ``_azure_metadata``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Mapping
from urllib.parse import urlsplit

from ._errors import NamingError
from ._regions import REGIONS

#: The environment variable that names the cloud (AWX's Azure Resource Manager credential).
CLOUD_VARIABLE = "AZURE_CLOUD_ENVIRONMENT"

#: The api-version of each Resource Manager call, as Microsoft's official examples give them
#: (``../shared/azure-rest-examples/SOURCES.md``); ``metadata`` is the ``/metadata/endpoints`` form
#: whose 2015 single-object and 2019+ list shapes ``_azure_metadata.parse_metadata`` both read.
API_VERSIONS: dict[str, str] = {
    "metadata": "2015-01-01",
    "dns_label": "2025-07-01",  # Microsoft.Network CheckDnsNameAvailability
    "key_vault": "2025-05-01",  # Microsoft.KeyVault Vaults_CheckNameAvailability
    "storage_account": "2025-08-01",  # Microsoft.Storage StorageAccounts_CheckNameAvailability
    "dns": "2018-05-01",  # Microsoft.Network dnsZones, record sets (newest stable)
    "providers": "2025-04-01",  # Microsoft.Resources Providers_Get
    "providers_register": "2021-04-01",  # Microsoft.Resources Providers_Register
    "compute": "2025-11-01",  # Microsoft.Compute usages, virtualMachineScaleSets
}


@dataclass(frozen=True)
class Cloud:
    """One Azure cloud: endpoints, naming domains, suffixes and regions."""

    name: str  # AzureCloud or AzureUSGovernment: the naming rules to apply
    resource_manager: str = ""  # base URL of every client, with a trailing slash
    authority: str = ""  # login endpoint (authority host) of the token service
    audience: str = ""  # token audience; the credential scope is <audience>/.default
    custom: bool = False  # endpoints read from a metadata URL: MSAL instance discovery is off
    aliases: tuple[str, ...] = ()  # other spellings, compared without case, blanks, '_' or '-'
    cloudapp_domain: str = ""  # virtual machine scale set deployments: <prefix>.<region>.<domain>
    classic_domain: str = ""  # classic cloud services: <prefix>.<domain>
    vault_suffix: str = ""  # Key Vault: <name>.<suffix>
    storage_suffix: str = ""  # storage endpoints: <name>.<service>.<suffix>
    regions: Mapping[str, tuple[str, str]] = field(default_factory=dict, repr=False, compare=False)

    @property
    def scope(self) -> str:
        """The OAuth scope of Resource Manager tokens."""
        return self.audience.rstrip("/") + "/.default"

    @property
    def blob_suffix(self) -> str:
        """The storage account blob endpoint suffix: ``blob.core.windows.net``."""
        return f"blob.{self.storage_suffix}"


CLOUDS: dict[str, Cloud] = {
    "AzureCloud": Cloud(
        "AzureCloud", "https://management.azure.com/", "https://login.microsoftonline.com/",
        "https://management.azure.com/", aliases=("AzurePublicCloud", "Public"),
        cloudapp_domain="cloudapp.azure.com", classic_domain="cloudapp.net",
        vault_suffix="vault.azure.net", storage_suffix="core.windows.net", regions=REGIONS["AzureCloud"]),
    "AzureUSGovernment": Cloud(
        "AzureUSGovernment", "https://management.usgovcloudapi.net/", "https://login.microsoftonline.us/",
        "https://management.usgovcloudapi.net/", aliases=("AzureUSGovernmentCloud", "USGovernment"),
        cloudapp_domain="cloudapp.usgovcloudapi.net", classic_domain="usgovcloudapp.net",
        vault_suffix="vault.usgovcloudapi.net", storage_suffix="core.usgovcloudapi.net",
        regions=REGIONS["AzureUSGovernment"]),
}

DEFAULT = "AzureCloud"

_SEPARATORS = re.compile(r"[\s_-]")


def _key(text: str) -> str:
    return _SEPARATORS.sub("", text).lower()


_BY_SPELLING: dict[str, str] = {_key(spelling): cloud.name for cloud in CLOUDS.values()
                                for spelling in (cloud.name, *cloud.aliases)}


def lookup(name: str) -> Cloud | None:
    """The record of a cloud name or alias (``azure_public_cloud``, ``us-government``...), else None."""
    return CLOUDS.get(_BY_SPELLING.get(_key(name), ""))


def is_url(value: object) -> bool:
    """True when ``value`` is written as a URL (a Resource Manager endpoint) rather than a cloud name."""
    return isinstance(value, str) and "://" in value


def check_https_url(url: str, what: str) -> str:
    """``url`` when it is an https URL with a host; a NamingError naming ``what`` otherwise."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # pylint: disable=pointless-statement  # raises ValueError on a bad port
    except ValueError as exc:
        raise NamingError(f"the {what} {url!r} is not a valid URL ({exc})") from None
    if parts.scheme.lower() != "https" or not parts.hostname:
        raise NamingError(f"the {what} {url!r} must be an https URL: credentials are never sent over plain http")
    return url.strip()


def requested(value: object = None, environ: Mapping[str, str] | None = None) -> str:
    """The cloud as given: the option, else ``AZURE_CLOUD_ENVIRONMENT``, else ``AzureCloud`` (stripped)."""
    environ = os.environ if environ is None else environ
    if value is not None and not isinstance(value, str):
        raise NamingError(f"the cloud environment must be a string, not {type(value).__name__}")
    for candidate in (value, environ.get(CLOUD_VARIABLE)):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return DEFAULT


def region_cloud(region: object) -> str | None:
    """The one cloud ``region`` (any spelling) belongs to, else None."""
    if not isinstance(region, str):
        return None
    key = re.sub(r"^\s*\([^)]*\)\s*", "", region)
    key = _key(key)
    owners = [cloud.name for cloud in CLOUDS.values() if key in cloud.regions]
    return owners[0] if len(owners) == 1 else None


def named(value: object = None) -> Cloud:
    """The record of a cloud name (``AzureCloud`` when empty); a NamingError for an unknown one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return CLOUDS[DEFAULT]
    if not isinstance(value, str):
        raise NamingError(f"the cloud environment must be a string, not {type(value).__name__} ({value!r})")
    cloud = lookup(value)
    if cloud is None:
        raise NamingError(f"unknown cloud environment {value!r}: use one of {', '.join(CLOUDS)}")
    return cloud


def resolve(value: object = None, environ: Mapping[str, str] | None = None, region: object = None,
            metadata_name: str | None = None) -> Cloud:
    """The cloud that applies, from the option, the environment and, for a URL, its metadata or the region.

    ``metadata_name`` is the ``name`` of the metadata document of a URL cloud when it was read.
    For a URL the record keeps the named cloud's domains and regions, with ``resource_manager``
    set to the URL and ``custom`` true; its login endpoint and audience come from the metadata
    (:func:`with_endpoints`).
    """
    text = requested(value, environ)
    if not is_url(text):
        cloud = lookup(text)
        if cloud is None:
            raise NamingError(f"unknown cloud environment {text!r}: use one of {', '.join(CLOUDS)} or the https URL "
                              "of a Resource Manager endpoint")
        return cloud
    url = check_https_url(text, "cloud_environment URL")
    if metadata_name is not None:
        name = "AzureUSGovernment" if lookup(metadata_name) is CLOUDS["AzureUSGovernment"] else DEFAULT
    else:
        name = region_cloud(region) or DEFAULT
    return replace(CLOUDS[name], resource_manager=url if url.endswith("/") else url + "/", authority="", audience="",
                   custom=True)


def with_endpoints(cloud: Cloud, authority: str, audience: str) -> Cloud:
    """``cloud`` with the login endpoint and token audience a metadata document gave."""
    return replace(cloud, authority=authority if authority.endswith("/") else authority + "/", audience=audience)

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The naming rules of a Configuration Manager cloud management gateway (CMG).

Source: Microsoft Learn, "CMG server authentication certificate" and "CMG FAQ":
the service name is the certificate's common name (``GraniteFalls.contoso.com``); its first label
is the prefix (``GraniteFalls``); the deployment name is ``<prefix>.<region>.cloudapp.azure.com``
for a virtual machine scale set (``.cloudapp.usgovcloudapi.net`` in Azure US Government) or
``<prefix>.cloudapp.net`` for a classic (legacy) cloud service (``.usgovcloudapp.net``). The prefix
must be free as a public IP DNS label in the region, as a Key Vault name and, for a
content-enabled CMG, as a storage account name (3-24 lower-case letters and digits: ``granitefalls``).
A DNS CNAME from the service name to the deployment name is needed unless the service name already
is a name in the cloud's Azure domain.

Pure functions, no Ansible, no network. DNS is case-insensitive: derived DNS names are emitted in
lower case without a trailing dot; the service name keeps the case it was given (the certificate
CN, which a renewal must repeat exactly).
"""

from __future__ import annotations

import re

from ._clouds import CLOUDS, Cloud, named
from ._errors import NamingError
from ._hostnames import HOST_LABEL as _LABEL, normalize_fqdn, require_text as _require_text

METHODS = ("vmss", "classic")
SEVERITIES = ("error", "warning", "info")


#: The record of one cloud (``_clouds.Cloud``): ``name``, ``cloudapp_domain``, ``classic_domain``,
#: ``vault_suffix``, ``blob_suffix``, ``regions``...
CloudNames = Cloud

_DNS_LABEL_RULE = re.compile(r"[a-z][a-z0-9-]{1,61}[a-z0-9]")
_KEY_VAULT_RULE = re.compile(r"[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]")
_STORAGE_RULE = re.compile(r"[a-z0-9]{3,24}")
_SEPARATORS = re.compile(r"[\s_-]")
_GEOGRAPHY = re.compile(r"^\s*\([^)]*\)\s*")


def cloud_names(cloud: str | None = None) -> Cloud:
    """The record of ``cloud`` (``AzureCloud`` when empty); accepts the usual spellings (``_clouds.named``)."""
    return named(cloud)


def _region_key(region: str) -> str:
    """``(US) West US`` -> ``westus``: geography dropped, separators removed, lower case."""
    return _SEPARATORS.sub("", _GEOGRAPHY.sub("", region)).lower()


def _close_regions(region: str, regions: dict[str, tuple[str, str]]) -> list[str]:
    """Canonical names of the regions whose name or display name is close to ``region``."""
    by_spelling = {name: name for name in regions}
    by_spelling.update({display.lower(): name for name, (display, _geo) in regions.items()})
    import difflib  # pylint: disable=import-outside-toplevel  # only for a wrong region

    suggestions: list[str] = []
    for spelling in (_region_key(region), region.strip().lower()):
        for match in difflib.get_close_matches(spelling, list(by_spelling), n=5, cutoff=0.6):
            if by_spelling[match] not in suggestions:
                suggestions.append(by_spelling[match])
    return suggestions


def normalize_region(region: str, cloud: str | None = None) -> str:
    """Return the canonical region name: ``West US``, ``WestUS`` and ``(US) West US`` give ``westus``.

    An unknown region raises a NamingError that lists the close matches (``details['suggestions']``).
    """
    names = cloud_names(cloud)
    regions = names.regions
    if region is None or (isinstance(region, str) and not region.strip()):
        raise NamingError("a region is required, for example 'westus'")
    key = _region_key(_require_text(region, "region"))
    if key in regions:
        return key
    other = [known.name for known in CLOUDS.values() if key in known.regions]
    if other:
        raise NamingError(f"{region!r} is a region of {other[0]}, not of {names.name}: set the cloud environment to {other[0]}",
                          suggestions=[])
    suggestions = _close_regions(region, regions)
    hint = f"did you mean {', '.join(suggestions)}?" if suggestions else f"known regions: {', '.join(sorted(regions))}"
    raise NamingError(f"unknown {names.name} region {region!r}; {hint}", suggestions=suggestions)


def service_name(name: str, prefix: str | None = None) -> str:
    """The CMG service name for a certificate name (CN or SAN) and an optional chosen prefix.

    ``GraniteFalls`` + ``*.contoso.com`` gives ``GraniteFalls.contoso.com``. A wildcard needs a
    prefix; with a plain name the prefix, when given, must be the first label.
    """
    value = normalize_fqdn(name, allow_wildcard=True)
    chosen = _check_prefix_label(prefix) if prefix is not None and prefix != "" else None
    if value.startswith("*."):
        if chosen is None:
            raise NamingError(
                f"{value!r} is a wildcard name: choose the CMG prefix (for example prefix=GraniteFalls gives "
                f"GraniteFalls{value[1:]})"
            )
        return normalize_fqdn(f"{chosen}{value[1:]}")
    if chosen is not None and chosen.lower() != value.split(".")[0].lower():
        raise NamingError(
            f"the prefix {prefix!r} does not match the service name {value!r}: a prefix is only chosen for a "
            "wildcard certificate"
        )
    return value


def _check_prefix_label(prefix: object) -> str:
    """The stripped prefix when it is one valid DNS label; a NamingError otherwise."""
    text = _require_text(prefix, "prefix").strip()
    if not _LABEL.fullmatch(text):
        raise NamingError(
            f"the prefix {prefix!r} is not a valid DNS label: use 1-63 letters, digits or hyphens, "
            "not starting or ending with a hyphen"
        )
    return text


def service_prefix(name: str, prefix: str | None = None) -> str:
    """The prefix (first label, case kept) of a service name: ``GraniteFalls.contoso.com`` gives ``GraniteFalls``."""
    return service_name(name, prefix).split(".")[0]


def _check_method(method: object) -> str:
    """The deployment method in lower case (``vmss`` or ``classic``); a NamingError otherwise."""
    value = method.strip().lower() if isinstance(method, str) else method
    if value not in METHODS:
        raise NamingError(f"unknown deployment method {method!r}: use 'vmss' or 'classic'")
    return str(value)


def deployment_region(name: str, cloud: str | None = None) -> str | None:
    """The region of a service name that is itself a scale set deployment name, else None.

    ``GraniteFalls.WestUS.CloudApp.Azure.Com`` gives ``westus``.
    """
    names = cloud_names(cloud)
    labels = normalize_fqdn(name).lower().split(".")
    suffix = names.cloudapp_domain.split(".")
    if len(labels) == len(suffix) + 2 and labels[2:] == suffix and labels[1] in names.regions:
        return labels[1]
    return None


def deployment_name(name: str, region: str | None = None, cloud: str | None = None, method: str = "vmss",
                    prefix: str | None = None) -> str:
    """The Azure deployment name of the CMG for a service name, lower case, no trailing dot.

    Without a region, a scale set deployment takes the region of a service name that already is a
    deployment name (``GraniteFalls.WestUS.CloudApp.Azure.Com``).
    """
    service = service_name(name, prefix)
    label = service.split(".")[0].lower()
    names = cloud_names(cloud)
    if _check_method(method) == "classic":
        return f"{label}.{names.classic_domain}"
    if not region:
        region = deployment_region(service, names.name)
        if region is None:
            raise NamingError("a region is required to derive a virtual machine scale set deployment name, for example 'westus'")
    return f"{label}.{normalize_region(region, names.name)}.{names.cloudapp_domain}"


def azure_domain(name: str, cloud: str | None = None) -> str | None:
    """The cloudapp domain of ``cloud`` that ``name`` lies under (``cloudapp.azure.com``...), else None."""
    lowered = name.lower().rstrip(".")
    names = cloud_names(cloud)
    for domain in (names.cloudapp_domain, names.classic_domain):
        if lowered.endswith("." + domain):
            return domain
    return None


def _foreign_cloud(name: str, cloud: str) -> str | None:
    """The other cloud whose Azure domain ``name`` lies under, else None."""
    for other in CLOUDS:
        if other != cloud and azure_domain(name, other) is not None:
            return other
    return None


def cname_required(name: str, cloud: str | None = None) -> bool:
    """True unless the service name already is a name under the cloud's cloudapp domains."""
    return azure_domain(normalize_fqdn(name), cloud) is None


def relative_record_name(name: str, zone: str) -> str:
    """The record name of ``name`` relative to ``zone`` (``@`` at the apex); fails when outside the zone."""
    fqdn = normalize_fqdn(name).lower()
    origin = normalize_fqdn(zone, what="DNS zone").lower()
    if fqdn == origin:
        return "@"
    if not fqdn.endswith("." + origin):
        raise NamingError(f"the DNS zone {origin!r} does not contain the service name {fqdn!r}")
    return fqdn[: -len(origin) - 1]


def _problem(resource: str, severity: str, message: str) -> dict[str, str]:
    return {"resource": resource, "severity": severity, "message": message}


def name_problems(prefix: str, content_enabled: bool = False) -> list[dict[str, str]]:
    """Check a prefix against the DNS label, Key Vault and storage account rules.

    Each problem names the resource it concerns. A prefix that breaks the storage account rule is
    an error for a content-enabled CMG and a warning otherwise (it matters only if content is
    enabled later).
    """
    problems = []
    label = _require_text(prefix, "prefix").lower()
    if not _DNS_LABEL_RULE.fullmatch(label):
        problems.append(_problem(
            "dns_label", "error",
            f"the prefix {prefix!r} is not a valid public IP DNS label: it must be 3-63 characters, start with a "
            "letter, end with a letter or digit, and hold only letters, digits and hyphens",
        ))
    if not _KEY_VAULT_RULE.fullmatch(prefix) or "--" in prefix:
        problems.append(_problem(
            "key_vault", "error",
            f"the prefix {prefix!r} is not a valid Key Vault name: it must be 3-24 characters, start with a letter, "
            "end with a letter or digit, hold only letters, digits and hyphens, and have no '--'; choose a shorter "
            "or simpler prefix",
        ))
    if not _STORAGE_RULE.fullmatch(label):
        problems.append(_problem(
            "storage_account", "error" if content_enabled else "warning",
            f"the prefix {prefix!r} is not a valid storage account name ({label!r}): it must be 3-24 lower-case "
            "letters and digits, no hyphen; "
            + ("a content-enabled CMG needs one: choose a prefix without hyphens of at most 24 characters"
               if content_enabled else "this matters only if you enable content on the CMG later"),
        ))
    return problems


def _service_name_problems(service: str, deployment: str | None, cloud: CloudNames, method: str) -> list[dict[str, str]]:
    """Problems of a service name that lies in an Azure domain (or of a deprecated method)."""
    problems = []
    domain = azure_domain(service, cloud.name)
    foreign = _foreign_cloud(service, cloud.name)
    if foreign is not None:
        problems.append(_problem(
            "service_name", "error",
            f"the service name {service!r} is in the Azure domain of {foreign}, not of {cloud.name}: set the cloud "
            f"environment to {foreign} or use a service name in your own domain",
        ))
    elif method == "vmss" and domain == cloud.classic_domain:
        problems.append(_problem(
            "service_name", "error",
            f"the service name {service!r} is a classic cloud service name ({domain}): a virtual machine scale set "
            "CMG needs a certificate for a name in your own domain or for the regional deployment name",
        ))
    elif domain is not None and deployment is not None and service.lower() != deployment:
        problems.append(_problem(
            "service_name", "error",
            f"the service name {service!r} is in Azure's domain {domain} but the deployment name is "
            f"{deployment!r}: use a certificate for {deployment!r} or a service name in your own domain",
        ))
    if method == "classic":
        problems.append(_problem(
            "deployment", "warning",
            "the classic cloud service deployment is deprecated: deploy the CMG as a virtual machine scale set",
        ))
    return problems


def _zone_names(service: str, dns_zone: str | None) -> tuple[str | None, str | None, list[dict[str, str]]]:
    """``(zone, record_name, problems)`` of the service name in ``dns_zone`` (all None/empty without a zone)."""
    if not dns_zone:
        return None, None, []
    zone = normalize_fqdn(dns_zone, what="DNS zone").lower()
    record_name = relative_record_name(service, zone)
    problems = []
    if record_name == "@":
        problems.append(_problem(
            "dns_record", "error",
            f"the service name {service!r} is the apex of zone {zone!r}: a CNAME cannot stand at a zone apex",
        ))
    return zone, record_name, problems


def derive_names(name: str, region: str | None = None, cloud: str | None = None, method: str = "vmss",
                 content_enabled: bool = False, dns_zone: str | None = None,
                 prefix: str | None = None) -> dict[str, object]:
    """Every CMG name for a service name, with the problems found; raises NamingError on bad input.

    Returns ``service_name``, ``prefix``, ``dns_label``, ``deployment_name`` (None without a
    region for a scale set, unless the service name is itself a deployment name),
    ``key_vault_name``, ``storage_account_name``, ``cname_required``, ``record_name`` and ``zone``
    (None without a zone), ``region``, ``cloud_environment``, ``method`` and ``problems`` (a list
    of ``{resource, severity, message}``).
    """
    names = cloud_names(cloud)
    method = _check_method(method)
    service = service_name(name, prefix)
    first = service.split(".")[0]
    label = first.lower()
    canonical_region = normalize_region(region, names.name) if region else deployment_region(service, names.name)
    deployment = None
    if method == "classic" or canonical_region:
        deployment = deployment_name(service, canonical_region, names.name, method)
    zone, record_name, zone_problems = _zone_names(service, dns_zone)
    problems = name_problems(first, bool(content_enabled))
    problems += _service_name_problems(service, deployment, names, method)
    problems += zone_problems
    return {
        "service_name": service,
        "prefix": first,
        "dns_label": label,
        "deployment_name": deployment,
        "key_vault_name": label,
        "storage_account_name": label,
        "cname_required": cname_required(service, names.name),
        "record_name": record_name,
        "zone": zone,
        "region": canonical_region,
        "cloud_environment": names.name,
        "method": method,
        "problems": problems,
    }


def has_errors(problems: list[dict[str, str]]) -> bool:
    """True when any problem is an error."""
    return any(problem["severity"] == "error" for problem in problems)

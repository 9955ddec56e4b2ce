# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Are the Azure names of a CMG free? The logic of ``configmgr.cmg.cmg_name_available``.

Three names must be free: the public IP DNS label in the region (``<label>.<region>.cloudapp...``),
the Key Vault name and, for a content-enabled CMG, the storage account name.

``method=arm`` asks Resource Manager's three name checks, concurrently, as plain REST requests
(:meth:`AzureSession.arm_json`, api-versions in :data:`API_VERSIONS`): an all-free run imports no
``azure-mgmt-*`` SDK package. A taken name may be ours: only then is the SDK client of that service
built, the subscription's public IPs, key vaults or storage accounts are searched, and a match is
``owned`` (usable, so a re-run after the CMG exists stays green); a Key Vault name held by a
soft-deleted vault of this subscription is ``soft_deleted``, with the purge and recover commands.
With ``resource_group`` (the CMG's group) only a resource in that group is ``owned``; the same name
held by this subscription in another group is ``taken``, with that resource's id. Without it any
group counts, and the result's ``ownership_scope`` says so.

``method=dns`` needs no credential: it resolves the names with dnspython and calls a name free on
NXDOMAIN. It is a heuristic (a soft-deleted vault or a label without a record looks free).

Invalid names are reported as ``invalid`` without asking Azure.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Sequence

from ._azure import PIPELINE, AzureSession, naming_cloud, run_concurrently
from ._clouds import API_VERSIONS as CLOUD_API_VERSIONS
from ._dns_resolve import resolve_host, split_host_port
from ._errors import AzureError, DnsError, MissingDependencyError, NamingError
from ._naming import CloudNames, cloud_names, derive_names

CHECKS = ("dns_label", "key_vault", "storage_account")
#: Every status a check can end with (docs/troubleshooting.md has a row for each).
STATUSES = ("available", "owned", "soft_deleted", "taken", "invalid")
USABLE = ("available", "owned")

#: The Azure RBAC action each ARM check needs (docs/permissions.md).
PERMISSIONS = {
    "dns_label": "Microsoft.Network/locations/checkDnsNameAvailability/read",
    "key_vault": "Microsoft.KeyVault/checkNameAvailability/read",
    "storage_account": "Microsoft.Storage/checknameavailability/read",
}

HEURISTIC_NOTE = ("method=dns is a heuristic: a name that does not resolve (NXDOMAIN) is called available, but Azure may "
                  "still hold it (a soft-deleted Key Vault, a label or account without a DNS record); use method=arm "
                  "for an authoritative answer")

#: The api-version of each name check (``_clouds.API_VERSIONS``, from ../shared/azure-rest-examples/SOURCES.md).
API_VERSIONS = {check: CLOUD_API_VERSIONS[check] for check in CHECKS}

#: The resource provider and resource type of each checkNameAvailability POST.
_PROVIDER = {"key_vault": ("Microsoft.KeyVault", "Microsoft.KeyVault/vaults"),
             "storage_account": ("Microsoft.Storage", "Microsoft.Storage/storageAccounts")}

_WHAT = {"dns_label": "public IP DNS label", "key_vault": "Key Vault name", "storage_account": "storage account name"}

_GROUP_IN_ID = re.compile(r"/resourceGroups/([^/]+)/", re.IGNORECASE)

#: ``ownership_scope`` of the result without ``resource_group``.
SUBSCRIPTION_SCOPE_NOTE = ("subscription: no resource_group given, so a resource of the name in any resource group of "
                           "this subscription counts as owned; set resource_group to the CMG's group to require it there")


@dataclass
class NameStatus:
    """The verdict on one name."""

    name: str
    status: str  # one of STATUSES
    reason: str | None = None
    message: str | None = None
    resource_id: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown name status {self.status!r}: use one of {', '.join(STATUSES)}")

    def as_dict(self) -> dict[str, Any]:
        """The ``resources.<check>`` entry of the result."""
        return asdict(self)


# ------------------------------------------------------------------------------------------------
# Names and checks
# ------------------------------------------------------------------------------------------------

def default_checks(content_enabled: bool) -> list[str]:
    """dns_label and key_vault, plus storage_account for a content-enabled CMG."""
    return list(CHECKS) if content_enabled else ["dns_label", "key_vault"]


_PLACEHOLDER_DOMAIN = "cmg.invalid"


def plan(service_name: str | None, region: str | None, content_enabled: bool, checks: Sequence[str] | None,
         cloud: str, prefix: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The derived names and the checks to run (raises NamingError on bad input).

    With only a ``prefix``, the names are derived from it and ``service_name`` is None.
    """
    if service_name:
        names = derive_names(service_name, region=region, cloud=cloud, content_enabled=content_enabled, prefix=prefix)
    elif prefix:
        # The prefix is checked as one DNS label (``a.b`` is refused, never cut to ``a``).
        names = derive_names(f"*.{_PLACEHOLDER_DOMAIN}", region=region, cloud=cloud, content_enabled=content_enabled,
                             prefix=prefix)
        names.update(service_name=None, cname_required=None)
    else:
        raise NamingError("give the CMG service_name (the certificate name) or its prefix")
    wanted = list(dict.fromkeys(checks)) if checks else default_checks(content_enabled)
    unknown = [check for check in wanted if check not in CHECKS]
    if unknown:
        raise NamingError(f"unknown check(s) {', '.join(unknown)}: use {', '.join(CHECKS)}")
    if "dns_label" in wanted and not names["region"]:
        raise NamingError("a region is required for the dns_label check, for example region=westus")
    return names, wanted


def _check_name(names: Mapping[str, Any], check: str) -> str:
    return str({"dns_label": names["dns_label"], "key_vault": names["key_vault_name"],
                "storage_account": names["storage_account_name"]}[check])


def invalid_names(names: Mapping[str, Any], checks: Sequence[str]) -> dict[str, NameStatus]:
    """Checks whose name breaks Azure's naming rule, found without asking Azure."""
    invalid = {}
    for problem in names["problems"]:
        check = problem["resource"]
        if check in checks and check not in invalid:
            invalid[check] = NameStatus(_check_name(names, check), "invalid", "AccountNameInvalid", problem["message"])
    return invalid


# ------------------------------------------------------------------------------------------------
# ARM method
# ------------------------------------------------------------------------------------------------

def _find(items: Any, match: Callable[[Any], bool]) -> Any:
    return next((item for item in items if match(item)), None)


def _label_of(address: Any) -> str:
    settings = getattr(address, "dns_settings", None)
    return str(getattr(settings, "domain_name_label", "") or "").lower()


def resource_group_of(resource_id: object) -> str | None:
    """The resource group in a resource id, else None."""
    found = _GROUP_IN_ID.search(str(resource_id or ""))
    return found.group(1) if found else None


def _owned(name: str, mine: Any, owned_message: str, what: str, group: str | None) -> NameStatus:
    """``owned`` when ``mine`` is in ``group`` (or no group is given), else ``taken`` with its id."""
    held = resource_group_of(mine.id)
    if group is None:
        return NameStatus(name, "owned", "AlreadyExists", owned_message, mine.id)
    if held is not None and held.lower() == group.lower():
        return NameStatus(name, "owned", "AlreadyExists", f"{owned_message}, in the CMG's resource group {held}", mine.id)
    return NameStatus(name, "taken", "AlreadyExists",
                      f"{what} is held by this subscription's resource {mine.id}, outside the CMG's resource group "
                      f"{group}: choose another prefix, or set resource_group to {held} if that is this CMG's group",
                      mine.id)


def _answer(session: AzureSession, description: str, method: str, path: str, check: str, **request: Any) -> dict[str, Any]:
    """The JSON object a name check answers (through the plain ARM pipeline, no SDK package)."""
    result = session.arm_json(method, f"/subscriptions/{session.subscription_id}/providers/{path}", API_VERSIONS[check],
                              description=description, permission=PERMISSIONS[check], read_only=True, **request)
    if not isinstance(result, dict):
        raise AzureError(f"Azure answered {type(result).__name__} instead of a JSON object while {description}")
    return result


def check_dns_label(session: AzureSession, label: str, region: str, domain: str, group: str | None = None) -> NameStatus:
    """Public IP DNS label in the region: free, ours, or someone else's."""
    fqdn = f"{label}.{region}.{domain}"
    result = _answer(session, f"checking the DNS label {label!r} in {region}", "GET",
                     f"Microsoft.Network/locations/{region}/CheckDnsNameAvailability", "dns_label",
                     query={"domainNameLabel": label})
    if result.get("available") is True:
        return NameStatus(label, "available", message=f"{fqdn} is free")
    network = session.client("network")
    addresses = session.call("listing the public IP addresses of the subscription", lambda: list(network.public_ip_addresses.list_all()),
                             permission="Microsoft.Network/publicIPAddresses/read")
    mine = _find(addresses, lambda ip: _label_of(ip) == label and str(ip.location).lower() == region)
    if mine is not None:
        return _owned(label, mine, f"{fqdn} belongs to this subscription's public IP {mine.name}", fqdn, group)
    return NameStatus(label, "taken", "AlreadyExists",
                      f"{fqdn} is in use by another subscription or tenant: choose another prefix or region")


def _name_check(session: AzureSession, check: str, name: str) -> NameStatus | None:
    """available or invalid from the check's checkNameAvailability answer; None when the name is taken."""
    provider, resource_type = _PROVIDER[check]
    result = _answer(session, f"checking the {_WHAT[check]} {name!r}", "POST", f"{provider}/checkNameAvailability", check,
                     body={"name": name, "type": resource_type})
    if result.get("nameAvailable") is True:
        return NameStatus(name, "available", message=f"the {_WHAT[check]} {name!r} is free")
    if result.get("reason") == "AccountNameInvalid":
        return NameStatus(name, "invalid", "AccountNameInvalid", result.get("message"))
    return None


def _soft_deleted(name: str, deleted: Any) -> NameStatus:
    properties = deleted.properties
    location = properties.location
    commands = f"az keyvault recover --name {name} --location {location}"
    if properties.purge_protection_enabled:
        action = (f"purge protection is on, so recover it ({commands}) or wait until it is purged on "
                  f"{properties.scheduled_purge_date}")
    else:
        action = f"purge it (az keyvault purge --name {name} --location {location}) or recover it ({commands})"
    return NameStatus(name, "soft_deleted", "AlreadyExists",
                      f"the Key Vault name {name!r} is held by a soft-deleted vault of this subscription (deleted "
                      f"{properties.deletion_date}): {action}", deleted.id)


def check_key_vault(session: AzureSession, name: str, group: str | None = None) -> NameStatus:
    """Key Vault name: free, invalid, ours, soft-deleted by us, or someone else's."""
    status = _name_check(session, "key_vault", name)
    if status is not None:
        return status
    vaults = session.client("keyvault").vaults
    lowered = name.lower()
    mine = _find(session.call("listing the key vaults of the subscription", lambda: list(vaults.list_by_subscription()),
                              permission="Microsoft.KeyVault/vaults/read"),
                 lambda vault: str(vault.name).lower() == lowered)
    if mine is not None:
        return _owned(name, mine, f"the Key Vault {mine.name} belongs to this subscription", f"the Key Vault name {name!r}",
                      group)
    deleted = _find(session.call("listing the deleted key vaults of the subscription", lambda: list(vaults.list_deleted()),
                                 permission="Microsoft.KeyVault/locations/deletedVaults/read"),
                    lambda vault: str(vault.name).lower() == lowered)
    if deleted is not None:
        return _soft_deleted(name, deleted)
    return NameStatus(name, "taken", "AlreadyExists",
                      f"the Key Vault name {name!r} is in use by another subscription or tenant (Key Vault names are "
                      "global): choose another prefix")


def check_storage_account(session: AzureSession, name: str, group: str | None = None) -> NameStatus:
    """Storage account name: free, invalid, ours, or someone else's."""
    status = _name_check(session, "storage_account", name)
    if status is not None:
        return status
    accounts = session.client("storage").storage_accounts
    mine = _find(session.call("listing the storage accounts of the subscription", lambda: list(accounts.list()),
                              permission="Microsoft.Storage/storageAccounts/read"),
                 lambda account: str(account.name).lower() == name.lower())
    if mine is not None:
        return _owned(name, mine, f"the storage account {mine.name} belongs to this subscription",
                      f"the storage account name {name!r}", group)
    return NameStatus(name, "taken", "AlreadyExists",
                      f"the storage account name {name!r} is in use by another subscription or tenant (storage account "
                      "names are global): choose another prefix")


def check_arm(session: AzureSession, names: Mapping[str, Any], checks: Sequence[str],
              group: str | None = None) -> dict[str, NameStatus]:
    """Run the ARM checks concurrently, after requesting the token while the plain ARM pipeline is built.

    With ``group``, only a resource in that resource group is ``owned``."""
    domain = cloud_names(session.cloud_name).cloudapp_domain
    if checks:
        session.warm_up(PIPELINE)
    calls: dict[str, Callable[[], NameStatus]] = {
        "dns_label": lambda: check_dns_label(session, str(names["dns_label"]), str(names["region"]), domain, group),
        "key_vault": lambda: check_key_vault(session, _check_name(names, "key_vault"), group),
        "storage_account": lambda: check_storage_account(session, _check_name(names, "storage_account"), group),
    }
    return run_concurrently({check: calls[check] for check in checks})


# ------------------------------------------------------------------------------------------------
# DNS method
# ------------------------------------------------------------------------------------------------

def dns_names(names: Mapping[str, Any], cloud: CloudNames) -> dict[str, str]:
    """The host name each check resolves under the DNS method."""
    return {
        "dns_label": f"{names['dns_label']}.{names['region']}.{cloud.cloudapp_domain}",
        "key_vault": f"{_check_name(names, 'key_vault').lower()}.{cloud.vault_suffix}",
        "storage_account": f"{_check_name(names, 'storage_account')}.{cloud.blob_suffix}",
    }


def parse_nameserver(value: str) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address as (IP address, port)."""
    host, port = split_host_port(value)
    addresses = resolve_host(host) if host else []
    if not addresses:
        raise DnsError(f"cannot resolve the name server {value!r} to an address: use host or host:port")
    return str(ipaddress.ip_address(addresses[0])), port


def _resolver(nameservers: Sequence[str] | None, timeout: float) -> Any:
    try:
        import dns.nameserver  # pylint: disable=import-outside-toplevel
        import dns.resolver  # pylint: disable=import-outside-toplevel
    except ImportError as exc:
        raise MissingDependencyError("dnspython", exc) from None
    if nameservers:
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [dns.nameserver.Do53Nameserver(*parse_nameserver(server)) for server in nameservers]
    else:
        resolver = dns.resolver.Resolver()
    resolver.lifetime = timeout
    resolver.timeout = timeout
    return resolver


def probe(resolver: Any, check: str, name: str, host: str) -> NameStatus:
    """Resolve ``host``: NXDOMAIN means available (heuristic), any other answer taken."""
    import dns.exception  # pylint: disable=import-outside-toplevel
    import dns.resolver  # pylint: disable=import-outside-toplevel

    try:
        resolver.resolve(host, "A", search=False)
    except dns.resolver.NXDOMAIN:
        return NameStatus(name, "available", "NXDOMAIN", f"{host} does not resolve (heuristic: probably free)")
    except dns.resolver.NoAnswer:
        pass
    except (dns.resolver.NoNameservers, dns.exception.Timeout) as exc:
        raise DnsError(f"the DNS probe of {host} for the {_WHAT[check]} failed: {str(exc).splitlines()[0]}") from None
    return NameStatus(name, "taken", "Resolves", f"{host} resolves, so the {_WHAT[check]} {name!r} is in use "
                                                 "(heuristic: method=arm tells whether it is yours)")


def check_dns(names: Mapping[str, Any], checks: Sequence[str], cloud: str, nameservers: Sequence[str] | None = None,
              timeout: float = 5.0) -> dict[str, NameStatus]:
    """Run the DNS probes concurrently."""
    resolver = _resolver(nameservers, timeout)
    hosts = dns_names(names, cloud_names(cloud))
    return run_concurrently({check: (lambda check=check: probe(resolver, check, _check_name(names, check), hosts[check]))
                             for check in checks})


# ------------------------------------------------------------------------------------------------
# The module's work
# ------------------------------------------------------------------------------------------------

def _summary(statuses: Mapping[str, NameStatus], available: bool) -> str:
    if available:
        return "every CMG name is available or already this subscription's"
    blocked = [f"{check} {status.name!r} is {status.status.replace('_', '-')}" for check, status in statuses.items()
               if status.status not in USABLE]
    return "CMG names not available: " + "; ".join(blocked)


def name_availability(options: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                      session_factory: Callable[..., AzureSession] = AzureSession.from_options) -> dict[str, Any]:
    """The ``cmg_name_available`` result for the module's options (read-only, ``changed`` is false)."""
    method = options.get("method") or "arm"
    # The names are checked before anything is fetched: a bad region or prefix fails without a request.
    cloud = naming_cloud(options.get("cloud_environment"), environ, options.get("region"))
    args = (options.get("service_name"), options.get("region"), bool(options.get("content_enabled")),
            options.get("checks"))
    names, checks = plan(*args, cloud, options.get("prefix"))
    session = None
    if method == "arm":
        session = session_factory(options, environ)
        if session.cloud_name != cloud:  # the metadata of a URL cloud named another cloud
            try:
                names, checks = plan(*args, session.cloud_name, options.get("prefix"))
            except BaseException:
                session.close()
                raise
    statuses = invalid_names(names, checks)
    remaining = [check for check in checks if check not in statuses]
    group = str(options.get("resource_group") or "").strip() or None
    if session is not None:
        with session:
            statuses.update(check_arm(session, names, remaining, group))
    else:
        statuses.update(check_dns(names, remaining, names["cloud_environment"], options.get("nameservers")))
    ordered = {check: statuses[check] for check in checks}
    available = all(status.status in USABLE for status in ordered.values())
    result: dict[str, Any] = {
        "changed": False,
        "available": available,
        "resources": {check: status.as_dict() for check, status in ordered.items()},
        "names": names,
        "method": method,
        "auth_source_used": session.auth_source_used if session is not None else None,
        "resource_group": group,
        "ownership_scope": None if session is None else f"resource group {group}" if group else SUBSCRIPTION_SCOPE_NOTE,
        "msg": _summary(ordered, available),
    }
    if method == "dns":
        result["heuristic"] = True
        result["note"] = HEURISTIC_NOTE
    return result

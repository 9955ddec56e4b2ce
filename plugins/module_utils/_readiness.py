# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can this subscription deploy the CMG? The logic of ``configmgr.cmg.cmg_azure_readiness``.

Reads through one :class:`AzureSession` (one token, the shared retries), concurrently: the four
providers together; the usages and the scale set as soon as Microsoft.Compute is known to be
``Registered`` (before that, Azure answers them 409 ``MissingSubscriptionRegistration``, and an SDK
pipeline's ``ARMAutoResourceProviderRegistrationPolicy`` would register the provider silently: a write
nobody asked for). Every read is a plain ARM request (:meth:`AzureSession.arm_json`): no SDK package.

Resource providers
    ``GET /subscriptions/{id}/providers/{namespace}`` for each of :data:`REQUIRED_PROVIDERS`, as plain
    ARM requests (:meth:`AzureSession.arm_json`). ``Registered`` passes, ``Registering`` warns, any
    other state (``NotRegistered``, ``Unregistered``) fails with the ``az provider register`` line.
    With ``register`` the module sends ``POST .../providers/{namespace}/register`` for each
    unregistered one (not in check mode) and reads the provider again until it is ``Registered`` or
    ``register_timeout`` has passed; the sleeps and the clock are injected (:class:`Waiter`).
VM quota
    ``GET /subscriptions/{id}/providers/Microsoft.Compute/locations/{location}/usages`` (Usage_List, every
    ``nextLink`` page, bounded), a plain ARM request like the provider reads: the CMG's scale set needs
    ``instances`` times the size's vCPUs (:data:`VM_SIZES`) within both the remaining regional vCPUs
    (usage ``cores``) and the remaining vCPUs of the size's family. vCPUs an existing CMG scale set of
    the same name already uses in the region count as available to it (a re-run or renewal does not
    need them twice).
Existing deployment
    ``GET .../resourceGroups/{group}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}``
    (VirtualMachineScaleSets_Get, 404: none), a plain ARM request too: a scale set of the
    CMG's name (its DNS label) in the CMG's resource group is reported with its region, size and
    capacity; its names are the CMG's own (``owned``), with the scale set's id as evidence.

Each finding is a check ``{name, status: pass|warn|fail, message, fix}``; the result is ``ready``
when none fails. Nothing but ``register`` writes, and only when asked to.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping
from urllib.parse import quote

from ._azure import PIPELINE, AzureSession, run_concurrently
from ._azure_pipeline import next_link
from ._errors import AzureError, NamingError
from ._naming import normalize_region, service_prefix

#: The resource providers a CMG deployment needs registered (Configuration Manager's CMG docs).
REQUIRED_PROVIDERS = ("Microsoft.Compute", "Microsoft.Network", "Microsoft.Storage", "Microsoft.KeyVault")
COMPUTE = "Microsoft.Compute"

#: Providers_Get and Providers_Register (../shared/azure-rest-examples/SOURCES.md: resources_providers_get.json,
#: stable 2025-04-01; that version defines Providers_Register too, whose 200 answer is a Provider).
PROVIDERS_API_VERSION = "2025-04-01"
#: Usage_List and VirtualMachineScaleSets_Get (SOURCES.md: compute_usage_list.json and
#: compute_virtualmachinescalesets_get.json, stable 2025-11-01).
COMPUTE_API_VERSION = "2025-11-01"

#: The Azure RBAC action of each read, and of the register action (docs/permissions.md).
PERMISSIONS = {
    "providers": "Microsoft.Resources/subscriptions/providers/read",
    "usages": "Microsoft.Compute/locations/usages/read",
    "scale_set": "Microsoft.Compute/virtualMachineScaleSets/read",
}

STATUSES = ("pass", "warn", "fail")
MAX_INSTANCES = 16
REGIONAL_USAGE = "cores"  # "Total Regional vCPUs"
QUOTA_PAGE = "https://learn.microsoft.com/azure/quotas/per-vm-quota-requests"
REGIONAL_QUOTA_PAGE = "https://learn.microsoft.com/azure/quotas/regional-quota-requests"
_MAX_USAGES = 2000  # usage entries read at most (a region has about a hundred)
_MAX_USAGE_PAGES = 20  # Usage_List pages read at most (Azure answers a region in one)


@dataclass(frozen=True)
class VmSize:
    """A CMG VM size: the Azure size, its vCPUs and the usage name of its vCPU family."""

    size: str
    vcpus: int
    family: str


#: The sizes of the CMG wizard.
VM_SIZES = {
    "lab": VmSize("Standard_B2s", 2, "standardBSFamily"),
    "standard": VmSize("Standard_A2_v2", 2, "standardAv2Family"),
    "large": VmSize("Standard_A4_v2", 4, "standardAv2Family"),
}
_BY_AZURE_SIZE = {size.size.lower(): size for size in VM_SIZES.values()}


@dataclass
class Check:
    """One readiness finding, a row of the readiness report."""

    name: str
    status: str  # one of STATUSES
    message: str
    fix: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown check status {self.status!r}: use one of {', '.join(STATUSES)}")


@dataclass
class ProviderAnswer:
    """One provider's row, whether the task registered it (or would), and its state before and after."""

    check: Check
    changed: bool
    before: str
    after: str  # in check mode: as predicted

    def now(self, check_mode: bool) -> str:
        """The state now (in check mode the state before, as nothing was sent)."""
        return self.before if check_mode and self.changed else self.after


@dataclass
class Waiter:
    """How ``register`` waits: ``clock()`` in seconds and ``sleep(seconds)``, both injectable."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    first_delay: float = 2.0
    max_delay: float = 15.0


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------

_RESOURCE_GROUP = re.compile(r"^[-\w.()]{1,90}$")


def check_inputs(options: Mapping[str, Any], cloud: str | None = None) -> tuple[str, str, VmSize, int, str | None]:
    """(CMG name, region, size, instances, resource group) from the options; NamingError on bad input."""
    service, prefix = options.get("service_name"), options.get("prefix")
    if not service and not prefix:
        raise NamingError("give the CMG service_name (the certificate name) or its prefix")
    name = service_prefix(str(service or f"{str(prefix).strip()}.cmg.invalid"), prefix).lower()
    region = normalize_region(options.get("region"), cloud)  # type: ignore[arg-type]
    key = str(options.get("vm_size") or "standard").lower()
    if key not in VM_SIZES:
        raise NamingError(f"unknown vm_size {key!r}: use one of {', '.join(VM_SIZES)}")
    instances = options.get("vm_instances")
    instances = 1 if instances is None else instances
    if not isinstance(instances, int) or isinstance(instances, bool) or not 1 <= instances <= MAX_INSTANCES:
        raise NamingError(f"vm_instances must be 1 to {MAX_INSTANCES} (a CMG scale set), not {instances!r}")
    group = (options.get("resource_group") or "").strip() or None
    if group is not None and (not _RESOURCE_GROUP.match(group) or group.endswith(".")):
        raise NamingError(f"{group!r} is not a valid resource group name (1-90 letters, digits, '-', '_', '.', "
                          "'(' and ')', not ending in '.')")
    return name, region, VM_SIZES[key], instances, group


# ------------------------------------------------------------------------------------------------
# Resource providers
# ------------------------------------------------------------------------------------------------

def _provider_path(session: AzureSession, namespace: str, action: str = "") -> str:
    return f"/subscriptions/{session.subscription_id}/providers/{namespace}{action}"


def provider_state(session: AzureSession, namespace: str) -> str:
    """The provider's ``registrationState`` (``Registered``, ``Registering``, ``NotRegistered``, ...)."""
    description = f"reading the registration of the resource provider {namespace}"
    answer = session.arm_json("GET", _provider_path(session, namespace), PROVIDERS_API_VERSION,
                              description=description, permission=PERMISSIONS["providers"])
    state = answer.get("registrationState") if isinstance(answer, dict) else None
    if not isinstance(state, str) or not state:
        raise AzureError(f"Azure answered without a registrationState while {description}")
    return state


def _register_fix(session: AzureSession, namespace: str) -> str:
    return (f"az provider register --namespace {namespace} --subscription {session.subscription_id}, or set register: true "
            "(role: cmg_register_providers: true)")


def register_provider(session: AzureSession, namespace: str, timeout: float, waiter: Waiter) -> str:
    """Send the register action, then read the state until it is Registered or ``timeout`` has passed."""
    session.arm_json("POST", _provider_path(session, namespace, "/register"), PROVIDERS_API_VERSION,
                     description=f"registering the resource provider {namespace}",
                     permission=f"{namespace}/register/action")
    return wait_registered(session, namespace, timeout, waiter)


def wait_registered(session: AzureSession, namespace: str, timeout: float, waiter: Waiter) -> str:
    """Read the provider until it is Registered (returned) or ``timeout`` seconds have passed (last state)."""
    start, delay = waiter.clock(), waiter.first_delay
    while True:
        state = provider_state(session, namespace)
        waited = waiter.clock() - start
        if state == "Registered" or waited >= timeout:
            return state
        waiter.sleep(min(delay, max(timeout - waited, 0.0)))
        delay = min(delay * 2, waiter.max_delay)


def provider_check(session: AzureSession, namespace: str, register: bool, check_mode: bool, timeout: float,
                   waiter: Waiter) -> ProviderAnswer:
    """One provider's answer; in check mode ``after`` is the predicted state."""
    name = f"provider {namespace}"
    before = state = provider_state(session, namespace)
    if state == "Registered":
        return ProviderAnswer(Check(name, "pass", f"{namespace} is Registered"), False, before, state)
    if register and check_mode and state != "Registering":
        row = Check(name, "warn", f"{namespace} is {state}: it would be registered (check mode)",
                    _register_fix(session, namespace))
        return ProviderAnswer(row, True, before, "Registered")
    changed = False
    if register and state != "Registering":
        state, changed = register_provider(session, namespace, timeout, waiter), True
    elif register:
        state = wait_registered(session, namespace, timeout, waiter)
    if state == "Registered":  # the same message as on a re-run: the report of the next run stays the same
        row = Check(name, "pass", f"{namespace} is Registered")
    elif state == "Registering":
        waited = f"still Registering after {timeout:g} s" if register else "Registering"
        row = Check(name, "warn", f"{namespace} is {waited}: the deployment fails until it is Registered (usually a few "
                                  "minutes)", f"az provider show --namespace {namespace} --query registrationState")
    else:
        row = Check(name, "fail", f"{namespace} is {state} in subscription {session.subscription_id}: a CMG deployment "
                                  "needs it Registered", _register_fix(session, namespace))
    return ProviderAnswer(row, changed, before, state)


# ------------------------------------------------------------------------------------------------
# VM quota and the existing scale set
# ------------------------------------------------------------------------------------------------

def _shown(value: object) -> str:
    """A value from an answer, for a message: its repr, at most 40 characters (an empty body: ``nothing``)."""
    text = "nothing" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _integer(item: Mapping[str, Any], key: str, what: str, description: str) -> int:
    """``item[key]`` when it is an integer (JSON number without fraction), else one line naming what Azure sent."""
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AzureError(f"Azure answered {what} whose {key} is not an integer ({_shown(value)}) while {description}")
    return value


def _usage_page(answer: Any, description: str) -> tuple[list[Any], str | None]:
    """The usages of one Usage_List page and its ``nextLink`` (None on the last page)."""
    if not isinstance(answer, dict):
        raise AzureError(f"Azure answered {_shown(answer)} instead of a usage list object while {description}")
    items, link = answer.get("value"), answer.get("nextLink")
    if not isinstance(items, list):
        raise AzureError(f"Azure answered a usage list without a list in value ({_shown(items)}) while {description}")
    if link is not None and not isinstance(link, str):
        raise AzureError(f"Azure answered a nextLink that is not a URL ({_shown(link)}) while {description}")
    return items, link or None


def read_usages(session: AzureSession, region: str) -> dict[str, dict[str, Any]]:
    """The region's compute usages by name: ``{name: {current, limit, label}}``.

    Usage_List (``GET .../providers/Microsoft.Compute/locations/{location}/usages``) through the plain
    pipeline, page by page along ``nextLink`` (https on the Resource Manager's host only): at most
    :data:`_MAX_USAGES` usages over at most :data:`_MAX_USAGE_PAGES` pages. An answer of another shape
    fails in one line.
    """
    description = f"reading the compute usages of {region}"
    link: str | None = f"/subscriptions/{session.subscription_id}/providers/Microsoft.Compute/locations/{quote(region, safe='')}/usages"
    usages: dict[str, dict[str, Any]] = {}
    count = 0
    for _page in range(_MAX_USAGE_PAGES):
        answer = session.arm_json("GET", str(link), COMPUTE_API_VERSION, description=description,
                                  permission=PERMISSIONS["usages"])
        items, link = _usage_page(answer, description)
        link = next_link(session.resource_manager, link, description) if link is not None else None
        count += len(items)
        if count > _MAX_USAGES:
            raise AzureError(f"Azure listed more than {_MAX_USAGES} compute usages in {region}")
        for usage in items:
            name = usage.get("name") if isinstance(usage, dict) else None
            if not isinstance(name, dict):
                raise AzureError(f"Azure answered a usage without a name object ({_shown(usage)}) while {description}")
            value, label = name.get("value"), name.get("localizedValue")
            if not isinstance(value, str) or not isinstance(label, (str, type(None))):
                raise AzureError(f"Azure answered a usage name that is not text ({_shown(name)}) while {description}")
            what = f"the usage {_shown(value)}"
            current, limit = _integer(usage, "currentValue", what, description), _integer(usage, "limit", what, description)
            if value:
                usages[value.lower()] = {"current": current, "limit": limit, "label": label or value}
        if link is None:
            return usages
    raise AzureError(f"Azure listed the compute usages of {region} over more than {_MAX_USAGE_PAGES} pages (nextLink)")


def _text(item: Mapping[str, Any], key: str, what: str, description: str, required: bool = True) -> str | None:
    """``item[key]`` when it is text (or absent and not ``required``), else one line naming what Azure sent."""
    value = item.get(key)
    if (value is None and not required) or (isinstance(value, str) and (value or not required)):
        return value
    raise AzureError(f"Azure answered {what} whose {key} is not {'non-empty text' if required else 'text'} "
                     f"({_shown(value)}) while {description}")


def read_scale_set(session: AzureSession, group: str, name: str) -> dict[str, Any] | None:
    """The scale set ``name`` in ``group`` (region, size, capacity), or None when there is none (HTTP 404).

    VirtualMachineScaleSets_Get through the plain pipeline; an answer of another shape fails in one line.
    """
    description = f"looking for the scale set {name!r} in resource group {group!r}"
    path = (f"/subscriptions/{session.subscription_id}/resourceGroups/{quote(group, safe='')}/providers/"
            f"Microsoft.Compute/virtualMachineScaleSets/{quote(name, safe='')}")
    try:
        found = session.arm_json("GET", path, COMPUTE_API_VERSION, description=description,
                                 permission=PERMISSIONS["scale_set"])
    except AzureError as exc:
        if exc.details.get("status_code") == 404:  # ResourceNotFound, or ResourceGroupNotFound: no scale set
            return None
        raise
    if not isinstance(found, dict):
        raise AzureError(f"Azure answered {_shown(found)} instead of a scale set object while {description}")
    what = "a scale set"
    sku, properties = found.get("sku"), found.get("properties")
    if not isinstance(sku, (dict, type(None))) or not isinstance(properties, (dict, type(None))):
        raise AzureError(f"Azure answered a scale set whose sku or properties is not an object while {description}")
    sku, properties = sku or {}, properties or {}
    capacity = sku.get("capacity")
    if capacity is not None:
        capacity = _integer(sku, "capacity", "a scale set sku", description)
    return {"name": _text(found, "name", what, description), "id": _text(found, "id", what, description),
            "location": normalize_location(_text(found, "location", what, description)),
            "vm_size": _text(sku, "name", "a scale set sku", description, required=False), "capacity": capacity,
            "provisioning_state": _text(properties, "provisioningState", "a scale set", description, required=False)}


def normalize_location(value: object) -> str:
    """``West US`` -> ``westus`` (how ARM writes a location in a resource id)."""
    return re.sub(r"[\s_-]", "", str(value or "")).lower()


def _in_use_by(existing: Mapping[str, Any] | None, region: str) -> VmSize | None:
    """The size of an existing scale set in ``region`` whose vCPUs count as its own, else None."""
    if not existing or existing.get("location") != region:
        return None
    return _BY_AZURE_SIZE.get(str(existing.get("vm_size") or "").lower())


def quota_checks(usages: Mapping[str, Mapping[str, Any]], region: str, size: VmSize, instances: int,
                 existing: Mapping[str, Any] | None) -> list[Check]:
    """The regional and family vCPU checks for ``instances`` of ``size``."""
    need = instances * size.vcpus
    own = _in_use_by(existing, region)
    own_vcpus = own.vcpus * int(existing.get("capacity") or 0) if own and existing else 0  # type: ignore[union-attr]
    request = f"{instances} x {size.size} ({size.vcpus} vCPUs each) = {need} vCPUs in {region}"
    checks = []
    for key, scope, page, held in ((REGIONAL_USAGE, "regional", REGIONAL_QUOTA_PAGE, own_vcpus),
                                   (size.family, "family", QUOTA_PAGE,
                                    own_vcpus if own and own.family == size.family else 0)):
        name = f"quota {key}"
        usage = usages.get(key.lower())
        if usage is None:
            checks.append(Check(name, "warn", f"Azure lists no {key} usage in {region}: the vCPU quota for {request} "
                                              "is unknown", f"az vm list-usage --location {region}"))
            continue
        held = min(held, usage["current"])
        free = usage["limit"] - usage["current"] + held
        numbers = (f"{usage['label']} ({key}): {usage['current']} of {usage['limit']} in use"
                   + (f", {held} of them by the existing CMG scale set" if held else ""))
        if need <= free:
            checks.append(Check(name, "pass", f"{request} fit: {numbers}"))
        else:
            checks.append(Check(name, "fail", f"{request} do not fit the {scope} quota: {numbers}, {free} free",
                                f"raise the {key} vCPU limit in {region} to {usage['current'] - held + need} or more "
                                f"(quota request: {page}), or choose a smaller vm_size or fewer vm_instances"))
    return checks


def deployment_check(existing: Mapping[str, Any] | None, group: str, name: str, region: str) -> Check:
    """The existing-deployment row: a scale set of the CMG's name in another region is a warning."""
    if existing is None:
        return Check("existing deployment", "pass", f"no scale set {name!r} in resource group {group}: a new deployment")
    found = (f"existing deployment found: scale set {existing['name']} in {existing['location']}, "
             f"{existing['vm_size']} x {existing['capacity']} ({existing['id']})")
    if existing["location"] != region:
        return Check("existing deployment", "warn", f"{found}, not in {region}: a CMG of this name cannot be deployed "
                                                    f"in {region} into resource group {group} beside it",
                     f"use region {existing['location']}, or another resource_group or prefix")
    return Check("existing deployment", "pass", f"{found}; its names are this CMG's own")


# ------------------------------------------------------------------------------------------------
# The module's work
# ------------------------------------------------------------------------------------------------

def not_read_checks(compute_state: str, with_group: bool) -> list[Check]:
    """The quota (and scale set) rows when Microsoft.Compute is not registered, so nothing of it could be read."""
    why = f"not read: Microsoft.Compute is {compute_state}, and Azure answers compute reads only once it is Registered"
    fix = "register Microsoft.Compute (see its row), then run again"
    rows = [Check("quota", "warn", f"the vCPU quota was {why}", fix)]
    if with_group:
        rows.append(Check("existing deployment", "warn", f"the CMG's scale set was {why}", fix))
    return rows


def _summary(checks: list[Check], ready: bool) -> str:
    failed = [f"{check.message} (fix: {check.fix})" if check.fix else check.message
              for check in checks if check.status == "fail"]
    if ready:
        warned = sum(check.status == "warn" for check in checks)
        return "the subscription can deploy the CMG" + (f" ({warned} warning(s))" if warned else "")
    return "the subscription cannot deploy the CMG: " + "; ".join(failed)


def readiness(options: Mapping[str, Any], check_mode: bool = False, environ: Mapping[str, str] | None = None,
              session_factory: Callable[..., AzureSession] = AzureSession.from_options,
              waiter: Waiter | None = None) -> dict[str, Any]:
    """The ``cmg_azure_readiness`` result (``changed`` when a provider was, or would be, registered)."""
    register = bool(options.get("register"))
    timeout = float(options.get("register_timeout") if options.get("register_timeout") is not None else 300)
    if timeout < 0:
        raise NamingError("register_timeout must be 0 or more seconds")
    waiter = waiter or Waiter()
    with session_factory(options, environ) as session:
        name, region, size, instances, group = check_inputs(options, session.cloud_name)
        session.warm_up(PIPELINE)

        def provider(namespace: str) -> ProviderAnswer:
            return provider_check(session, namespace, register, check_mode, timeout, waiter)

        def compute() -> tuple[ProviderAnswer, dict[str, Any] | None]:
            """Microsoft.Compute first: its usages and scale sets can be read only once it is registered."""
            answer = provider(COMPUTE)
            if answer.now(check_mode) != "Registered":
                return answer, None
            reads: dict[str, Callable[[], Any]] = {"usages": lambda: read_usages(session, region)}
            if group:
                reads["scale set"] = lambda: read_scale_set(session, group, name)
            return answer, run_concurrently(reads)

        calls: dict[str, Callable[[], Any]] = {COMPUTE: compute}
        calls.update({namespace: (lambda namespace=namespace: provider(namespace))
                      for namespace in REQUIRED_PROVIDERS if namespace != COMPUTE})
        answers = run_concurrently(calls)
    answers[COMPUTE], reads = answers[COMPUTE]
    providers = {namespace: answers[namespace] for namespace in REQUIRED_PROVIDERS}
    checks = [answer.check for answer in providers.values()]
    existing = None
    if reads is None:
        checks += not_read_checks(answers[COMPUTE].now(check_mode), bool(group))
    else:
        existing = reads.get("scale set")
        checks += quota_checks(reads["usages"], region, size, instances, existing)
        if group:
            checks.append(deployment_check(existing, group, name, region))
    ready = not any(check.status == "fail" for check in checks)
    return {
        "changed": any(answer.changed for answer in providers.values()),
        "ready": ready,
        "checks": [asdict(check) for check in checks],
        "providers": {namespace: answer.now(check_mode) for namespace, answer in providers.items()},
        "diff": {"before": {"providers": {namespace: answer.before for namespace, answer in providers.items()}},
                 "after": {"providers": {namespace: answer.after for namespace, answer in providers.items()}}},
        "vm": {"choice": str(options.get("vm_size") or "standard").lower(), "size": size.size, "vcpus": size.vcpus,
               "family": size.family, "instances": instances, "required_vcpus": instances * size.vcpus},
        "region": region,
        "resource_group": group,
        "existing_deployment": existing,
        "note": None if group else "no resource_group given: the existing scale set was not looked for",
        "msg": _summary(checks, ready),
    }

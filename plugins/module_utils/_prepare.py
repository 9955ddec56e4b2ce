# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions of the prepare role, one function each, so that the role only orchestrates.

- :func:`launch_path`: a path input resolved against the directory ansible-playbook started in.
- :func:`input_problems`: the role's inputs checked up front, one line per problem.
- :func:`region_problem`: an unknown region with its three closest matches, not the whole list.
- :func:`prepare_names`: the CMG names; a service name that needs no CNAME ignores the DNS zone.
- :func:`cname_skip_reason`: whether (and why not) the CNAME step runs.
- :func:`certificate_stop`: whether the certificate's trust stops the run before any write.
- :func:`source_files`: where the key, CSR, certificate and chain of ``cmg_certificate_source`` acme/csr live.
- :func:`csr_next_step`: the message that stops a ``csr`` run until the issued certificate is in place.
The role's words for module messages are in ``_vocabulary`` (:func:`role_words`).

Pure Python, no Ansible; the filter plugin ``plugins/filter/prepare.py`` exposes them.
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Any, Mapping

from ._cert_trust import TRUST_STORES
from ._certificate import FORMATS
from ._cname import ON_CONFLICT
from ._dns_core import KEY_ALGORITHMS
from ._errors import CmgError, NamingError
from ._naming import cloud_names, derive_names, normalize_region
from ._pfx import ENCRYPTIONS
from ._readiness import MAX_INSTANCES, VM_SIZES
from ._regions import REGIONS
from ._report import FAIL_ON as _FAIL_ON

UNKNOWN_TRUST = ("stop", "continue")
DNS_ON_CONFLICT = ON_CONFLICT
FAIL_ON = tuple(_FAIL_ON)
NAME_CHECK_METHODS = ("arm", "dns")
DNS_PROVIDERS = ("azure_dns", "rfc2136")
CERTIFICATE_SOURCES = ("file", "acme", "csr")
REGION_REFERENCE = "`az account list-locations -o table`, or plugins/module_utils/_regions.py"

# Choices of the role inputs that are not a module option's (those come from the modules' own constants).
CHOICES: dict[str, tuple[str, ...]] = {
    "cmg_unknown_trust": UNKNOWN_TRUST,
    "cmg_dns_on_conflict": DNS_ON_CONFLICT,
    "cmg_fail_on": FAIL_ON,
    "cmg_name_check_method": NAME_CHECK_METHODS,
    "cmg_dns_provider": DNS_PROVIDERS,
    "cmg_certificate_format": FORMATS,
    "cmg_dns_key_algorithm": KEY_ALGORITHMS,
    "cmg_vm_size": tuple(VM_SIZES),
    "cmg_certificate_source": CERTIFICATE_SOURCES,
    "cmg_pfx_encryption": ENCRYPTIONS,
}
INTEGERS = {"cmg_dns_port": (1, 65535), "cmg_dns_ttl": (1, 2147483647), "cmg_dns_wait_timeout": (0, 86400),
            "cmg_min_days_remaining": (0, 36500), "cmg_vm_instances": (1, MAX_INSTANCES)}
#: The true/false inputs, and the spellings Ansible's boolean conversion takes for them.
BOOLEANS = ("cmg_content_enabled", "cmg_manage_cname", "cmg_wait_for_dns", "cmg_register_providers",
            "cmg_acme_validate_certs", "cmg_acme_terms_agreed")
_TRUE, _FALSE = ("yes", "on", "1", "true", "y", "t"), ("no", "off", "0", "false", "n", "f")


class PrepareError(CmgError):
    """An input of the prepare role that cannot be used."""


def launch_path(path: object, cwd: str | None = None) -> str:
    """``path`` made absolute against ``cwd`` (the directory ansible-playbook was started from); ``~`` expanded.

    An empty value stays empty (the input is not given), and so do the names of the trust stores
    (``certifi``, ``system``: ``cmg_trust`` takes a store or a path). ``cwd`` defaults to the current directory of
    the calling process, which for a filter is the controller's: ansible-playbook never changes it, while
    modules run in the playbook's directory.
    """
    if path is None or (isinstance(path, str) and not path.strip()):
        return ""
    if isinstance(path, str) and path.strip() in TRUST_STORES:
        return path.strip()  # cmg_trust names a store (certifi, system) rather than a path
    if isinstance(path, str) and "-----BEGIN" in path:
        return path  # PEM text given in place of a path (cmg_ca_bundle, cmg_previous_certificate)
    if not isinstance(path, str):
        raise PrepareError(f"a path must be a string, not {type(path).__name__}")
    expanded = os.path.expanduser(path.strip())
    if os.path.isabs(expanded):
        return os.path.normpath(expanded)
    return os.path.normpath(os.path.join(cwd or os.getcwd(), expanded))


def closest_regions(region: str, cloud: str | None = None, count: int = 3) -> list[str]:
    """The ``count`` canonical region names closest to ``region`` (name or display name)."""
    regions = REGIONS[cloud_names(cloud).name]
    spellings = {name: name for name in regions}
    spellings.update({display.lower(): name for name, (display, _geo) in regions.items()})
    key = re.sub(r"^\([^)]*\)\s*|[\s_-]", "", str(region)).lower()

    def closeness(spelling: str) -> tuple[float, str]:
        ratio = max(difflib.SequenceMatcher(None, key, spelling).ratio(),
                    difflib.SequenceMatcher(None, str(region).lower(), spelling).ratio())
        return -ratio, spelling

    ranked = sorted(spellings, key=closeness)
    found: list[str] = []
    for spelling in ranked:
        if spellings[spelling] not in found:
            found.append(spellings[spelling])
        if len(found) == count:
            break
    return found


def region_problem(region: object, cloud: str | None = None) -> str | None:
    """None for a known region; else one line with the three closest regions and where the list is."""
    if not isinstance(region, str) or not region.strip():
        return "cmg_region is required, for example cmg_region: westus"
    try:
        normalize_region(region, cloud)
    except NamingError as exc:
        if "is a region of" in str(exc):
            return f"cmg_region: {exc}".replace("set the cloud environment", "set cmg_cloud_environment")
        name = cloud_names(cloud).name
        return (f"cmg_region: unknown {name} region {region!r}; closest: {', '.join(closest_regions(region, cloud))}"
                f" (all regions: {REGION_REFERENCE})")
    return None


def _int_problem(name: str, value: Any) -> str | None:
    low, high = INTEGERS[name]
    try:
        number = int(value)
    except (TypeError, ValueError):
        return f"{name} must be a whole number, not {value!r}"
    if isinstance(value, bool) or not low <= number <= high:
        return f"{name} must be between {low} and {high}, not {value!r}"
    return None


def truth(value: Any) -> bool | None:
    """``value`` as Ansible's boolean conversion reads it (``yes``, ``on``, ``1``, ``true``...), or None if it is none."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    return True if text in _TRUE else False if text in _FALSE else None


def runs_step(step: str, run_tags: Any = None, skip_tags: Any = None) -> bool:
    """Whether a step tagged ``step`` runs under ``--tags``/``--skip-tags`` (``ansible_run_tags``/``ansible_skip_tags``)."""
    run_tags = [str(tag) for tag in run_tags or ["all"]]
    skip_tags = [str(tag) for tag in skip_tags or []]
    return ("all" in run_tags or step in run_tags) and step not in skip_tags and "all" not in skip_tags


def input_problems(inputs: Mapping[str, Any], cloud: str | None = None,
                   certificate_step: bool = True) -> list[str]:
    """Every problem of the role's (non-secret) inputs, one line each, naming the role variable.

    ``certificate_step``: whether the certificate step runs in this play (else ``cmg_service_name``
    must be given, since nothing else names the CMG).
    """
    problems: list[str] = []
    region = region_problem(inputs.get("cmg_region"), cloud)
    if region:
        problems.append(region)
    for name, choices in CHOICES.items():
        if name in inputs and str(inputs[name]) not in choices:
            problems.append(f"{name} must be one of {', '.join(choices)}, not {inputs[name]!r}")
    for name in INTEGERS:
        if name in inputs:
            problem = _int_problem(name, inputs[name])
            if problem:
                problems.append(problem)
    for name in BOOLEANS:
        if name in inputs and truth(inputs[name]) is None:
            problems.append(f"{name} must be true or false, not {inputs[name]!r}")
    path, content = inputs.get("cmg_certificate_path"), inputs.get("cmg_certificate_content")
    source = str(inputs.get("cmg_certificate_source") or "file")
    if certificate_step and source in ("acme", "csr"):
        return problems + _source_problems(source, inputs)
    if certificate_step and path and content:
        problems.append("give the certificate as cmg_certificate_path or as cmg_certificate_content, not both")
    elif certificate_step and not path and not content and not inputs.get("cmg_service_name"):
        problems.append("give the CMG certificate as cmg_certificate_path or cmg_certificate_content "
                        "(or, before the certificate exists, cmg_service_name with --tags names,availability)")
    elif not certificate_step and not inputs.get("cmg_service_name") and not (path or content):
        problems.append("the certificate step is not run: give the service name as cmg_service_name")
    if inputs.get("cmg_dns_provider") == "rfc2136" and truth(inputs.get("cmg_manage_cname", True)) \
            and not inputs.get("cmg_dns_server"):
        problems.append("cmg_dns_provider rfc2136 needs cmg_dns_server (the primary name server of cmg_dns_zone)")
    return problems


def _source_problems(source: str, inputs: Mapping[str, Any]) -> list[str]:
    """The inputs that ``cmg_certificate_source`` acme or csr needs, one line each."""
    problems: list[str] = []
    if not inputs.get("cmg_certificate_path"):
        problems.append(f"cmg_certificate_source {source} needs cmg_certificate_path, where the PFX is written")
    if inputs.get("cmg_certificate_content"):
        problems.append(f"cmg_certificate_source {source} writes the PFX to cmg_certificate_path: "
                        "leave cmg_certificate_content empty")
    if not inputs.get("cmg_service_name"):
        problems.append(f"cmg_certificate_source {source} needs cmg_service_name, the CN of the certificate to request")
    if source == "acme" and not inputs.get("cmg_acme_directory_url"):
        problems.append("cmg_certificate_source acme needs cmg_acme_directory_url, the ACME directory of the CA")
    if source == "acme" and inputs.get("cmg_dns_provider") == "rfc2136" and not inputs.get("cmg_dns_server"):
        problems.append("cmg_certificate_source acme with cmg_dns_provider rfc2136 needs cmg_dns_server "
                        "(the primary name server of the zone of the _acme-challenge record)")
    if source == "csr" and not inputs.get("cmg_csr_certificate_path"):
        problems.append("cmg_certificate_source csr needs cmg_csr_certificate_path, where the issued certificate "
                        "is put once the CA has signed the CSR")
    return problems


def source_files(pfx_path: str, account_key_path: str = "") -> dict[str, str]:
    """The files of ``cmg_certificate_source`` acme/csr, next to the PFX: ``<pfx without .pfx>.key`` and so on.

    ``account_key_path`` (``cmg_acme_account_key_path``) overrides the ACME account key, by default
    ``acme-account.key`` in the PFX's folder.
    """
    path = launch_path(pfx_path)
    if not path:
        raise PrepareError("cmg_certificate_path is empty: give the path of the PFX to write")
    base = re.sub(r"\.(pfx|p12)$", "", path, flags=re.IGNORECASE)
    return {"key": base + ".key", "csr": base + ".csr", "certificate": base + ".crt", "chain": base + "-chain.crt",
            "account_key": launch_path(account_key_path) or os.path.join(os.path.dirname(path), "acme-account.key")}


def csr_next_step(request: Mapping[str, Any], certificate_path: str, check_mode: bool = False) -> str:
    """The message that stops a ``cmg_certificate_source: csr`` run until the issued certificate file exists.

    ``request`` is the ``cmg_cert_request`` result (its ``csr_path`` and ``certreq`` command lines).
    """
    csr = str(request.get("csr_path") or "the CSR")
    certreq = request.get("certreq") if isinstance(request.get("certreq"), Mapping) else {}
    where = "would be written to" if check_mode else "is"
    submit = f" (on Windows: {certreq['submit']})" if certreq.get("submit") else ""
    return (f"the certificate is not issued yet: the CSR for {request.get('service_name') or 'the service name'} "
            f"{where} {csr}; have the CA sign it{submit}, save the issued certificate (PEM, with its chain) as "
            f"cmg_csr_certificate_path {launch_path(certificate_path)} and run again; nothing was written to Azure "
            "or DNS")


def prepare_names(service_name: str, region: str | None = None, cloud: str | None = None,
                  content_enabled: bool = False, dns_zone: str | None = None,
                  prefix: str | None = None) -> dict[str, Any]:
    """The CMG names; ``dns_zone`` is used only when the service name needs a CNAME.

    A service name under the Azure domain (``GraniteFalls.WestUS.CloudApp.Azure.Com``) needs no record:
    a zone given for other runs (``contoso.com``) is then reported as unused instead of stopping the run.
    Adds ``cname_skip_reason`` (empty when the CNAME is needed).
    """
    names = derive_names(service_name, region=region, cloud=cloud, content_enabled=content_enabled, prefix=prefix)
    if names["cname_required"]:
        names = derive_names(service_name, region=region, cloud=cloud, content_enabled=content_enabled,
                             dns_zone=dns_zone or None, prefix=prefix)
        names["cname_skip_reason"] = ""
        return names
    unused = f" (cmg_dns_zone {dns_zone} is not used)" if dns_zone else ""
    names["cname_skip_reason"] = (f"the service name {names['service_name']} already is the Azure deployment name: "
                                  f"no CNAME is needed{unused}")
    return names


def cname_skip_reason(names: Mapping[str, Any], manage_cname: bool = True, method: str = "arm",
                      availability: Mapping[str, Any] | None = None) -> str:
    """Why the CNAME step does not run, or ``""`` when it runs."""
    if not manage_cname:
        return (f"cmg_manage_cname is false: create {names.get('service_name')} CNAME "
                f"{names.get('deployment_name')} yourself")
    if names.get("cname_skip_reason"):
        return str(names["cname_skip_reason"])
    if names.get("cname_required") is False:
        return (f"the service name {names.get('service_name')} already is the Azure deployment name: "
                "no CNAME is needed")
    if any(problem.get("severity") == "error" for problem in names.get("problems") or []):
        return "the names break the CMG naming rules: fix them first"
    if method == "arm" and isinstance(availability, Mapping) and availability and not availability.get("skipped") \
            and not availability.get("available"):
        return f"the CMG names are not available in Azure: {availability.get('msg') or 'see the availability checks'}"
    return ""


def certificate_stop(result: Mapping[str, Any], unknown_trust: str = "stop") -> str:
    """The message that stops the run before any write because of the certificate's trust, or ``""``.

    ``unknown_trust`` (``cmg_unknown_trust``): ``stop`` (default) stops when the chain's trust could not
    be judged (intermediates missing, no ``cmg_ca_bundle``); ``continue`` lets the run go on with a warning.
    """
    if unknown_trust not in UNKNOWN_TRUST:
        raise PrepareError(f"cmg_unknown_trust must be one of {', '.join(UNKNOWN_TRUST)}, not {unknown_trust!r}")
    chain = result.get("chain") if isinstance(result, Mapping) else None
    if unknown_trust == "stop" and isinstance(chain, Mapping) and chain.get("trust") == "unknown":
        return ("the certificate's chain could not be judged (trust unknown: intermediates missing): add the issuing "
                "and root CAs to cmg_ca_bundle, or set cmg_unknown_trust: continue to go on; nothing was written")
    return ""

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judge a CMG server authentication certificate: the entry point over loading, rules and trust.

- ``_cert_load``: reading PFX/PEM/DER (bounded), the PKCS#12 password diagnosis, the cryptography gate;
- ``_cert_rules``: the facts and the CMG rules (one function per rule), the finding codes;
- ``_cert_trust``: the trust stores and the chain verdict of cryptography's verifier.

:func:`validate` takes one :class:`ValidationRequest` and returns the facts and the findings (each a
``{code, severity, message}``; the codes are documented in docs/findings.md). The private key is only
compared with the certificate: it is never returned, logged or written. The names below are this
package's public surface (other modules and filters import them from here).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from ._cert_load import (FORMATS, MAX_INPUT_BYTES, MAX_PEM_BLOCKS, MIN_CRYPTOGRAPHY, Bundle, check_cryptography_version,
                         load_certificate, pick_leaf, read_pem_certificates, sniff_format)
from ._cert_pkcs12 import MAX_PFX_ITERATIONS
from ._cert_rules import (AIA_NOT_PUBLISHED, AZURE_DOMAIN_PUBLIC_CA, AZURE_DOMAINS, CHAIN_ENTERPRISE, CHAIN_INCOMPLETE,
                          CHAIN_INVALID, CHAIN_UNTRUSTED, CN_MISSING, CN_NOT_SERVICE_NAME, CRL_NOT_PUBLISHED,
                          EKU_MISSING, EKU_NO_SERVER_AUTH, EXPIRED, EXPIRING_SOON, KEY_MISMATCH, KEY_MISSING,
                          KEY_NOT_RSA, KEY_SIZE_UNUSUAL, KEY_TOO_SMALL, MALFORMED, NAME_INVALID, NAME_NOT_COVERED,
                          NAME_PROBLEM_CODES, NOT_YET_VALID, RENEWAL_CN_MISMATCH, RSA_SIZES, SAN_MISSING, SELF_SIGNED,
                          SERVICE_NAME_REQUIRED, SEVERITY, SEVERITY_RANK, TRUST_STORE_NOT_CERTIFI, URL_DEADLINE,
                          URL_UNREACHABLE, WEAK_HASHES, WEAK_SIGNATURE_HASH, azure_domain_findings, azure_host_domain,
                          certificate_facts, common_name, covers, dns_sans, eku_findings, finding, hash_findings,
                          key_findings, malformed_findings, name_findings, revocation_findings, signature_hash,
                          time_findings, utcnow, worst_severity)
from ._cert_trust import TrustStore, chain_findings, load_trust, self_signed
from ._errors import CertificateError
from ._clouds import resolve as resolve_cloud
from ._hostnames import normalize_fqdn

__all__ = [
    "AIA_NOT_PUBLISHED", "AZURE_DOMAIN_PUBLIC_CA", "AZURE_DOMAINS", "CHAIN_ENTERPRISE", "CHAIN_INCOMPLETE",
    "CHAIN_INVALID", "CHAIN_UNTRUSTED", "CN_MISSING", "CN_NOT_SERVICE_NAME", "CRL_NOT_PUBLISHED", "EKU_MISSING",
    "EKU_NO_SERVER_AUTH", "EXPIRED", "EXPIRING_SOON", "FORMATS", "KEY_MISMATCH", "KEY_MISSING", "KEY_NOT_RSA",
    "KEY_SIZE_UNUSUAL", "KEY_TOO_SMALL", "MALFORMED", "MAX_INPUT_BYTES", "MAX_PEM_BLOCKS", "MAX_PFX_ITERATIONS",
    "MIN_CRYPTOGRAPHY", "NAME_INVALID", "NAME_NOT_COVERED", "NAME_PROBLEM_CODES", "NOT_YET_VALID",
    "RENEWAL_CN_MISMATCH", "RSA_SIZES", "SAN_MISSING", "SELF_SIGNED", "SERVICE_NAME_REQUIRED", "SEVERITY",
    "SEVERITY_RANK", "TRUST_STORE_NOT_CERTIFI", "URL_DEADLINE", "URL_UNREACHABLE", "WEAK_HASHES", "WEAK_SIGNATURE_HASH",
    "Bundle", "TrustStore", "ValidationRequest", "azure_domain_findings", "azure_host_domain", "certificate_facts",
    "certificate_info", "chain_findings", "check_cryptography_version", "common_name", "covers", "dns_sans",
    "eku_findings", "finding", "hash_findings", "key_findings", "load_certificate", "load_trust", "name_findings",
    "pick_leaf", "read_pem_certificates", "renewal_findings", "revocation_findings", "signature_hash", "sniff_format",
    "time_findings", "validate", "worst_severity",
]


@dataclass(frozen=True)
class ValidationRequest:
    """What to judge and against what: the options of ``cmg_cert_validate`` (``format`` is ``fmt``).

    ``now`` fixes the time of the judgement (tests, conformance runs); None is the current time.
    """

    path: str | None = None
    content: str | bytes | None = None
    password: str | None = None
    fmt: str = "auto"
    service_name: str | None = None
    prefix: str | None = None
    region: str | None = None
    cloud_environment: str | None = None
    content_enabled: bool = False
    trust: str = "certifi"
    ca_bundle: str | None = None
    min_days_remaining: int = 30
    previous_certificate: str | None = None
    check_urls: bool = False
    now: datetime.datetime | None = None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "ValidationRequest":
        """The request for module parameters (``format`` becomes ``fmt``; unknown keys are ignored)."""
        names = set(cls.__dataclass_fields__)  # pylint: disable=no-member
        values = {("fmt" if key == "format" else key): value for key, value in params.items()}
        return cls(**{key: value for key, value in values.items() if key in names and value is not None})


def certificate_info(text: str | bytes) -> dict[str, Any]:
    """Facts of the leaf certificate in PEM text (private keys in the text are not read)."""
    bundle = load_certificate(content=text, fmt="auto", read_keys=False)
    facts = certificate_facts(bundle.leaf, bundle)
    for secret_related in ("has_private_key", "private_key_matches", "friendly_name"):
        facts.pop(secret_related)
    return facts


def _previous_common_name(previous: str, password: str | None) -> str | None:
    """The CN of ``previous_certificate`` (path or PEM text; a PFX opens with the main ``password``)."""
    pem_text = "-----BEGIN" in previous
    source = {"content": previous} if pem_text else {"path": previous}
    try:
        return common_name(load_certificate(**source, password=password, read_keys=False).leaf)
    except CertificateError as exc:
        label = "(PEM text)" if pem_text else previous
        raise CertificateError(f"previous_certificate {label}: {exc} (give the previous certificate as PEM/DER or a PFX "
                               "with the same password)") from None


def renewal_findings(cn: str | None, previous: str | None, password: str | None = None) -> list[dict[str, str]]:
    """A renewal must keep the common name exactly, case included."""
    if not previous:
        return []
    old = _previous_common_name(previous, password)
    if old == cn:
        return []
    detail = " (they differ only in case)" if (old or "").lower() == (cn or "").lower() else ""
    return [finding(RENEWAL_CN_MISMATCH, f"the common name {cn!r} differs from the previous certificate's {old!r}"
                                         f"{detail}: a renewed CMG certificate must keep the same CN, case included")]


def validate(request: ValidationRequest | None = None, **options: Any) -> dict[str, Any]:
    """Load and judge a CMG certificate: ``valid``, ``findings``, ``certificate``, ``chain``, ``service_name``, ``names``.

    ``request`` says what to judge; keyword ``options`` (the fields of :class:`ValidationRequest`) build one
    instead, for callers of the former keyword signature.
    """
    if request is None:
        request = ValidationRequest(**options)
    elif options:
        raise TypeError("give a ValidationRequest or keyword options, not both")
    cloud = resolve_cloud(request.cloud_environment, region=request.region).name
    if request.service_name:
        normalize_fqdn(request.service_name, allow_wildcard=True)
    now = request.now or utcnow()
    bundle = load_certificate(request.path, request.content, request.password, request.fmt)
    store = load_trust(request.trust, request.ca_bundle)
    problems = list(bundle.problems)
    facts = certificate_facts(bundle.leaf, bundle, now, problems)
    found = malformed_findings(problems)
    found += key_findings(bundle, facts) + eku_findings(facts)
    found += time_findings(bundle.leaf, facts, now, request.min_days_remaining) + hash_findings(facts)
    service, names, naming = name_findings(facts, request.service_name, request.prefix, request.region,
                                           cloud, request.content_enabled)
    found += naming
    chain, chained = chain_findings(bundle, store, found, now, service)
    found += chained
    found += azure_domain_findings(([service] if service else []) + facts["sans"]
                                   + ([facts["common_name"]] if facts["common_name"] else []), chain["trust"])
    if not self_signed(bundle.leaf):
        found += revocation_findings(bundle.leaf, request.check_urls)
    found += renewal_findings(facts["common_name"], request.previous_certificate, request.password)
    return {"valid": worst_severity(found) != "error", "findings": found, "certificate": facts, "chain": chain,
            "service_name": service, "names": names}

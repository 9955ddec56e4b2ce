# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trust: the trust stores, and the chain verdict of cryptography's own verifier.

cryptography's ``x509.verification`` decides: a :class:`Store` of the trust anchors (the public store
``trust`` and the self-signed roots of ``ca_bundle``), the untrusted intermediates (the file's other
certificates and the rest of ``ca_bundle``), the web PKI server profile for the service name; the
library builds and searches the paths itself. The chain the module reports is the path it built, and
its error text goes into the finding. Where the CMG differs (see docs/findings.md, "Chain and trust"):

- a certificate whose name is only in the CN is verified with the SAN optional (``san_missing`` says so);
- a leaf defect the CMG rules already report (EKU, validity, a name the SANs do not cover) is left to
  that finding, so the chain is judged apart from it;
- when the library refuses the leaf itself (a weak signature), the chain is described from the leaf's
  issuer, again as the library builds it.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from typing import Any

from ._cert_load import crypto, read_path, read_pem_certificates
from ._cert_rules import (CHAIN_ENTERPRISE, CHAIN_INCOMPLETE, CHAIN_INVALID, CHAIN_UNTRUSTED, EKU_MISSING,
                          EKU_NO_SERVER_AUTH, EXPIRED, MALFORMED, NAME_NOT_COVERED, NOT_YET_VALID, SELF_SIGNED, TRUST_STORE_NOT_CERTIFI,
                          WEAK_SIGNATURE_HASH, covers, dns_sans, extension, finding)
from ._errors import CertificateError, MissingDependencyError

# A trust store directory: at most this many files, and this many bytes in all.
MAX_STORE_FILES = 2000
MAX_STORE_BYTES = 32 * 1024 * 1024
# Leaf findings of the CMG rules that the library checks too: already reported, so not a chain_invalid again.
# (EKU, validity and an uncovered name are relaxed in the verification itself, see chain_findings.)
# A leaf outside its validity is verified at a moment inside it, and its chain described at the real time.
_LEAF_REPORTED = frozenset({WEAK_SIGNATURE_HASH, MALFORMED, EXPIRED, NOT_YET_VALID})


@dataclass
class TrustStore:
    """Trust anchors: the public store (``trust``) and the enterprise roots and intermediates (``ca_bundle``)."""

    public: list[Any]
    enterprise: list[Any]
    intermediates: list[Any]
    findings: list[dict[str, str]] = field(default_factory=list)


def _name(cert: Any, which: str = "subject") -> str:
    try:
        return str(getattr(cert, which).rfc4514_string())
    except ValueError:
        return f"<unreadable {which}>"


def _same_name(one: Any, other: Any) -> bool:
    try:
        return bool(one == other)
    except ValueError:
        return False


def signed_by(cert: Any, issuer: Any) -> bool:
    """True when ``issuer`` issued ``cert`` (names match and the signature verifies, SHA-1 and MD5 included)."""
    try:
        if cert.issuer != issuer.subject:
            return False
    except ValueError:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # pylint: disable=broad-except  # refused algorithm (SHA-1): verify the signature below
        pass
    lib = crypto()
    try:
        public_key = issuer.public_key()
        if isinstance(public_key, lib.rsa.RSAPublicKey):
            from cryptography.hazmat.primitives.asymmetric import padding  # MD5 comes without its PKCS#1 v1.5 padding
            public_key.verify(cert.signature, cert.tbs_certificate_bytes,
                              cert.signature_algorithm_parameters or padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(public_key, lib.ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, lib.ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
    except Exception:  # pylint: disable=broad-except  # InvalidSignature, unsupported algorithm
        return False
    return True


def self_signed(cert: Any) -> bool:
    """True for a certificate issued by itself."""
    try:
        same = cert.issuer == cert.subject
    except ValueError:
        return False
    return same and signed_by(cert, cert)


# ---------------------------------------------------------------------------------------------- trust stores


def _read_store_path(path: str, what: str) -> list[Any]:
    if os.path.isdir(path):
        certs = []
        total = 0
        for name in sorted(os.listdir(path))[:MAX_STORE_FILES]:
            full = os.path.join(path, name)
            if os.path.isfile(full):
                data = read_path(full, f"{what} file {full!r}")
                total += len(data)
                if total > MAX_STORE_BYTES:
                    raise CertificateError(f"the {what} {path!r} holds more than {MAX_STORE_BYTES} bytes of files, the "
                                           "limit: give a directory of PEM certificates only")
                certs += read_pem_certificates(data)
        return certs
    if not os.path.exists(path):
        raise CertificateError(f"the {what} {path!r} does not exist on the host that runs the task")
    certs = read_pem_certificates(read_path(path, f"the {what} {path!r}"))
    if not certs:
        raise CertificateError(f"the {what} {path!r} holds no PEM certificate")
    return certs


def _certifi_roots() -> tuple[list[Any], list[dict[str, str]]]:
    try:
        import certifi
    except ImportError as exc:
        raise MissingDependencyError("certifi", exc) from exc
    where = os.path.realpath(certifi.where())
    package = os.path.realpath(os.path.dirname(certifi.__file__))
    found = []
    if os.path.commonpath([where, package]) != package:
        found.append(finding(TRUST_STORE_NOT_CERTIFI, f"certifi.where() points to {where}, outside the certifi "
                                                      "package (a distribution patched it): public trust was judged "
                                                      "against that file, not Mozilla's list; pip install certifi "
                                                      "in a virtual environment for Mozilla's list"))
    return _read_store_path(where, "certifi trust store"), found


def _system_roots() -> list[Any]:
    import ssl  # pylint: disable=import-outside-toplevel  # only trust=system needs it

    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile, paths.capath, paths.openssl_capath):
        if candidate and os.path.exists(candidate):
            return _read_store_path(candidate, "system trust store")
    raise CertificateError("no system trust store found on the host that runs the task: use trust=certifi or a path")


#: The named public trust stores; any other ``trust`` value is a path to a PEM file or a directory of them.
TRUST_STORES = ("certifi", "system")


def load_trust(trust: str = "certifi", ca_bundle: str | None = None) -> TrustStore:
    """The public trust store (``certifi``, ``system`` or a path) and the enterprise ``ca_bundle`` (path or PEM)."""
    findings: list[dict[str, str]] = []
    if trust == "certifi":
        public, findings = _certifi_roots()
    elif trust == "system":
        public = _system_roots()
    else:
        public = _read_store_path(trust, "trust store")
    extra: list[Any] = []
    if ca_bundle:
        extra = (read_pem_certificates(ca_bundle.encode("utf-8", "replace")) if "-----BEGIN" in ca_bundle
                 else _read_store_path(ca_bundle, "ca_bundle"))
    roots = [cert for cert in extra if self_signed(cert)]
    return TrustStore(public, roots, [cert for cert in extra if not self_signed(cert)], findings)


# ---------------------------------------------------------------------------------------------- verdict


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.split(" (encountered processing")[0][:300]


def _verify_time(leaf: Any, now: datetime.datetime) -> datetime.datetime:
    """``now``, or a moment inside the leaf's validity when it is outside (``expired`` says so already)."""
    second = datetime.timedelta(seconds=1)
    if leaf.not_valid_after_utc < now:
        return max(leaf.not_valid_after_utc - second, leaf.not_valid_before_utc)
    if leaf.not_valid_before_utc > now:
        return min(leaf.not_valid_before_utc + second, leaf.not_valid_after_utc)
    return now


def _verify(leaf: Any, intermediates: list[Any], anchors: list[Any], when: datetime.datetime,
            name: str | None, relax: frozenset[str]) -> list[Any]:
    """The path cryptography builds from ``leaf`` to one of ``anchors``; raises with the library's reason.

    ``name``: the server profile for that DNS name (None: the leaf has no usable SAN, so the SAN is optional).
    ``relax``: ``eku`` leaves the leaf's EKU to the CMG rules; ``permissive`` judges only that a path exists.
    """
    lib = crypto()
    x509, verification = lib.x509, lib.verification
    agnostic = verification.Criticality.AGNOSTIC
    builder = verification.PolicyBuilder().store(verification.Store(anchors)).time(when)
    if "permissive" in relax:
        ca_policy = verification.ExtensionPolicy.permit_all().require_present(x509.BasicConstraints, agnostic, None)
        verifier = builder.extension_policies(ca_policy=ca_policy, ee_policy=verification.ExtensionPolicy.permit_all())
        return list(verifier.build_client_verifier().verify(leaf, intermediates).chain)
    ee_policy = verification.ExtensionPolicy.webpki_defaults_ee()
    ca_policy = verification.ExtensionPolicy.webpki_defaults_ca()
    if "eku" in relax or name is None:
        ee_policy = ee_policy.may_be_present(x509.ExtendedKeyUsage, agnostic, None)
    if name is None:
        ca_policy = ca_policy.may_be_present(x509.ExtendedKeyUsage, agnostic, None)
        ee_policy = ee_policy.may_be_present(x509.SubjectAlternativeName, agnostic, None)
        verifier = builder.extension_policies(ca_policy=ca_policy, ee_policy=ee_policy).build_client_verifier()
        return list(verifier.verify(leaf, intermediates).chain)
    if "eku" in relax:
        builder = builder.extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
    return list(builder.build_server_verifier(x509.DNSName(name)).verify(leaf, intermediates))


def _attempt(*args: Any) -> tuple[list[Any] | None, str | None]:
    try:
        return _verify(*args), None
    except Exception as exc:  # pylint: disable=broad-except  # VerificationError, or ValueError on a malformed input
        return None, _reason(exc)


def _server_name(leaf: Any, service: str | None, reported: set[str]) -> str | None:
    """The DNS name to verify: the service name, or (when the CMG rules already report it uncovered) a SAN's name."""
    sans = dns_sans(leaf)
    if not sans:
        return None
    if service and NAME_NOT_COVERED not in reported:
        return service.rstrip(".")
    covered = [name for name in sans if not service or covers(name, service)]
    first = (covered or sans)[0]
    return "cmg" + first[1:] if first.startswith("*.") else first


def _issuer_unknown(leaf: Any) -> dict[str, str]:
    """chain_incomplete for a leaf whose issuer is not in the file, ca_bundle or the trust store (trust ``unknown``)."""
    x509 = crypto().x509
    access = extension(leaf, "AUTHORITY_INFORMATION_ACCESS") or []
    published = [item.access_location.value for item in access
                 if item.access_method == x509.oid.AuthorityInformationAccessOID.CA_ISSUERS
                 and isinstance(item.access_location, x509.UniformResourceIdentifier)]
    where = f" (published at {published[0]})" if published else ""
    return finding(CHAIN_INCOMPLETE, f"the issuer {_name(leaf, 'issuer')!r}{where} is not in the file, ca_bundle "
                                     "or the trust store, so trust cannot be judged without it: add the intermediate "
                                     "certificates to the PFX ('Include all certificates in the certification path') "
                                     "or to ca_bundle")


@dataclass
class _Verdict:
    path: list[Any]
    trust: str
    error: str | None = None


def _kind(cert: Any, store: TrustStore) -> str | None:
    """``public`` or ``enterprise`` for a trust anchor of ``store`` (public first), else None."""
    return "public" if cert in store.public else ("enterprise" if cert in store.enterprise else None)


def _issued_by_name(cert: Any, candidates: list[Any]) -> list[Any]:
    try:
        issuer = cert.issuer
    except ValueError:
        return []
    return [candidate for candidate in candidates if _same_name(candidate.subject, issuer)]


def _judge(leaf: Any, pool: list[Any], store: TrustStore, now: datetime.datetime, name: str | None,
           relax: frozenset[str]) -> _Verdict:
    """The library's verdict on ``leaf``; when it refuses, the path it can still build describes the chain."""
    anchors = store.public + store.enterprise
    path, error = _attempt(leaf, pool, anchors, _verify_time(leaf, now), name, relax)
    if path is not None:
        return _Verdict(path, _kind(path[-1], store) or "public")
    named = _issued_by_name(leaf, pool + anchors)
    if not named:  # the issuer is nowhere: the library cannot build a path, whatever the policy
        return _Verdict([leaf], "untrusted" if self_signed(leaf) else "unknown", error)
    described, _other = _attempt(leaf, pool, anchors, now, None, frozenset({"permissive"}))
    if described is None:  # the library refuses the leaf itself (validity, weak signature): describe from its issuer
        for issuer in [cert for cert in named if signed_by(leaf, cert)]:
            upper = [issuer] if _kind(issuer, store) else _attempt(issuer, pool, anchors, now, None,
                                                                   frozenset({"permissive"}))[0]
            if upper:
                described = [leaf] + upper
                break
    if described is None:  # no trusted path: describe the one to an untrusted root of the file, as the library builds it
        roots = [cert for cert in pool if self_signed(cert)]
        untrusted = _attempt(leaf, pool, roots, now, None, frozenset({"permissive"}))[0] if roots else None
        return _Verdict(untrusted or [leaf], "untrusted", error)
    return _Verdict(described, _kind(described[-1], store) or "public", error)


def chain_findings(bundle: Any, store: TrustStore, leaf_findings: list[dict[str, str]], now: datetime.datetime,
                   service: str | None = None) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The chain dict (trust, complete, subjects) and its findings, as cryptography's verifier judges the chain."""
    leaf = bundle.leaf
    reported = {item["code"] for item in leaf_findings}
    found = list(store.findings)
    if self_signed(leaf):
        found.append(finding(SELF_SIGNED, "the certificate is self-signed: internet clients will not trust it; "
                                          "request it from a public CA or your enterprise PKI"))
    kind = _kind(leaf, store)
    if kind:
        verdict = _Verdict([leaf], kind)
    else:
        relax = frozenset({"eku"} if reported & {EKU_MISSING, EKU_NO_SERVER_AUTH} else set())
        verdict = _judge(leaf, bundle.others + store.intermediates, store, now, _server_name(leaf, service, reported),
                         relax)
    path, trust = verdict.path, verdict.trust
    missing = [cert for cert in path[1:-1] if cert not in bundle.others]
    chain = {"trust": trust, "complete": not missing and trust not in ("unknown", "untrusted"),
             "subjects": [_name(cert) for cert in path]}
    if trust == "unknown":
        return chain, found + [_issuer_unknown(leaf)]
    if trust == "untrusted":
        chain["complete"] = not missing and self_signed(path[-1])
        top = f"its root {_name(path[-1])!r} is not trusted; " if self_signed(path[-1]) else ""
        why = top + (f"cryptography: {verdict.error}" if verdict.error else "no path to a trusted root")
        found.append(finding(CHAIN_UNTRUSTED, f"the chain reaches no trusted root ({why}): add the enterprise root to "
                                              "ca_bundle, or use a certificate from a trusted CA"))
        return chain, found
    if verdict.error and not reported & _LEAF_REPORTED:
        found.append(finding(CHAIN_INVALID, f"the chain to {_name(path[-1])!r} fails path validation ({verdict.error}): "
                                            "fix or reissue the certificate or its CA"))
    if missing:
        names = ", ".join(repr(_name(cert)) for cert in missing)
        found.append(finding(CHAIN_INCOMPLETE, f"the file lacks the intermediate certificate(s) {names}: export the PFX "
                                               "with 'Include all certificates in the certification path'"))
    if trust == "enterprise":
        found.append(finding(CHAIN_ENTERPRISE, f"the chain ends at the enterprise root {_name(path[-1])!r}: every "
                                               "internet-based client must trust this root (and reach its CRL), or use "
                                               "a public CA"))
    return chain, found

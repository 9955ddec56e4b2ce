# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cmg_cert_acme task: order only when the certificate on disk no longer serves, then write it.

A certificate already at ``certificate_path`` for the CSR's key and names, with more than
``remaining_days`` left, is kept and the CA is not contacted: a scheduled run changes nothing.
"""

from __future__ import annotations

import datetime
from typing import Any, Callable

from ._acme import AccountSpec, DnsPublisher, Server, issue
from ._cert_request import crypto, csr_facts, load_csr, public_key_sha256
from ._errors import CmgError
from ._secure_file import read_bounded, write_atomic

PUBLIC_MODE = 0o644


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def csr_from(params: dict[str, Any]) -> bytes | None:
    """The CSR's PEM from ``csr_path`` or ``csr_content``; None when the file does not exist (yet)."""
    if params.get("csr_content"):
        return params["csr_content"].encode()
    return read_bounded(params["csr_path"], "the CSR file")


def certificate_facts(pem: bytes, now: datetime.datetime) -> dict[str, Any]:
    """Subject, names, key, thumbprint and remaining days of a PEM certificate."""
    x509, hashes, _serialization, _rsa = crypto()
    try:
        cert = x509.load_pem_x509_certificates(pem)[0]
    except (ValueError, IndexError) as exc:
        raise CmgError("the file at certificate_path is not a PEM certificate: remove it or give another path") from exc
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)
    except x509.ExtensionNotFound:
        sans = []
    remaining = cert.not_valid_after_utc - now
    return {"subject": cert.subject.rfc4514_string(), "common_name": _common_name(cert.subject), "sans": list(sans),
            "thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),
            "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_remaining": remaining.days, "public_key_sha256": public_key_sha256(cert.public_key())}


def current_certificate_facts(path: str, password: str | None, now: datetime.datetime) -> dict[str, Any] | None:
    """Facts of the certificate in service (PFX, PEM or DER at ``path``); None when the file does not exist."""
    data = read_bounded(path, "current_certificate")
    if data is None:
        return None
    x509, _hashes, serialization, _rsa = crypto()
    if b"-----BEGIN" in data:
        return certificate_facts(data, now)
    try:
        cert = x509.load_der_x509_certificate(data)
    except ValueError:
        from ._pfx import read_pfx
        cert = read_pfx(data, password, f"current_certificate {path}").leaf
    return certificate_facts(cert.public_bytes(serialization.Encoding.PEM), now)


def _common_name(name: Any) -> str | None:
    """The CN of an x509 Name, None without one."""
    from cryptography.x509.oid import NameOID
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else None


def _current(params: dict[str, Any], csr_pem: bytes | None,
             now: datetime.datetime) -> tuple[dict[str, Any] | None, str, bool]:
    """The certificate kept, why a new one is needed ('' when none is), and whether certificate_path holds it.

    Without a CSR (not made yet) only the certificate in service is judged: while it serves, no CSR is needed.
    """
    csr = load_csr(csr_pem, params.get("csr_path") or "csr_content") if csr_pem is not None else None
    wanted = csr_facts(csr) if csr is not None else None
    wanted_cn = _common_name(csr.subject) if csr is not None else None
    due = params["remaining_days"]
    in_service = None
    if params.get("current_certificate"):
        in_service = current_certificate_facts(params["current_certificate"], params.get("current_password"), now)
        if in_service and wanted is not None and in_service["common_name"] != wanted_cn:
            raise CmgError(f"the certificate in service has the CN {in_service['common_name']!r}, the CSR {wanted_cn!r}: "
                           "a renewal must keep the CN, case included; fix the service name")
    reason = "no certificate yet" if params.get("certificate_path") else "no certificate_path to keep the certificate in"
    facts = None
    data = read_bounded(params["certificate_path"], "the certificate file") if params.get("certificate_path") else None
    if wanted is None:
        reason, data = "no CSR yet", None
    if data is not None and wanted is not None:
        facts = certificate_facts(data, now)
        if facts["public_key_sha256"] != wanted["public_key_sha256"]:
            reason = "the certificate is for another key than the CSR"
        elif facts["subject"] != wanted["subject"] or sorted(facts["sans"]) != sorted(wanted["sans"]):
            reason = "the certificate names differ from the CSR's (case included)"
        elif facts["days_remaining"] <= due:
            reason = f"{facts['days_remaining']} days left, renewal is due at {due}"
        else:
            return facts, "", True
    if in_service and in_service["days_remaining"] > due:
        return in_service, "", False
    if in_service:
        reason = f"the certificate in service has {in_service['days_remaining']} days left, renewal is due at {due}"
    return facts or in_service, reason, False


def run_acme(params: dict[str, Any], check_mode: bool = False, publisher: DnsPublisher | None = None,
             now: Callable[[], datetime.datetime] = _utcnow, environ: Any = None) -> dict[str, Any]:
    """Keep or obtain the certificate; the module result.

    The DNS-01 records go through ``publisher``, by default the DNS core provider of the options
    (``provider`` and its options, see ``_acme_dns.dns_publisher``).
    """
    csr_pem = csr_from(params)
    before, reason, ready = _current(params, csr_pem, now())
    result: dict[str, Any] = {"changed": False, "renewal_reason": reason, "certificate_ready": ready,
                              **{name: params.get(name) for name in ("certificate_path", "chain_path", "fullchain_path")}}
    if not reason:
        result.update(before or {})
        result["diff"] = {"before": before, "after": before}
        return result
    result["changed"] = True
    if check_mode:
        result["diff"] = {"before": before or {}, "after": {"renewal": reason}}
        return result
    if csr_pem is None:
        raise CmgError(f"the CSR file {params['csr_path']} does not exist: create it with cmg_cert_request")
    server = Server(params["directory_url"], params["validate_certs"], params["ca_path"], params["timeout"])
    account = AccountSpec(params["account_key_path"], params["account_key_content"], params["account_key_passphrase"],
                          params["account_email"], params["terms_agreed"], params["eab_kid"], params["eab_hmac_key"],
                          params["eab_alg"])

    def clock() -> datetime.datetime:
        return now().replace(tzinfo=None)

    if publisher is not None:
        issued = issue(server, account, csr_pem, publisher, clock)
    else:
        from ._acme_dns import dns_publisher  # pylint: disable=import-outside-toplevel

        with dns_publisher(params, environ) as core:
            issued = issue(server, account, csr_pem, core, clock)
            result.update(core.provider.result_extras())
    files = {"certificate_path": issued["certificate"], "chain_path": "".join(issued["chain"]),
             "fullchain_path": issued["fullchain"]}
    for option, text in files.items():
        if params.get(option):
            write_atomic(params[option], text.encode(), PUBLIC_MODE)
    after = certificate_facts(issued["certificate"].encode(), now())
    result.update(issued)
    result.update(after)
    result["certificate_ready"] = bool(params.get("certificate_path"))
    result["diff"] = {"before": before or {}, "after": after}
    return result

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A certificate from an ACME (RFC 8555) CA with the DNS-01 challenge, through the ``acme`` package.

The protocol is the ``acme`` package's (the client of the Let's Encrypt project). This file adds
what the CMG needs around it: the account key (created once, kept with mode 0600, reused), the
contact e-mail, the terms of service agreed only when the caller says so, External Account Binding
(how commercial CAs hand out ACME accounts), ``badNonce`` retried with the nonce of the error
response as RFC 8555 section 6.5 says, and the DNS-01 records published through an injected
:class:`DnsPublisher`, waited for, and always removed afterwards, also when the order fails.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from ._cert_request import crypto, encrypt_private_key, load_csr, load_private_key
from ._errors import CmgError, MissingDependencyError
from ._secure_file import read_bounded, write_atomic

BAD_NONCE_ATTEMPTS = 20
ACCOUNT_KEY_BITS = 2048
EAB_ALGORITHMS = ("HS256", "HS384", "HS512")
USER_AGENT = "configmgr.cmg"
MAX_CHAIN_CERTIFICATES = 10


class AcmeError(CmgError):
    """The ACME server refused or failed a request, or a challenge failed."""


class DnsPublisher(Protocol):
    """How DNS-01 answers reach the zone (``_acme_dns.CorePublisher``: any provider of the DNS core)."""

    def publish(self, fqdn: str, values: list[str]) -> Callable[[], None]:
        """Add the TXT ``values`` at ``fqdn``; return the function that removes exactly them."""

    def wait(self, fqdn: str, values: list[str]) -> None:
        """Return once the zone's authoritative servers answer ``values`` at ``fqdn``; raise on timeout."""


@dataclass(frozen=True)
class AccountSpec:
    """The ACME account: key, contact, terms and External Account Binding."""

    key_path: str | None = None
    key_content: str | None = None
    key_passphrase: str | None = None
    email: str | None = None
    terms_agreed: bool = False
    eab_kid: str | None = None
    eab_hmac_key: str | None = None
    eab_alg: str = "HS256"


@dataclass(frozen=True)
class Server:
    """Where the CA is and how its TLS certificate is checked."""

    directory_url: str
    validate_certs: bool = True
    ca_path: str | None = None
    timeout: int = 300


def acme_modules() -> Any:
    """acme's client, messages, errors and josepy, imported on first need."""
    try:
        import josepy
        import requests
        from acme import client, errors, messages
    except ImportError as exc:
        raise MissingDependencyError("acme", exc) from exc
    return client, messages, errors, josepy, requests


def _network_class() -> Any:
    client, messages, errors, _josepy, _requests = acme_modules()

    class Network(client.ClientNetwork):  # type: ignore[misc,valid-type]
        """acme's network with RFC 8555 section 6.5 badNonce handling: retry with the error's nonce."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.bad_nonce_retries = 0

        def _send_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            response = super()._send_request(method, url, *args, **kwargs)
            if method == "POST" and not response.ok and self.REPLAY_NONCE_HEADER in response.headers:
                try:  # an error response carries a fresh nonce: use it for the retry
                    self._add_nonce(response)
                except errors.BadNonce:
                    pass
            return response

        def post(self, *args: Any, **kwargs: Any) -> Any:
            for attempt in range(BAD_NONCE_ATTEMPTS):
                try:
                    return self._post_once(*args, **dict(kwargs))
                except messages.Error as error:
                    if error.code != "badNonce" or attempt == BAD_NONCE_ATTEMPTS - 1:
                        raise
                    self.bad_nonce_retries += 1
            raise AssertionError("unreachable")  # pragma: no cover

    return Network


def account_key(spec: AccountSpec, check_mode: bool = False) -> tuple[Any, bool]:
    """The account's RSA key and whether it was created (written atomically, mode 0600)."""
    if spec.key_path:
        data = read_bounded(spec.key_path, "the ACME account key file")
        if data is not None:
            return load_private_key(data, spec.key_passphrase, f"account key {spec.key_path}"), False
    if spec.key_content:
        return load_private_key(spec.key_content.encode(), spec.key_passphrase, "account_key_content"), False
    if not spec.key_path:
        raise AcmeError("give account_key_path (created when missing) or account_key_content")
    _x509, _hashes, _serialization, rsa = crypto()
    key = rsa.generate_private_key(public_exponent=65537, key_size=ACCOUNT_KEY_BITS)
    if not check_mode:
        save_account_key(spec, key)
    return key, True


def save_account_key(spec: AccountSpec, key: Any) -> None:
    """Write a new account key to ``key_path`` (mode 0600; encrypted when a passphrase is given)."""
    if not spec.key_path:
        return
    _x509, _hashes, serialization, _rsa = crypto()
    if spec.key_passphrase:
        data = encrypt_private_key(key, spec.key_passphrase)
    else:
        data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())
    write_atomic(spec.key_path, data)


def _problem(error: Any) -> str:
    """One line of an ACME problem document (RFC 7807)."""
    code = getattr(error, "code", None) or getattr(error, "typ", "error")
    detail = getattr(error, "detail", None) or str(error)
    return f"{code}: {detail}"


class AcmeSession:
    """One conversation with a CA: directory, account, orders."""

    def __init__(self, server: Server, key: Any) -> None:
        client, _messages, _errors, josepy, _requests = acme_modules()
        verify: bool | str = server.ca_path if (server.validate_certs and server.ca_path) else server.validate_certs
        self.server = server
        self.jwk = josepy.JWKRSA(key=key)
        self.net = _network_class()(self.jwk, alg=josepy.RS256, verify_ssl=verify, user_agent=USER_AGENT,
                                    timeout=30)
        self.directory = self._call("read the ACME directory", lambda: client.ClientV2.get_directory(
            server.directory_url, self.net))
        self.client = client.ClientV2(self.directory, self.net)
        self.account_uri: str | None = None

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        """Run one protocol step; turn the library's and the network's errors into one-line messages."""
        _client, messages, errors, _josepy, requests = acme_modules()
        try:
            return action()
        except errors.ValidationError as exc:
            lines = [f"{authz.body.identifier.value}: " + "; ".join(
                _problem(ch.error) for ch in authz.body.challenges if ch.error is not None)
                for authz in exc.failed_authzrs]
            raise AcmeError(f"the CA could not {what}: the DNS-01 challenge failed: " + " | ".join(lines)) from exc
        except messages.Error as exc:
            raise AcmeError(f"the CA refused to {what}: {_problem(exc)}") from exc
        except errors.TimeoutError as exc:
            raise AcmeError(f"the CA did not {what} within {self.server.timeout} seconds: raise timeout or retry") from exc
        except requests.exceptions.SSLError as exc:
            raise AcmeError(f"cannot {what}: the TLS certificate of {self.server.directory_url} is not trusted: "
                            "give ca_path") from exc
        except requests.exceptions.RequestException as exc:
            raise AcmeError(f"cannot {what}: {self.server.directory_url} cannot be reached ({type(exc).__name__})") from exc
        except errors.Error as exc:
            raise AcmeError(f"cannot {what}: {exc}") from exc
        except ValueError as exc:  # JSON that is not what RFC 8555 says
            raise AcmeError(f"cannot {what}: the answer of {self.server.directory_url} is not an ACME document") from exc

    @property
    def bad_nonce_retries(self) -> int:
        """How many badNonce answers were retried."""
        return self.net.bad_nonce_retries

    def register(self, spec: AccountSpec) -> str:
        """Find or create the account of the key; the account URL."""
        _client, messages, errors, _josepy, _requests = acme_modules()
        meta = self.directory.meta
        terms = getattr(meta, "terms_of_service", None)
        if terms and not spec.terms_agreed:
            raise AcmeError(f"the CA asks to agree to its terms of service ({terms}): read them and set terms_agreed: true")
        eab = None
        if spec.eab_kid or spec.eab_hmac_key:
            if not (spec.eab_kid and spec.eab_hmac_key):
                raise AcmeError("eab_kid and eab_hmac_key go together: give both from the CA's ACME account page")
            if spec.eab_alg not in EAB_ALGORITHMS:
                raise AcmeError(f"eab_alg must be one of {', '.join(EAB_ALGORITHMS)}")
            try:
                eab = messages.ExternalAccountBinding.from_data(self.jwk.public_key(), spec.eab_kid, spec.eab_hmac_key,
                                                                self.directory, spec.eab_alg)
            except (ValueError, TypeError) as exc:
                raise AcmeError("eab_hmac_key is not base64url text: copy it again from the CA") from exc
        elif getattr(meta, "external_account_required", False):
            raise AcmeError("the CA requires External Account Binding: give eab_kid and eab_hmac_key from the CA")
        registration = messages.NewRegistration.from_data(
            email=spec.email, terms_of_service_agreed=True if terms else None, external_account_binding=eab)

        def new_account() -> str:
            try:
                return self.client.new_account(registration).uri
            except errors.ConflictError as exc:  # the key already has an account: reuse it
                self.net.account = messages.RegistrationResource(body=messages.Registration(), uri=exc.location)
                return exc.location

        self.account_uri = self._call("register the account", new_account)
        return self.account_uri

    def order(self, csr_pem: bytes, publisher: DnsPublisher, now: Callable[[], datetime.datetime]) -> dict[str, Any]:
        """Order the certificate for the CSR with DNS-01; the records are removed whatever happens."""
        _client, messages, _errors, _josepy, _requests = acme_modules()
        from acme import challenges
        deadline = now() + datetime.timedelta(seconds=self.server.timeout)
        orderr = self._call("create the order", lambda: self.client.new_order(csr_pem))
        answers: list[tuple[Any, Any]] = []
        records: dict[str, list[str]] = {}
        for authz in orderr.authorizations:
            if authz.body.status == messages.STATUS_VALID:
                continue
            challenge = next((c for c in authz.body.challenges if isinstance(c.chall, challenges.DNS01)), None)
            if challenge is None:
                raise AcmeError(f"the CA offers no dns-01 challenge for {authz.body.identifier.value}")
            response, validation = challenge.chall.response_and_validation(self.jwk)
            name = authz.body.identifier.value
            fqdn = challenge.chall.validation_domain_name(name[2:] if name.startswith("*.") else name)
            records.setdefault(fqdn, []).append(validation)
            answers.append((challenge, response))
        undo: list[Callable[[], None]] = []
        try:
            for fqdn, values in records.items():
                undo.append(publisher.publish(fqdn, values))
            for fqdn, values in records.items():
                publisher.wait(fqdn, values)
            for challenge, response in answers:
                self._call("accept the challenge answer", lambda c=challenge, r=response: self.client.answer_challenge(c, r))
            orderr = self._call("validate the order", lambda: self.client.poll_authorizations(orderr, deadline))
        except CmgError as exc:
            left = _remove_all(undo)
            if left:
                raise AcmeError(f"{exc}; and the DNS-01 records could not all be removed: {'; '.join(left)}",
                                **exc.details) from exc
            raise
        except BaseException:
            _remove_all(undo)
            raise
        left = _remove_all(undo)
        if left:
            raise AcmeError("the DNS-01 records could not all be removed: " + "; ".join(left))
        orderr = self._call("issue the certificate", lambda: self.client.finalize_order(orderr, deadline))
        return {"fullchain": orderr.fullchain_pem, "order_uri": orderr.uri,
                "records": [{"fqdn": fqdn, "values": values} for fqdn, values in records.items()]}


def _remove_all(undo: list[Callable[[], None]]) -> list[str]:
    """Run every removal (last published first); the messages of those that failed."""
    failures = []
    for remove in reversed(undo):
        try:
            remove()
        except CmgError as exc:
            failures.append(str(exc))
    return failures


def split_chain(fullchain: str, csr: Any) -> tuple[str, list[str]]:
    """The certificate of the CSR's key and the rest of the chain, as PEM; bounded."""
    x509, _hashes, serialization, _rsa = crypto()
    try:
        certs = x509.load_pem_x509_certificates(fullchain.encode())
    except ValueError as exc:
        raise AcmeError("the CA's certificate download is not a PEM chain") from exc
    if len(certs) > MAX_CHAIN_CERTIFICATES:
        raise AcmeError(f"the CA's chain holds {len(certs)} certificates, more than {MAX_CHAIN_CERTIFICATES}")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    wanted = csr.public_key().public_bytes(serialization.Encoding.DER, spki)
    leaf = next((c for c in certs if c.public_key().public_bytes(serialization.Encoding.DER, spki) == wanted), None)
    if leaf is None:
        raise AcmeError("the CA returned no certificate for the CSR's key")
    pem = serialization.Encoding.PEM
    return leaf.public_bytes(pem).decode(), [c.public_bytes(pem).decode() for c in certs if c is not leaf]


def issue(server: Server, account: AccountSpec, csr_pem: bytes, publisher: DnsPublisher,
          now: Callable[[], datetime.datetime] = datetime.datetime.now) -> dict[str, Any]:
    """Register (or reuse) the account and obtain the certificate for ``csr_pem``."""
    csr = load_csr(csr_pem, "csr")
    key, created = account_key(account, check_mode=True)  # a new key is kept only once the CA took the account
    session = AcmeSession(server, key)
    account_uri = session.register(account)
    if created:
        save_account_key(account, key)
    ordered = session.order(csr_pem, publisher, now)
    certificate, chain = split_chain(ordered["fullchain"], csr)
    return {"certificate": certificate, "chain": chain, "fullchain": certificate + "".join(chain),
            "account_uri": account_uri, "account_created": created, "order_uri": ordered["order_uri"],
            "challenge_records": ordered["records"], "bad_nonce_retries": session.bad_nonce_retries}

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""No secret leaves the role: the whole prepare role at -vvvv through ansible-runner, every secret set.

The job runs as AWX runs it (tests/integration/test_awx_runner.py): the Azure credential injected as
environment (AZURE_SECRET), the PFX password as an extra var, and, with the RFC 2136 provider against
a real BIND, the TSIG key secret. At the highest verbosity none of them, nor any line of the
certificate's private key (PEM or base64 DER), may appear in any streamed event, any event runner
keeps, its stdout or any artifact; the one documented exception is AZURE_SECRET in ansible-runner's
own ``artifacts/<ident>/command`` (docs/awx.md), its record of the environment it was given.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.support import pki
from tests.support.ansible import BIN, COLLECTIONS
from tests.support.azure_sandbox import AzureSandbox
from tests.support.bind import BindServer, running_named

pytestmark = [pytest.mark.integration, pytest.mark.bind]

PLAYBOOK = "- name: CMG - prepare\n  ansible.builtin.import_playbook: configmgr.cmg.prepare\n"


@pytest.fixture
def bind() -> Any:
    with running_named(("contoso.test",)) as server:
        yield server


def _key_material(pfx_path: str, password: str) -> list[str]:
    """Fragments of the private key as it could leak: PEM body lines (PKCS#8 and traditional) and base64 DER."""
    key, _cert, _extra = pkcs12.load_key_and_certificates(Path(pfx_path).read_bytes(), password.encode())
    assert key is not None
    fragments = []
    for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
        pem = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
        fragments += [line for line in pem.splitlines()[1:-1] if len(line) >= 40][:3]
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fragments.append(base64.b64encode(der).decode()[100:160])
    fragments.append(der[60:90].hex())
    return fragments


def _places(secret: str, runner: Any, streamed: list[dict[str, Any]], data_dir: Path) -> list[str]:
    found = [f"streamed event {event.get('counter')} ({event.get('event')})"
             for event in streamed if secret in json.dumps(event)]
    found += [f"runner event {event.get('counter')}" for event in runner.events if secret in json.dumps(event)]
    if secret in runner.stdout.read():
        found.append("runner stdout")
    found += [str(path.relative_to(data_dir)) for path in sorted((data_dir / "artifacts").rglob("*"))
              if path.is_file() and secret.encode() in path.read_bytes()]
    return found


def test_role_at_vvvv_leaks_no_secret(azure_sandbox: AzureSandbox, bind: BindServer, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith(("AZURE_", "REQUESTS_CA_BUNDLE"))]:
        monkeypatch.delenv(name)
    sample = pki.build_sample(tmp_path / "pki", "GraniteFalls.contoso.test")
    data_dir = tmp_path / "runner"
    (data_dir / "project").mkdir(parents=True)
    (data_dir / "project" / "job.yml").write_text(PLAYBOOK, encoding="utf-8")
    extravars = {"cmg_certificate_path": sample["path"], "cmg_certificate_password": sample["password"],
                 "cmg_ca_bundle": sample["ca_bundle"], "cmg_region": "westus",
                 "cmg_dns_provider": "rfc2136", "cmg_dns_zone": "contoso.test", "cmg_dns_server": bind.host,
                 "cmg_dns_port": bind.port, "cmg_dns_key_name": bind.key_name, "cmg_dns_key_secret": bind.key_secret,
                 "cmg_dns_nameservers": [bind.address], "cmg_dns_wait_timeout": 30,
                 "cmg_report_dir": str(data_dir / "artifacts" / "cmg-readiness")}
    envvars = {**azure_sandbox.env(), "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    streamed: list[dict[str, Any]] = []
    runner = ansible_runner.run(private_data_dir=str(data_dir), playbook="job.yml",
                                inventory=f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}",
                                envvars=envvars, extravars=extravars, verbosity=4, quiet=True,
                                event_handler=lambda event: streamed.append(event) or True)
    assert (runner.status, runner.rc) == ("successful", 0), runner.stdout.read()[-3000:]
    assert len(streamed) > 20 and any(event["event"] == "verbose" for event in streamed), "the job ran at -vvvv"
    assert sorted(p.name for p in (data_dir / "artifacts" / "cmg-readiness").iterdir()) == [
        "cmg-readiness.json", "cmg-readiness.junit.xml", "cmg-readiness.md"]

    # The scanner can fail: what is not secret (the PFX path, the TSIG key name) is found in events and artifacts.
    assert any(place.startswith("streamed event") for place in _places(sample["path"], runner, streamed, data_dir))
    assert any(place.startswith("artifacts/") for place in _places(bind.key_name, runner, streamed, data_dir))
    command = f"artifacts/{runner.config.ident}/command"
    assert _places(azure_sandbox.client_secret, runner, streamed, data_dir) == [command]
    assert _places(sample["password"], runner, streamed, data_dir) == []
    assert _places(bind.key_secret, runner, streamed, data_dir) == []
    for fragment in _key_material(sample["path"], sample["password"]):
        assert _places(fragment, runner, streamed, data_dir) == [], "private key material leaked"
    assert _places("PRIVATE KEY-----", runner, streamed, data_dir) == []

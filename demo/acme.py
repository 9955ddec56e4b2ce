# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo-acme`: from nothing to a CMG-ready PFX through ACME (DNS-01), then a scheduled re-run.

1. Start a real BIND 9 for contoso.com (RFC 2136 with TSIG) and Pebble, the ACME test CA of the Let's
   Encrypt project, resolving its DNS-01 lookups at that BIND (random nonce rejection left on).
2. Run playbooks/renew.yml for GraniteFalls.contoso.com with no certificate yet: key and CSR, account,
   DNS-01 TXT record (published, waited for, removed), certificate, PFX checked by the collection's
   validation, renewal report with the Set-CMCloudManagementGateway upload step.
3. Read the PFX with the openssl CLI, and check that no TXT record is left behind.
4. Run the playbook again, as a schedule would: it must report changed=0 and skip the CA.
5. The same first run with the DNS-01 record in Azure DNS (the local Azure sandbox, through ARM), validated by a
   second Pebble through a BIND that serves the sandbox zone as Azure's name servers would; no TXT record set is
   left in the zone.
Anything else fails the demo. Files go to demo-output/acme/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from demo.run import DemoFailure, recap, section  # noqa: E402
from demo.sandbox import running  # noqa: E402
from tests.support.ansible import run_playbook  # noqa: E402
from tests.support.azure_dns_mirror import AzureDnsMirror  # noqa: E402
from tests.support.bind import running_named  # noqa: E402
from tests.support.pebble import running_pebble  # noqa: E402

SERVICE_NAME = "GraniteFalls.contoso.com"
OUTPUT = ROOT / "demo-output" / "acme"
PLAYBOOK = ROOT / "playbooks" / "renew.yml"
ORDER_TASK = "configmgr.cmg.renew : Get the certificate from the ACME CA (DNS-01)"
PFX_TASK = "configmgr.cmg.renew : Build the new PFX next to the current one and check it against it"
DEMO_PASSWORD = "demo-Pfx-Pa55word"  # a demo secret: the PFX lives in demo-output only


def main() -> int:
    """Run the demo; 0 when it showed what it promises."""
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    with running_named(("contoso.com",)) as bind, running_pebble(bind.address) as pebble:
        (OUTPUT / "pebble-root.pem").write_text(pebble.root_pem())
        variables = {
            "cmg_service_name": SERVICE_NAME, "cmg_renew_dir": str(OUTPUT), "cmg_certificate_password": DEMO_PASSWORD,
            "cmg_key_passphrase": "demo-key-passphrase", "cmg_acme_directory_url": pebble.directory_url,
            "cmg_acme_ca_path": pebble.ca_path, "cmg_acme_terms_agreed": True, "cmg_acme_email": "pki@contoso.com",
            "cmg_ca_bundle": str(OUTPUT / "pebble-root.pem"), "cmg_dns_provider": "rfc2136",
            "cmg_dns_server": bind.host, "cmg_dns_port": bind.port, "cmg_dns_key_name": bind.key_name,
            "cmg_dns_key_secret": bind.key_secret, "cmg_dns_wait_interval": 0.2}
        section("First run: ansible-playbook playbooks/renew.yml (no certificate yet)")
        first = run_playbook(PLAYBOOK, extra_vars=variables)
        print(first.stdout.strip())
        counts = recap(first)
        if first.rc != 0 or counts.get("failed") or not first.result(ORDER_TASK).get("changed"):
            raise DemoFailure(f"the first run did not obtain the certificate: rc={first.rc}, recap {counts}")
        pfx = Path(first.result(PFX_TASK)["path"])
        section(f"openssl pkcs12 -in {pfx.name} -nokeys (an oracle independent of the collection)")
        environment = {"DEMO_PFX": DEMO_PASSWORD, "PATH": "/usr/bin:/bin"}
        dump = subprocess.run(["openssl", "pkcs12", "-in", str(pfx), "-nokeys", "-passin", "env:DEMO_PFX"],
                              capture_output=True, text=True, check=True, env=environment).stdout
        print("\n".join(line for line in dump.splitlines() if line.startswith(("subject=", "issuer="))))
        records = first.result(ORDER_TASK)["challenge_records"]
        left = subprocess.run(["dig", "+short", "-p", str(bind.port), "@" + bind.host, "TXT", records[0]["fqdn"]],
                              capture_output=True, text=True, check=False).stdout.strip() if shutil.which("dig") else ""
        print(f"\nDNS-01 record {records[0]['fqdn']}: published, validated, removed (left now: {left or 'nothing'})")
        if left:
            raise DemoFailure(f"the TXT record {records[0]['fqdn']} was left behind: {left}")
        section("Renewal report (demo-output/acme/cmg-renewal.md)")
        print((OUTPUT / "cmg-renewal.md").read_text())
        section("Second run, as a schedule would: nothing is due")
        second = run_playbook(PLAYBOOK, extra_vars=variables)
        print(second.stdout.strip().split("PLAY RECAP", 1)[-1].strip())
        counts = recap(second)
        if second.rc != 0 or counts.get("changed") != 0:
            raise DemoFailure(f"the second run is not idempotent: rc={second.rc}, recap {counts}")
    azure_dns(variables)
    print("\ndemo-acme: from nothing to a CMG-ready PFX via ACME DNS-01 (RFC 2136 and Azure DNS), and an idempotent "
          "scheduled re-run")
    return 0


def azure_dns(variables: dict) -> None:
    """The first run again, with the TXT record written through ARM into the sandbox's Azure DNS zone."""
    output = OUTPUT / "azure"
    output.mkdir()
    with running(ROOT / "demo" / "seed.json", output / "sandbox") as sandbox, running_named(("contoso.com",)) as bind, \
            AzureDnsMirror(sandbox, bind, "contoso.com", "rg-dns", 0.2), running_pebble(bind.address) as pebble:
        (output / "pebble-root.pem").write_text(pebble.root_pem())
        azure = {**{key: value for key, value in variables.items() if not key.startswith("cmg_dns_")},
                 "cmg_renew_dir": str(output), "cmg_acme_directory_url": pebble.directory_url,
                 "cmg_acme_ca_path": pebble.ca_path, "cmg_ca_bundle": str(output / "pebble-root.pem"),
                 "cmg_dns_provider": "azure_dns", "cmg_dns_resource_group": "rg-dns",
                 "cmg_dns_nameservers": [bind.address], "cmg_dns_wait_interval": 0.2}
        section("DNS-01 in Azure DNS: the same first run against the local Azure sandbox (cmg_dns_provider: azure_dns)")
        print(f"A real BIND 9 on {bind.address} serves the sandbox zone contoso.com as Azure's name servers would\n"
              "(record sets written through ARM appear there within a second); a second Pebble validates there.")
        sandbox.clear_requests()
        run = run_playbook(PLAYBOOK, extra_vars=azure, env=sandbox.env)
        print(run.stdout.strip().split("PLAY RECAP", 1)[-1].strip())
        if run.rc != 0 or not run.result(ORDER_TASK).get("changed"):
            raise DemoFailure(f"the Azure DNS run did not obtain the certificate: rc={run.rc}, recap {recap(run)}")
        writes = [write for write in sandbox.writes() if "/TXT/" in write]
        print("ARM writes of the TXT record set: " + "; ".join(writes))
        left = [key for key in sandbox.record_sets("contoso.com", "rg-dns") if key.endswith("/TXT")]
        if left or [write.split()[0] for write in writes] != ["PUT", "DELETE"]:
            raise DemoFailure(f"the TXT record set was not written and removed once: writes {writes}, left {left}")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoFailure as exc:
        print(f"demo-acme FAILED: {exc}", file=sys.stderr)
        sys.exit(1)

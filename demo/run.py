# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: prepare the CMG GraniteFalls.contoso.com in westus against a local Azure, twice.

1. Print the CMG names that the cmg_names filter derives (tests/demo.py's naming step).
2. Create a sample enterprise PKI (root, issuing CA) and a PFX for GraniteFalls.contoso.com.
3. Start the local Azure sandbox as a process, with an empty contoso.com zone in Azure DNS, and a real
   BIND that serves that zone the way Azure's name servers do (see tests/support/azure_dns_mirror.py).
4. Run playbooks/prepare.yml with ansible-playbook and the sandbox's AZURE_* environment: the first run
   creates the CNAME, the second run must report changed=0 and send no write. Both are checked from the
   PLAY RECAP and from the sandbox's request log; anything else fails the demo.
5. Print the Markdown readiness report. The sandbox and BIND are stopped however the demo ends.

Files go to demo-output/ (pki/, sandbox/, report/), which is kept for a look afterwards.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import yaml

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# pylint: disable=wrong-import-position
from demo.sandbox import SandboxProcess, running  # noqa: E402
from tests.demo import Seed, Step, naming_report, naming_tasks, run_step  # noqa: E402
from tests.support import pki  # noqa: E402
from tests.support.ansible import PlaybookRun, run_playbook  # noqa: E402
from tests.support.azure_dns_mirror import AzureDnsMirror  # noqa: E402  (needs ROOT on sys.path)
from tests.support.bind import NAMED, BindServer, running_named  # noqa: E402

SERVICE_NAME = "GraniteFalls.contoso.com"
DEMO = ROOT / "demo"
OUTPUT = ROOT / "demo-output"
PLAYBOOK = ROOT / "playbooks" / "prepare.yml"
CNAME_TASK = "configmgr.cmg.prepare : Make the service name CNAME point at the deployment name"
RECAP_LINE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


class DemoFailure(Exception):
    """The demo did not show what it promises; the message says what happened instead."""


def section(title: str) -> None:
    """A visible heading in the demo's output."""
    print(f"\n=== {title} " + "=" * max(3, 100 - len(title)), flush=True)


def recap(run: PlaybookRun) -> dict[str, int]:
    """The counts of the PLAY RECAP line for localhost (ok, changed, unreachable, failed, skipped...)."""
    lines = run.stdout.split("PLAY RECAP", 1)[-1].splitlines() if "PLAY RECAP" in run.stdout else []
    for line in lines:
        found = RECAP_LINE.match(line.strip())
        if found and found["host"] == "localhost":
            return {key: int(value) for key, value in (item.split("=") for item in found["counts"].split())}
    raise DemoFailure(f"no PLAY RECAP line for localhost (rc={run.rc}):\n{run.stdout}\n{run.stderr}")


def prepare(label: str, sandbox: SandboxProcess, extra_vars: dict[str, Any]) -> tuple[PlaybookRun, dict[str, int], list[str]]:
    """Run playbooks/prepare.yml once, print its output; return the run, its recap and the ARM writes it sent."""
    section(f"{label}: ansible-playbook playbooks/prepare.yml (AZURE_* = the sandbox)")
    sandbox.clear_requests()
    started = time.monotonic()
    run = run_playbook(PLAYBOOK, extra_vars=extra_vars, env=sandbox.env)
    print(run.stdout.strip())
    if run.stderr.strip():
        print(run.stderr.strip(), file=sys.stderr)
    counts = recap(run)
    writes = sandbox.writes()
    print(f"\n[{label}: {time.monotonic() - started:.1f}s, rc={run.rc}, recap {counts}, Azure writes: {writes or 'none'}]")
    if run.rc != 0 or counts.get("failed") or counts.get("unreachable"):
        raise DemoFailure(f"{label} failed: rc={run.rc}, recap {counts}")
    return run, counts, writes


def check_first(run: PlaybookRun, counts: dict[str, int], writes: list[str], record: str) -> None:
    """The first run must create the CNAME: changed in the recap, the CNAME task changed, one PUT of it."""
    if counts.get("changed", 0) < 1 or not run.result(CNAME_TASK).get("changed"):
        raise DemoFailure(f"the first run did not create the CNAME: recap {counts}")
    if [write.split(" ", 1)[0] + " " + write.rsplit("/dnsZones/", 1)[-1] for write in writes] != [f"PUT {record}"]:
        raise DemoFailure(f"the first run should send exactly one write, PUT {record}; it sent {writes}")


def check_second(counts: dict[str, int], writes: list[str]) -> None:
    """The second run must change nothing: changed=0 in the recap and no write request."""
    if counts.get("changed") != 0 or writes:
        raise DemoFailure(f"the second run is not idempotent: recap {counts}, writes {writes}")


@contextlib.contextmanager
def dns_servers(sandbox: SandboxProcess, zone: str, resource_group: str) -> Iterator[Optional[BindServer]]:
    """BIND serving the sandbox zone (None when BIND 9 is not installed: then the role does not wait for DNS)."""
    if not Path(NAMED).exists():
        yield None
        return
    with running_named((zone,)) as bind:
        mirror = AzureDnsMirror(sandbox, bind, zone, resource_group)
        mirror.start()
        try:
            yield bind
        finally:
            mirror.stop()
            if mirror.error:
                print(f"warning: the Azure DNS mirror stopped: {mirror.error}", file=sys.stderr)


def dns_vars(bind: Optional[BindServer]) -> dict[str, Any]:
    """How the role waits for DNS in the demo, said out loud, and the variables for it."""
    if bind is None:
        print("DNS: BIND 9 (named) is not installed, so the role does not wait for propagation "
              "(cmg_wait_for_dns: false; `make system-deps` installs it).")
        return {"cmg_wait_for_dns": False}
    print(f"DNS: a real BIND 9 on {bind.address} is the authoritative server of the zone, standing in for Azure's name\n"
          "     servers (ns1-01.azure-dns.com... do not resolve here): the record sets the role writes through ARM are\n"
          "     published to it within a second, and the role's wait-for-DNS step queries it until it answers the\n"
          f"     CNAME (cmg_wait_for_dns: true, cmg_dns_nameservers: [{bind.address}]).")
    return {"cmg_wait_for_dns": True, "cmg_dns_nameservers": [bind.address]}


def main() -> int:
    """The whole demo; 0 when both runs did what they should."""
    settings = yaml.safe_load((DEMO / "vars.yml").read_text(encoding="utf-8"))
    seed = Seed(SERVICE_NAME, settings["cmg_region"], settings["cmg_content_enabled"], settings["cmg_dns_zone"])
    started = time.monotonic()
    section(f"1. The CMG names of {seed.service_name} in {seed.region} (configmgr.cmg.cmg_names)")
    if run_step(Step("CMG names (configmgr.cmg.cmg_names)", naming_tasks, naming_report), seed):
        raise DemoFailure("the names break a CMG naming rule")

    section("2. A sample enterprise PKI (root and issuing CA) and the CMG certificate")
    shutil.rmtree(OUTPUT, ignore_errors=True)
    sample = pki.build_sample(OUTPUT / "pki", SERVICE_NAME)
    print(f"PFX {sample['path']} (CN={SERVICE_NAME}, password in the demo only), chain in {sample['ca_bundle']}")

    section("3. The local Azure sandbox with an empty contoso.com zone in Azure DNS")
    zone, group = settings["cmg_dns_zone"], settings["cmg_dns_resource_group"]
    with running(DEMO / "seed.json", OUTPUT / "sandbox") as sandbox, dns_servers(sandbox, zone, group) as bind:
        print(f"Azure sandbox: {sandbox.url} (pid {sandbox.pid}); the playbook gets AZURE_CLIENT_ID, AZURE_SECRET, "
              "AZURE_TENANT,\n  AZURE_SUBSCRIPTION_ID, AZURE_CLOUD_ENVIRONMENT (the sandbox URL) and REQUESTS_CA_BUNDLE")
        extra_vars = {**settings, **dns_vars(bind), "cmg_certificate_path": sample["path"],
                      "cmg_certificate_password": sample["password"], "cmg_ca_bundle": sample["ca_bundle"],
                      "cmg_report_dir": str(OUTPUT / "report")}
        record = f"{zone}/CNAME/{SERVICE_NAME.split('.', 1)[0].lower()}"
        first = prepare("4. First run", sandbox, extra_vars)
        check_first(*first, record)
        print(f"OK: the first run created {record} (recap changed={first[1]['changed']})")
        second = prepare("5. Second run", sandbox, extra_vars)
        check_second(*second[1:])
        print("OK: the second run changed nothing (recap changed=0, no write request to Azure)")

    section(f"6. The readiness report ({OUTPUT / 'report'}: cmg-readiness.md, .json, .junit.xml)")
    print((OUTPUT / "report" / "cmg-readiness.md").read_text(encoding="utf-8"))
    print(f"demo: done in {time.monotonic() - started:.0f}s; the processes it started are stopped")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except DemoFailure as failure:
        print(f"\nDEMO FAILED: {failure}", file=sys.stderr)
        sys.exit(1)

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`make demo`: run the main job of configmgr.cmg for the seed example and print what it found.

Every step runs the installed collection through a real ``ansible-playbook`` (the collection is
linked into .build/collections by ``make collection``) and prints the results it recorded.
For now the job is one step, ``naming``: derive and check every CMG name of
``GraniteFalls.contoso.com`` in ``westus``. Later steps (certificate, Azure name checks, CNAME)
are added to ``STEPS``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.ansible import PlaybookRun, play, run_playbook  # noqa: E402  (needs ROOT on sys.path)

NAME_FIELDS = ("service_name", "prefix", "dns_label", "deployment_name", "key_vault_name", "storage_account_name",
               "cname_required", "zone", "record_name", "region", "cloud_environment", "method")


@dataclass(frozen=True)
class Seed:
    """The CMG the demo prepares."""

    service_name: str = "GraniteFalls.contoso.com"
    region: str = "westus"
    content_enabled: bool = True
    dns_zone: str = "contoso.com"
    cloud: str = "AzureCloud"


def naming_tasks(seed: Seed) -> list[dict[str, Any]]:
    """Derive every name with the cmg_names filter and print them."""
    expression = ("{{ cmg_service_name | configmgr.cmg.cmg_names(region=cmg_region, content_enabled=cmg_content_enabled, "
                  "dns_zone=cmg_dns_zone, cloud=cmg_cloud) }}")
    return [
        {"name": "Derive the CMG names", "ansible.builtin.set_fact": {"cmg_names": expression}},
        {"name": "Show the CMG names", "ansible.builtin.debug": {"var": "cmg_names"}},
    ]


def naming_report(run: PlaybookRun) -> int:
    """Print the derived names and problems; 1 when a naming rule is broken."""
    names = run.result("Derive the CMG names")["ansible_facts"]["cmg_names"]
    width = max(len(field) for field in NAME_FIELDS)
    for field in NAME_FIELDS:
        print(f"  {field:<{width}}  {_show(names[field])}")
    problems = names["problems"]
    print(f"  {'problems':<{width}}  {'none' if not problems else ''}")
    for problem in problems:
        print(f"    - [{problem['severity']}] {problem['resource']}: {problem['message']}")
    return 1 if any(problem["severity"] == "error" for problem in problems) else 0


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass(frozen=True)
class Step:
    """One part of the job: the tasks it runs and how its results are reported."""

    title: str
    tasks: Callable[[Seed], list[dict[str, Any]]]
    report: Callable[[PlaybookRun], int]


STEPS = (
    Step("CMG names (configmgr.cmg.cmg_names)", naming_tasks, naming_report),
)


def seed_vars(seed: Seed) -> dict[str, Any]:
    """The seed as playbook variables."""
    return {"cmg_service_name": seed.service_name, "cmg_region": seed.region, "cmg_content_enabled": seed.content_enabled,
            "cmg_dns_zone": seed.dns_zone, "cmg_cloud": seed.cloud}


def run_step(step: Step, seed: Seed) -> int:
    """Run one step through ansible-playbook and print its report."""
    print(f"== {step.title}")
    run = run_playbook(play(step.tasks(seed)), extra_vars=seed_vars(seed))
    if run.rc != 0:
        failed = [entry for entry in run.results if entry["status"] == "failed"]
        message = failed[-1]["result"].get("msg", "") if failed else (run.stderr.strip() or run.stdout.strip())
        print(f"  FAILED: {message}")
        return 1
    return step.report(run)


def parse_args(argv: list[str] | None = None) -> Seed:
    """The seed, with the defaults of the README's example."""
    default = Seed()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service-name", default=default.service_name, help="the certificate CN (default: %(default)s)")
    parser.add_argument("--region", default=default.region, help="the Azure region (default: %(default)s)")
    parser.add_argument("--dns-zone", default=default.dns_zone, help="the zone of the CNAME (default: %(default)s)")
    parser.add_argument("--cloud", default=default.cloud, help="the Azure cloud (default: %(default)s)")
    parser.add_argument("--content-enabled", action=argparse.BooleanOptionalAction, default=default.content_enabled,
                        help="whether the CMG serves content (default: %(default)s)")
    args = parser.parse_args(argv)
    return Seed(args.service_name, args.region, args.content_enabled, args.dns_zone, args.cloud)


def main(argv: list[str] | None = None) -> int:
    """Run every step; the exit status is 1 when any step fails or finds an error."""
    seed = parse_args(argv)
    print(f"configmgr.cmg demo: {seed.service_name} in {seed.region} ({seed.cloud}), "
          f"content {'enabled' if seed.content_enabled else 'disabled'}, DNS zone {seed.dns_zone}")
    status = 0
    for step in STEPS:
        status |= run_step(step, seed)
    print("demo: done" if status == 0 else "demo: problems found")
    return status


if __name__ == "__main__":
    sys.exit(main())

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The naming filters rendered by a real ansible-playbook run against the linked collection."""

from __future__ import annotations

import pytest

from tests.support.ansible import PlaybookRun, play, run_playbook
from tests.support.examples import GRANITEFALLS_NAMES

pytestmark = pytest.mark.integration

SEED = "GraniteFalls.contoso.com"


def _debug(name: str, expression: str, *, ignore_errors: bool = False) -> dict:
    task = {"name": name, "ansible.builtin.debug": {"msg": "{{ " + expression + " }}"}}
    if ignore_errors:
        task["ignore_errors"] = True
    return task


TASKS = [
    _debug("prefix", "seed | configmgr.cmg.cmg_prefix"),
    _debug("deployment", "seed | configmgr.cmg.cmg_deployment_name(region='West US')"),
    _debug("classic", "seed | configmgr.cmg.cmg_deployment_name(method='classic', cloud='AzureUSGovernment')"),
    _debug("names", "seed | configmgr.cmg.cmg_names(region='(US) West US', content_enabled=true, dns_zone='contoso.com')"),
    _debug("wildcard", "('*.contoso.com' | configmgr.cmg.cmg_names(prefix='GraniteFalls', region='westus')).service_name"),
    _debug("dash", "('Granite-Falls.contoso.com' | configmgr.cmg.cmg_names(region='westus', content_enabled='yes')).problems"),
    _debug("ip address", "'10.0.0.4' | configmgr.cmg.cmg_names", ignore_errors=True),
    _debug("foreign zone", "seed | configmgr.cmg.cmg_names(dns_zone='fabrikam.com')", ignore_errors=True),
    _debug("unknown region", "seed | configmgr.cmg.cmg_deployment_name(region='westus4')", ignore_errors=True),
]


@pytest.fixture(scope="module")
def run() -> PlaybookRun:
    """One playbook run for every filter case."""
    return run_playbook(play([{"name": "seed", "ansible.builtin.set_fact": {"seed": SEED}}] + TASKS))


def test_playbook_completes(run: PlaybookRun):
    assert run.rc == 0, run.stdout + run.stderr
    assert [entry["task"] for entry in run.results] == ["seed"] + [task["name"] for task in TASKS]


@pytest.mark.parametrize("task, expected", [
    ("prefix", "GraniteFalls"),
    ("deployment", "granitefalls.westus.cloudapp.azure.com"),
    ("classic", "granitefalls.usgovcloudapp.net"),
    ("wildcard", "GraniteFalls.contoso.com"),
])
def test_string_filters(run: PlaybookRun, task: str, expected: str):
    assert run.status(task) == "ok"
    assert run.result(task)["msg"] == expected


def test_cmg_names(run: PlaybookRun):
    assert run.result("names")["msg"] == GRANITEFALLS_NAMES


def test_problems_are_data_not_failures(run: PlaybookRun):
    assert run.status("dash") == "ok"
    assert [(p["resource"], p["severity"]) for p in run.result("dash")["msg"]] == [("storage_account", "error")]


@pytest.mark.parametrize("task, message", [
    ("ip address", "the service name '10.0.0.4' is an IP address: a CMG needs a DNS name such as "
                   "GraniteFalls.contoso.com"),
    ("foreign zone", "the DNS zone 'fabrikam.com' does not contain the service name "
                     "'granitefalls.contoso.com'"),
    ("unknown region", "unknown AzureCloud region 'westus4'; did you mean westus, "
                       "westus3, westus2, eastus?"),
])
def test_bad_input_fails_the_task_with_the_message(run: PlaybookRun, task: str, message: str):
    assert run.status(task) == "failed"
    result = run.result(task)
    assert result["msg"].endswith(message)
    assert "Traceback" not in result["msg"] + str(result.get("exception", ""))

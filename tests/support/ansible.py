"""Run real Ansible (ansible-playbook) against the collection and read back the exact results.

Results come from the test-only callback ``record_results`` (one JSON line per task result), so a
test asserts on what the module returned, not on parsed screen output. Modules run on the implicit
localhost with the Python that runs Ansible (the .venv), in a clean environment: AZURE_* variables of
the developer's shell never leak into a test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS = ROOT / ".build" / "collections"
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"
BIN = Path(sys.executable).parent


@dataclass
class PlaybookRun:
    """The outcome of one ansible-playbook run."""

    rc: int
    stdout: str
    stderr: str
    results: list[dict[str, Any]] = field(default_factory=list)

    def result(self, task: str) -> dict[str, Any]:
        """The result of the (last) task with this name."""
        found = [entry["result"] for entry in self.results if entry["task"] == task]
        if not found:
            raise KeyError(f"no result for task {task!r}; tasks run: {[e['task'] for e in self.results]}\n{self.stdout}")
        return found[-1]

    def status(self, task: str) -> str:
        """ok, failed, skipped or unreachable for the (last) task with this name."""
        found = [entry["status"] for entry in self.results if entry["task"] == task]
        if not found:
            raise KeyError(f"no result for task {task!r}")
        return found[-1]


@dataclass
class TaskRun:
    """The outcome of one module task."""

    result: dict[str, Any]
    rc: int
    stdout: str
    stderr: str


def ansible_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for an Ansible run: the collection, quiet warnings, no stray AZURE_*."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AZURE_", "ANSIBLE_AZURE_", "REQUESTS_CA_BUNDLE"))}
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "record_results",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_FORCE_COLOR": "False",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    })
    env.update(extra or {})
    return env


def run_playbook(playbook: str | os.PathLike[str], *, extra_vars: Mapping[str, Any] | None = None,
                 env: Mapping[str, str] | None = None, check: bool = False, diff: bool = False,
                 tags: list[str] | None = None, verbosity: int = 0, timeout: int = 600,
                 cwd: str | os.PathLike[str] | None = None) -> PlaybookRun:
    """Run a playbook (a path, or the YAML text of one) and collect every task result.

    ansible-playbook starts in ``cwd`` (default: a fresh temporary directory).
    """
    with tempfile.TemporaryDirectory(prefix="cmg-ansible-") as tmp:
        path = Path(tmp) / "playbook.yml"
        if isinstance(playbook, str) and "\n" in playbook:
            path.write_text(playbook, encoding="utf-8")
        else:
            path = Path(playbook)
        results_file = Path(tmp) / "results.jsonl"
        command = [str(BIN / "ansible-playbook"), str(path)]
        if extra_vars:
            vars_file = Path(tmp) / "extra_vars.json"
            vars_file.write_text(json.dumps(dict(extra_vars)), encoding="utf-8")
            command += ["-e", f"@{vars_file}"]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        if tags:
            command += ["--tags", ",".join(tags)]
        if verbosity:
            command.append("-" + "v" * verbosity)
        run_env = ansible_env(env)
        run_env["RECORD_RESULTS_FILE"] = str(results_file)
        done = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=timeout, check=False,
                              cwd=cwd or tmp)
        results = []
        if results_file.exists():
            results = [json.loads(line) for line in results_file.read_text(encoding="utf-8").splitlines() if line]
        return PlaybookRun(done.returncode, done.stdout, done.stderr, results)


def play(tasks: list[dict[str, Any]], *, module_defaults: Mapping[str, Any] | None = None) -> str:
    """The YAML text of a localhost play running ``tasks``."""
    playbook: dict[str, Any] = {"name": "test", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
    if module_defaults:
        playbook["module_defaults"] = dict(module_defaults)
    return yaml.safe_dump([playbook], sort_keys=False)


def run_task(module: str, args: Mapping[str, Any], *, env: Mapping[str, str] | None = None, check: bool = False,
             diff: bool = False, verbosity: int = 0) -> TaskRun:
    """Run one module task (``module`` short name or FQCN) and return its result."""
    name = module if "." in module else f"configmgr.cmg.{module}"
    run = run_playbook(play([{"name": "task", name: dict(args)}]), env=env, check=check, diff=diff,
                       verbosity=verbosity)
    return TaskRun(run.result("task"), run.rc, run.stdout, run.stderr)

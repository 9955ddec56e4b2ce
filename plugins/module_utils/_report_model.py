# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The readiness report's step model and its one verdict rule.

A :class:`Step` names a row group, its title, how its result is found and the function that judges it;
:func:`register_step` adds one (the extension point for new rows); :func:`verdict` is the report's status, the
worst of every check, and needs no change for a new step. Pure Python, no Ansible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ._report_checks import (
    FAIL_ON, REPORT_STATUS_OF, REPORT_STATUSES, RUN_STEP, STEP_TITLES, Check, Context, ReportError, _own_result,
    _propagation_result, availability_checks, certificate_checks, dns_checks, names_checks, propagation_checks,
    readiness_checks)


@dataclass(frozen=True)
class Step:
    """One row group of the report: its name, title, how its result is found and how it is judged.

    ``checks(result, context)`` returns the step's checks; the verdict rule (:func:`verdict`) needs no
    change for a new step. ``depends_on`` names a step whose absence explains this one's.
    """

    name: str
    title: str
    checks: Callable[[dict[str, Any], Context], list[Check]]
    result_of: Callable[[dict[str, Any]], Any] | None = None
    depends_on: str | None = None
    optional: bool = False  # reported only with a result or a reason, or as not run after a failure before it

    def result(self, results: dict[str, Any]) -> Any:
        """The result this step is judged on, from all the step results."""
        return (self.result_of or _own_result(self.name))(results)


STEP_REGISTRY: dict[str, Step] = {}


def register_step(step: Step, after: str | None = None) -> None:
    """Add a step to the report (after ``after``, else at the end). The extension point for new rows."""
    if step.name in STEP_REGISTRY or step.name == RUN_STEP:
        raise ValueError(f"report step {step.name!r} exists already")
    items = list(STEP_REGISTRY.items())
    index = len(items) if after is None else [name for name, _step in items].index(after) + 1
    items.insert(index, (step.name, step))
    STEP_REGISTRY.clear()
    STEP_REGISTRY.update(items)


for _step in (Step("certificate", STEP_TITLES["certificate"], certificate_checks),
              Step("names", STEP_TITLES["names"], names_checks),
              Step("readiness", STEP_TITLES["readiness"], readiness_checks, optional=True),
              Step("availability", STEP_TITLES["availability"], availability_checks),
              Step("dns", STEP_TITLES["dns"], dns_checks),
              Step("propagation", STEP_TITLES["propagation"], propagation_checks, _propagation_result,
                   depends_on="dns")):
    register_step(_step)
STEPS = tuple(STEP_REGISTRY)


def step_title(step: str) -> str:
    """The title of a step (``run`` for a failure no step claims)."""
    if step == RUN_STEP:
        return "Role run"
    return STEP_REGISTRY[step].title if step in STEP_REGISTRY else step


# ---------------------------------------------------------------------------------------------
# the verdict


def verdict(checks: Iterable[Check]) -> str:
    """The report status: the worst of every check (``fail`` > ``warn`` > ``would_change`` > ``pass``).

    A ``not_run`` check counts as ``fail``; ``skip`` as ``pass``; ``would_create``/``would_change`` (check mode)
    as ``would_change``. An empty list is ``pass``.
    """
    worst = "pass"
    for check in checks:
        status = REPORT_STATUS_OF[check["status"]]
        if REPORT_STATUSES.index(status) > REPORT_STATUSES.index(worst):
            worst = status
    return worst


def stops(status: str, fail_on: str) -> bool:
    """Whether a report status stops the run under ``cmg_fail_on`` (``error``, ``warning``, ``never``)."""
    if fail_on not in FAIL_ON:
        raise ReportError(f"unknown fail_on {fail_on!r}: use {', '.join(FAIL_ON)}")
    return status in FAIL_ON[fail_on]


def registered() -> dict[str, Step]:
    """The registered steps, in report order (read at call time, so that tests may swap the registry)."""
    return STEP_REGISTRY

# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What to write: the report files' names and paths, their timestamp, and whether the files on disk already hold
the report. The module writes them with Ansible's file conventions (``atomic_move``, file attributes); the report
``mode`` takes permission bits only (:func:`mode_problem`). Pure Python, no Ansible.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from typing import Any, Iterable

from ._report_checks import ReportError
from ._report_render import render_all
from ._secure_file import previous_text

DEFAULT_NAME = "cmg-readiness"
PARTIAL_NAME = "cmg-readiness-partial"
KINDS = {"json": ".json", "markdown": ".md", "junit": ".junit.xml"}
FILES = {kind: DEFAULT_NAME + suffix for kind, suffix in KINDS.items()}
DEFAULT_MODE = 0o600

# ---------------------------------------------------------------------------------------------
# what to write (the module writes it with Ansible's file conventions: atomic_move, file attributes)


# The prepare role's step tags: a run that leaves any of them out is partial.
ROLE_TAGS = ("certificate", "names", "availability", "dns")


def report_name(run_tags: Iterable[str] | None = None, skip_tags: Iterable[str] | None = None) -> str:
    """The files' base name: ``cmg-readiness`` for a full run, ``cmg-readiness-partial`` for a run limited by tags.

    A run is partial when ``--tags`` or ``--skip-tags`` leave out one of the role's steps (other tags, such as
    molecule's ``--skip-tags notest``, do not count). A partial run never overwrites the report of a full run.
    """
    run = {str(tag) for tag in run_tags or ["all"]}
    skip = {str(tag) for tag in skip_tags or []}
    left_out = [tag for tag in ROLE_TAGS if not ("all" in run or tag in run) or tag in skip or "all" in skip]
    return PARTIAL_NAME if left_out else DEFAULT_NAME


def report_paths(directory: str, name: str = DEFAULT_NAME) -> dict[str, str]:
    """The three files by kind (``json``, ``markdown``, ``junit``) in ``directory``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", name):
        raise ReportError(f"invalid report name {name!r}: use letters, digits, '.', '_' and '-'")
    directory = os.path.abspath(os.path.expanduser(directory))
    return {kind: os.path.join(directory, name + suffix) for kind, suffix in KINDS.items()}


_SYMBOLIC_CLAUSE = re.compile(r"[ugoa]*([-+=][rwxXstugo]*)+")


def mode_problem(mode: Any) -> str | None:
    """One line when the report ``mode`` asks for more than permission bits (setuid, setgid, sticky), else None.

    Octal (``"0640"``, ``"7777"``, an integer) must stay within ``0o777``; a symbolic mode (``u=rw,g=r``) must not
    name ``s`` or ``t``. Any other syntax is left to Ansible's own mode check, which words it.
    """
    if mode is None:
        return None
    if isinstance(mode, bool):
        return f"mode {mode!r} is not a mode: give permission bits in octal (0640) or symbolic (u=rw,g=r) form"
    if isinstance(mode, int):
        bits = mode
    elif isinstance(mode, str) and re.fullmatch(r"0?o?[0-7]{1,5}", mode.strip()):
        bits = int(mode.strip().replace("o", ""), 8)
    elif isinstance(mode, str) and all(_SYMBOLIC_CLAUSE.fullmatch(part) for part in mode.split(",")):
        if any(letter in re.sub(r"^[ugoa]*", "", part) for part in mode.split(",") for letter in "st"):
            return (f"mode {mode!r} sets setuid, setgid or the sticky bit: the report files take permission bits only "
                    "(r, w, x for u, g, o)")
        return None
    else:
        return None
    if bits & ~0o777:
        return (f"mode {oct(bits)[2:].zfill(4) if isinstance(mode, int) else mode.strip()!r} sets setuid, setgid or "
                "the sticky bit: the report files take permission bits only (0000 to 0777)")
    return None


def utc_timestamp(now: datetime | None = None) -> str:
    """The generation time, ISO 8601 UTC to the second: ``2026-01-31T12:00:00Z``."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _previous_timestamp(json_text: str | None) -> str | None:
    """The ``generated_at`` of the report on disk, or None when there is none (or it is not ours)."""
    if not json_text:
        return None
    try:
        value = json.loads(json_text).get("generated_at")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def plan_report(directory: str, report: dict[str, Any], name: str = DEFAULT_NAME,
                now: datetime | None = None) -> dict[str, Any]:
    """What the report files should hold, and whether the files on disk already do.

    The content is compared without its timestamp: the report is rendered with the timestamp of the
    report on disk first, and only when that differs from the files is it rendered with the current time.
    Returns ``paths``, ``contents`` and ``before`` (by kind), ``generated_at`` and ``same``.
    """
    paths = report_paths(directory, name)
    on_disk = {kind: previous_text(path, "report file") for kind, path in paths.items()}
    previous = _previous_timestamp(on_disk["json"])
    if previous:
        contents = render_all(report, previous)
        if contents == on_disk:
            return {"paths": paths, "contents": contents, "before": on_disk, "generated_at": previous, "same": True}
    timestamp = utc_timestamp(now)
    return {"paths": paths, "contents": render_all(report, timestamp), "before": on_disk, "generated_at": timestamp,
            "same": False}

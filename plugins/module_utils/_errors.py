# Copyright (c) configmgr.cmg contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain exceptions of the collection.

Every error a user can cause (bad input, an unreadable certificate, a name Azure refuses, a DNS
server that says no) is raised as a :class:`CmgError` with a one-line message that says what to do.
Modules turn these into ``fail_json`` in one place (``_module.run_module``); anything else is a bug.
"""

from __future__ import annotations


class CmgError(Exception):
    """Base class: ``str(exc)`` is a one-line message fit for ``msg``; ``details`` go to the result."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class NamingError(CmgError):
    """A service name, prefix, region or zone that breaks the CMG naming rules."""


class CertificateError(CmgError):
    """A certificate that cannot be read (missing, empty, wrong password, corrupt)."""


class AzureError(CmgError):
    """Azure refused or failed a request (authentication, permission, throttling, timeout)."""


class DnsError(CmgError):
    """A DNS server refused an update, a zone was not found, or propagation timed out."""


class MissingDependencyError(CmgError):
    """A Python package the task needs is not installed on the host that runs it."""

    def __init__(self, package: str, import_error: BaseException | None = None) -> None:
        super().__init__(f"the Python package {package!r} is required on the host that runs this task "
                         f"(pip install {package})", package=package)
        self.package = package
        self.import_error = import_error

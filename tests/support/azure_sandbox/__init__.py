"""The local Azure sandbox (see core.py): ``from tests.support.azure_sandbox import AzureSandbox``."""

from .core import AzureSandbox, Request, Response, arm_error, route, seeder

__all__ = ["AzureSandbox", "Request", "Response", "arm_error", "route", "seeder"]

"""Fixtures shared by unit and integration tests."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.support.azure_sandbox import AzureSandbox
from tests.support.bind import BindServer, bind_server as _bind_server_body


@pytest.fixture(scope="session")
def azure_sandbox_server() -> Iterator[AzureSandbox]:
    """One sandbox per test process (each pytest-xdist worker has its own)."""
    with AzureSandbox().start() as sandbox:
        yield sandbox


@pytest.fixture
def azure_sandbox(azure_sandbox_server: AzureSandbox) -> Iterator[AzureSandbox]:
    """The sandbox with empty state, request log and faults, as AzureCloud with list metadata."""
    azure_sandbox_server.reset()
    yield azure_sandbox_server
    azure_sandbox_server.reset()


@pytest.fixture(scope="session")
def bind_server() -> Iterator[BindServer]:
    """One real BIND 9 named (contoso.test, fabrikam.test) per test process."""
    yield from _bind_server_body()

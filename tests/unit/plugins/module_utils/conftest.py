"""Fixtures of the module_utils unit tests: the certificate corpus (built once per test process)."""

from __future__ import annotations

import pytest

from tests.support.pki import Corpus, build_corpus


@pytest.fixture(scope="session")
def cert_corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Every corpus file of tests.support.pki, written into a temporary directory."""
    return build_corpus(tmp_path_factory.mktemp("pki"))

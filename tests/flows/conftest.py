"""Fixtures for the flows package: the bundled flows, a small admin-unit tree and a context factory."""
from __future__ import annotations

import pytest

from flows import AdminCatalog, Context, load_flows
from tests.flows.flows_support import NOW, UNITS


@pytest.fixture(scope="session")
def flow_set():
    loaded = load_flows([], bundled=True)
    assert not loaded.errors, [str(issue) for issue in loaded.errors]
    return loaded


@pytest.fixture(scope="session")
def catalog():
    return AdminCatalog(UNITS)


@pytest.fixture
def make_ctx(catalog):
    def make(channel="sms", language="mn", script="cyrl", **vars):
        return Context(channel, language, script, NOW, vars, catalog)
    return make

"""The end-to-end tests' database: SQLite by default, PostgreSQL with --backend=postgres."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import backend


@pytest.fixture(autouse=True)
def e2e_database(request: pytest.FixtureRequest) -> Iterator[None]:
    """With --backend=postgres, this test's bots get databases on the test server."""
    postgres = request.config.getoption("--backend") == "postgres"
    backend.use(request.getfixturevalue("postgres_server") if postgres else None)
    try:
        yield
    finally:
        backend.use(None)

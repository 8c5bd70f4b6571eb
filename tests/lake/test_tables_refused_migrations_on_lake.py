"""tests/tables/test_refused_migrations.py again, on the lake: the Admin service, same answers and errors."""

from tests.tables.conftest import migrating  # noqa: F401 - the fixture the tests ask for
from tests.tables.test_refused_migrations import *  # noqa: F403

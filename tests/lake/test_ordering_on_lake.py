"""tests/api/test_ordering.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_ordering import *  # noqa: F403

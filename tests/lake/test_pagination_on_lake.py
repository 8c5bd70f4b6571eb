"""tests/api/test_pagination.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_pagination import *  # noqa: F403

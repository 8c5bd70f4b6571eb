"""tests/api/test_import.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_import import *  # noqa: F403

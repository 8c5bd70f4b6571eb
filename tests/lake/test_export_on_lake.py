"""tests/api/test_export.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_export import *  # noqa: F403

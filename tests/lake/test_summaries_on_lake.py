"""tests/api/test_summaries.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_summaries import *  # noqa: F403

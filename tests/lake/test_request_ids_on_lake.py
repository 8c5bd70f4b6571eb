"""tests/api/test_request_ids.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_request_ids import *  # noqa: F403

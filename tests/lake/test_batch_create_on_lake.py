"""tests/api/test_batch_create.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_batch_create import *  # noqa: F403

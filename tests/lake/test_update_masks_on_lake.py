"""tests/api/test_update_masks.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_update_masks import *  # noqa: F403

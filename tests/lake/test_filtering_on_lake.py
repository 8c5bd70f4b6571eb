"""tests/api/test_filtering.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_filtering import *  # noqa: F403

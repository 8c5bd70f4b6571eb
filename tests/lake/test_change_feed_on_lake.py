"""tests/api/test_change_feed.py, run again on the lake (conftest.py): positions, feed, watch and read_time there."""

from tests.api.test_change_feed import *  # noqa: F403

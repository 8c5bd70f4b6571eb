"""tests/lifecycle/test_change_feed_restarts.py, run again on the lake: restart and kill -9 under the feed."""

from tests.lifecycle.test_change_feed_restarts import *  # noqa: F403

"""tests/api/test_projects_crud.py, run again on the lake (conftest.py): the same answers and errors as on the file."""

from tests.api.test_projects_crud import *  # noqa: F403

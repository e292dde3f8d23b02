"""Every bad input of the catalogue (tests/bad_inputs.py) gets its named error, and the
table in docs/errors.md is the one the catalogue produces today."""

import re

import pytest
from bad_inputs import CASES, DOCS_PAGE, Context, table

from stori_xr.exceptions import StoriError, StoriWarning


@pytest.fixture
def ctx(tmp_path, data_dir):
    return Context(tmp_path, data_dir)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_its_named_error(case, ctx):
    assert issubclass(case.error, StoriError | StoriWarning | FileNotFoundError)
    message = case.run(ctx)
    assert re.search(case.match, message), message
    assert "Traceback" not in message and len(message) < 700


def test_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


def test_docs_table_is_current(ctx):
    assert DOCS_PAGE.read_text() == table(ctx), "rewrite it: python tests/bad_inputs.py"

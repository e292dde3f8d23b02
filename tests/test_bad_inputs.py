"""Every bad input of the catalogue (tests/bad_inputs.py) gets exactly its named error,
and the table in docs/errors.md is the one the catalogue produces today."""

import re

import pytest
from bad_inputs import (
    CASES,
    DOCS_PAGE,
    GROUPS,
    KERNEL_CASES,
    KERNEL_GROUPS,
    Context,
    normalise,
    table,
)

from stori_xr.exceptions import StoriError, StoriWarning

USER_FACING = StoriError | StoriWarning | FileNotFoundError


@pytest.fixture
def ctx(tmp_path, data_dir):
    return Context(tmp_path, data_dir)


def _check(case, ctx):
    got = case.run(ctx)
    assert type(got) is case.error, f"{case.id}: {type(got).__name__}, not {case.error.__name__}"
    message = str(got)
    shown = normalise(message, ctx)  # as the table shows it: folders as <tmp>, <data>
    assert re.search(case.match, shown), shown
    assert "Traceback" not in message and len(message) < 700
    return got


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_its_named_error(case, ctx):
    assert isinstance(_check(case, ctx), USER_FACING)


@pytest.mark.parametrize("case", KERNEL_CASES, ids=[c.id for c in KERNEL_CASES])
def test_kernel_argument_gets_a_value_error(case, ctx):
    assert isinstance(_check(case, ctx), ValueError)


def test_ids_are_unique_and_groups_not_empty():
    ids = [c.id for c in CASES + KERNEL_CASES]
    assert len(ids) == len(set(ids))
    assert all(group.cases for group in GROUPS + KERNEL_GROUPS)


def test_docs_table_is_current(ctx):
    assert DOCS_PAGE.read_text() == table(ctx), "rewrite it: python tests/bad_inputs.py"

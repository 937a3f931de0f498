"""The examples in the docstrings of cnnlab.functional and cnnlab.gradcheck run and give what they show.

Most of them are the lectures' worked examples (lecture numbers in the docstrings), so a change
that breaks one breaks the numbers a student checks by hand.
"""

import doctest

import pytest

from cnnlab import gradcheck
from cnnlab.functional import activation, conv, correlate, pool, sizes

MODULES = [sizes, correlate, conv, pool, activation, gradcheck]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module.__name__} has no examples"
    assert result.failed == 0

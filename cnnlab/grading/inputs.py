"""Test inputs for the checks: readable numbers, fixed for visible tests, fresh for hidden ones.

Visible cases use fixed seeds so that students see the same example every
time. Hidden cases keep fixed *shapes* (the edge cases) but draw new *values*
on every run, so an answer cannot memorise them.
"""

import numpy as np

seeded = np.random.default_rng


def fresh_rng():
    """A generator seeded from the operating system on every call (hidden cases)."""
    return np.random.default_rng()


def small_ints(rng, shape, low=-3, high=4):
    """Small integers as floats (negative ones included): easy to read, exact in float64."""
    return rng.integers(low, high, size=shape).astype(float)


def negatives(rng, shape):
    """Distinct negative values only (no ties): catches a running maximum started at 0."""
    return -distinct_values(rng, shape, low=1)


def distinct_values(rng, shape, low=0):
    """Distinct values (a shuffled range starting at ``low``), so max pooling has no ties."""
    size = int(np.prod(shape))
    return (rng.permutation(size) + low).reshape(shape).astype(float)


def with_ties(rng, shape):
    """Values from a tiny range, so most windows have several equal maxima."""
    return rng.integers(-1, 2, size=shape).astype(float)


def uint8_image(rng, shape):
    """An 8-bit image as the notebooks load it (0..255, dtype uint8)."""
    return rng.integers(0, 256, size=shape).astype(np.uint8)


def int_array(rng, shape, low=-5, high=6):
    """Integers stored as int64 (a student's ``np.zeros_like(x)`` then holds ints)."""
    return rng.integers(low, high, size=shape).astype(np.int64)

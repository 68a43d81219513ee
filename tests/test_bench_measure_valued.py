"""The measure-valued estimator's blocked evaluation (the cost fixed for the benchmark).

Its statistics are tested in tests/test_estimators.py; here: blocking changes no number beyond
float reassociation, and the compiled program never holds a [K, D, D] array (the cause of
the old 2.4 s for K = 1e4, D = 100).
"""

import re

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import estimators as est
from rgrad.estimators import continuous

D = 6
PARAMS = [jnp.linspace(-1.0, 1.0, D), jnp.linspace(-0.5, 0.3, D)]


def _f(x):
    return jnp.sum(jnp.sin(x) * jnp.arange(1.0, D + 1)) + x[0] * x[1]


def _rows(n, coupling=True, key=3):
    return [np.asarray(j) for j in est.measure_valued_jacobians(
        _f, PARAMS, est.multi_normal, jax.random.key(key), n, coupling=coupling)]


def test_blocks_and_padding_change_no_row(monkeypatch):
    whole = {c: _rows(301, c) for c in (True, False)}  # one block at the default size
    monkeypatch.setattr(continuous, "_BLOCK_ELEMENTS", 500)  # noise blocks of 9, f blocks of 3
    for c in (True, False):
        for w, b in zip(whole[c], _rows(301, c), strict=True):
            assert b.shape == (301, D)
            np.testing.assert_allclose(b, w, rtol=1e-5, atol=1e-5)
    # The comparison can fail: other keys' rows (a dropped or shifted row) are far off.
    assert np.max(np.abs(_rows(301, key=4)[0] - whole[True][0])) > 0.1


def test_no_k_by_d_by_d_array_in_the_compiled_program():
    k, d = 4096, 32
    call = jax.jit(lambda key: est.measure_valued_jacobians(
        lambda x: jnp.sum(jnp.square(x)), [jnp.zeros(d), jnp.zeros(d)], est.multi_normal,
        key, k))
    hlo = call.lower(jax.random.key(0)).compile().as_text()
    shapes = set(re.findall(r"f32\[([0-9,]+)\]", hlo))
    big = [s for s in shapes if np.prod([int(x) for x in s.split(",")]) >= k * d * d]
    assert not big, f"arrays of K*D*D or more elements: {big}"

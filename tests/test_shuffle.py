import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from rgrad import shuffle


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1000, 60000])
def test_is_a_permutation(n):
    p = np.asarray(shuffle.permute(jax.random.key(3), jnp.arange(n), n))
    assert p.shape == (n,) and np.array_equal(np.sort(p), np.arange(n))


def test_keys_give_different_uncorrelated_orders():
    n = 5000
    a = np.asarray(shuffle.permute(jax.random.key(0), jnp.arange(n), n))
    b = np.asarray(shuffle.permute(jax.random.key(1), jnp.arange(n), n))
    assert not np.array_equal(a, b)
    # Position and value are independent: rank correlation ~ N(0, 1/n); 5 SE bound.
    for p in (a, b):
        assert abs(stats.spearmanr(np.arange(n), p).statistic) < 5 / np.sqrt(n)
    assert abs(stats.spearmanr(a, b).statistic) < 5 / np.sqrt(n)


def test_where_the_first_batch_lands_is_uniform():
    # Over many keys, the first element of a permutation of 10 is uniform (chi-square test).
    keys = jax.random.split(jax.random.key(0), 4000)
    first = jax.vmap(lambda k: shuffle.permute(k, jnp.zeros((1,), jnp.int32), 10)[0])(keys)
    counts = np.bincount(np.asarray(first), minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-3

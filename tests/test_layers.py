"""rgrad.layers.ConcreteDropout: the temperature limits of its masks, its gradient, and the
regularizer's formula."""

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import layers

N = 20_000
KEEP = jnp.array([0.1, 0.9])


def _masks(keep, tau, n=N):
    """n masks of a layer with keep probability `keep` (x = 1, so y * keep is the mask)."""
    layer = layers.ConcreteDropout(temperature=tau, init_keep=float(keep))
    params = layer.init(jax.random.key(0), jnp.ones((n,)), deterministic=True)
    y = layer.apply(params, jnp.ones((n,)), deterministic=False,
                    rngs={"dropout": jax.random.key(1)})
    return np.asarray(y) * float(keep)


def test_low_temperature_gives_hard_bernoulli_masks():
    for keep in (0.1, 0.9):
        m = _masks(keep, 1e-3)
        hard = np.round(m)
        # Spike and slab: |m - hard| < 1e-3 unless logit + L is within ~7e-3 of 0 (prob < 1%).
        assert np.mean(np.abs(m - hard) < 1e-3) > 0.99
        se = np.sqrt(keep * (1 - keep) / N)
        assert abs(hard.mean() - keep) < 5 * se


def test_high_temperature_gives_one_half_whatever_p():
    for keep in (0.1, 0.9):
        m = _masks(keep, 1e4)
        # |logit + L| < 25 except with probability ~1e-10, so |m - 1/2| < 25 / (4 tau).
        np.testing.assert_allclose(m, 0.5, atol=25 / 4e4)


def test_deterministic_is_identity_and_keep_prob_gets_a_gradient():
    layer = layers.ConcreteDropout(temperature=0.1, per_unit=True)
    x = jnp.linspace(0.5, 1.5, 8)
    params = layer.init(jax.random.key(0), x, deterministic=True)
    assert params["params"]["keep_logit"].shape == (8,)
    np.testing.assert_array_equal(layer.apply(params, x, deterministic=True), x)

    def out(p):
        return jnp.sum(layer.apply(p, x, deterministic=False, rngs={"dropout": jax.random.key(2)}))

    g = jax.grad(out)(params)["params"]["keep_logit"]
    assert np.all(np.isfinite(g)) and np.any(np.abs(g) > 1e-3)


def test_regularizer_formula():
    logit = jnp.log(0.8 / 0.2)
    w = jnp.arange(6.0).reshape(3, 2)
    r = layers.concrete_dropout_regularizer(logit, w, weight_regularizer=0.1,
                                            dropout_regularizer=0.01)
    entropy = -(0.8 * np.log(0.8) + 0.2 * np.log(0.2))
    np.testing.assert_allclose(r, 0.1 * np.sum(np.arange(6.0) ** 2) / 0.8 - 0.01 * 3 * entropy,
                               rtol=1e-5)

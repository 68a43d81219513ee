"""Local reparameterization: the sampled pre-activations have the weight-sampled distribution."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from rgrad import bayes_layers as bl

N = 4000  # draws; the SE of a sample variance is var * sqrt(2 / N), about 2%


def _draws(module, params, x, n):
    keys = jax.random.split(jax.random.key(7), n)
    return jax.jit(jax.vmap(lambda k: module.apply(params, x, rngs={"noise": k})))(keys)


def _init(module, x):
    return module.init({"params": jax.random.key(1), "noise": jax.random.key(2)}, x)


def test_dense_preactivation_distribution_matches_weight_sampling():
    x = jax.random.normal(jax.random.key(0), (2, 6))
    params = _init(bl.BayesDense(3, init_log_std=-0.7), x)
    p = params["params"]
    mean = np.asarray(x @ p["kernel_mean"] + p["bias"][None])  # [2, 3]
    var = np.asarray((x * x) @ jnp.exp(2 * p["kernel_log_std"]))
    draws = {m: np.asarray(_draws(bl.BayesDense(3, mode=m), params, x, N)) for m in bl.MODES}
    for mode, y in draws.items():
        assert y.shape == (N, 2, 3)
        se_mean = np.sqrt(var / N)
        assert np.all(np.abs(y.mean(0) - mean) < 5 * se_mean), mode
        se_var = var * np.sqrt(2.0 / (N - 1))
        assert np.all(np.abs(y.var(0, ddof=1) - var) < 5 * se_var), mode
        z = (y[:, 1, 2] - mean[1, 2]) / np.sqrt(var[1, 2])
        assert stats.kstest(z, "norm").pvalue > 1e-3, mode
    # Local reparameterization vs one weight sample per example, sample against sample.
    assert stats.ks_2samp(draws["local"][:, 0, 0], draws["per_example"][:, 0, 0]).pvalue > 1e-3
    # Only the shared sample correlates examples: cov(y_0, y_1) = sum_i x0_i x1_i s_i^2.
    cov = np.asarray((x[0] * x[1]) @ jnp.exp(2 * p["kernel_log_std"]))  # [3]
    for mode, y in draws.items():
        c = np.mean((y[:, 0] - mean[0]) * (y[:, 1] - mean[1]), 0)
        se = np.sqrt(var[0] * var[1] / N) * 1.5
        target = cov if mode == "shared" else 0.0
        assert np.all(np.abs(c - target) < 5 * se), mode


def _explicit_conv_variance(x, s2):
    """Per output pixel, sum over the receptive field of x^2 * Var(w) (SAME padding, stride 1)."""
    kh, kw, _, f = s2.shape
    b, h, w, _ = x.shape
    xp = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros((b, h, w, f))
    for i in range(h):
        for j in range(w):
            patch = xp[:, i:i + kh, j:j + kw, :] ** 2  # [B, kh, kw, C]
            out[:, i, j, :] = np.einsum("bhwc,hwcf->bf", patch, s2)
    return out


def test_conv_output_variance_is_squared_input_weighted_filter_variance():
    x = jax.random.normal(jax.random.key(3), (2, 5, 5, 2))
    module = bl.BayesConv(4, kernel_size=(3, 3), init_log_std=-1.0)
    params = _init(module, x)
    p = params["params"]
    # Vary the filter variances so that a wrong weighting cannot pass.
    p = {**p, "kernel_log_std": p["kernel_log_std"] + jax.random.uniform(
        jax.random.key(4), p["kernel_log_std"].shape, minval=-1.0, maxval=1.0)}
    params = {"params": p}
    s2 = np.asarray(jnp.exp(2 * p["kernel_log_std"]), np.float64)
    mu, var = module.apply(params, x, p["kernel_mean"], jnp.exp(p["kernel_log_std"]),
                           method=bl.BayesConv.moments)
    exact = _explicit_conv_variance(np.asarray(x, np.float64), s2)
    np.testing.assert_allclose(np.asarray(var), exact, rtol=1e-5)
    # The local and the weight-sampled convolutions both have this variance at every pixel.
    mean = np.asarray(mu + p["bias"][None, None, None])
    for mode in ("local", "shared"):
        y = np.asarray(_draws(bl.BayesConv(4, kernel_size=(3, 3), mode=mode), params, x, N))
        assert y.shape == (N, 2, 5, 5, 4)
        assert np.all(np.abs(y.mean(0) - mean) < 5 * np.sqrt(exact / N)), mode
        assert np.all(np.abs(y.var(0, ddof=1) - exact) < 5 * exact * np.sqrt(2 / (N - 1))), mode


def test_kl_to_prior_closed_form():
    p = {"a": {"kernel_mean": jnp.array([0.5, -1.0]), "kernel_log_std": jnp.log(jnp.array(
        [0.5, 2.0])), "bias": jnp.ones(2)}, "b": {"bias": jnp.zeros(3)}}
    prior = 2.0
    m, s = np.array([0.5, -1.0]), np.array([0.5, 2.0])
    want = np.sum(np.log(prior / s) + (s**2 + m**2) / (2 * prior**2) - 0.5)
    assert float(bl.kl_to_prior(p, prior)) == pytest.approx(want, rel=1e-5)


def test_unknown_mode_is_an_error():
    with pytest.raises(ValueError, match="per_example"):
        _init(bl.BayesDense(3, mode="weights"), jnp.ones((1, 2)))

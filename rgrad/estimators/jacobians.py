r"""Monte Carlo estimators of \nabla_\theta E_{p(x; \theta)}[f(x)], one Jacobian row per sample.

Drop-in replacements for the estimators of the removed `optax.monte_carlo` package
(optax <= 0.2.6): same positional signature `(function, params, dist_builder, rng,
num_samples)`, same return value (a list with one `[num_samples, *param.shape]` array per
parameter; its mean over axis 0 is the gradient estimate, its spread the estimator's noise).

Differences from optax: each sample gets its own key (`jax.random.split(rng, num_samples)`)
and the per-sample gradient is written for one sample and `jax.vmap`-ed; samples therefore
differ from `dist.sample(seed=rng, sample_shape=(num_samples,))`. Use `draw_samples` to get
the exact samples an estimator used.

`f` must not depend on `params`; see Mohamed, Rosca, Figurnov & Mnih, "Monte Carlo Gradient
Estimation in Machine Learning", JMLR 2020.
"""
from collections.abc import Callable, Sequence
from typing import Any

import distrax
import jax
import jax.numpy as jnp
import numpy as np

from rgrad.validation import check_args

Function = Callable[[jax.Array], jax.Array]


def multi_normal(mean: jax.Array, log_scale: jax.Array) -> distrax.MultivariateNormalDiag:
    """Diagonal Gaussian from `mean` `[D]` and `log_scale` `[D]` (log standard deviations)."""
    check_args(same_shape=(("mean", mean), ("log_scale", log_scale)))
    return distrax.MultivariateNormalDiag(mean, jnp.exp(log_scale))


def _sample_keys(rng: jax.Array, num_samples: int) -> jax.Array:
    return jax.random.split(rng, num_samples)


def draw_samples(
    params: Sequence[jax.Array], dist_builder: Callable[..., Any], rng: jax.Array,
    num_samples: int,
) -> jax.Array:
    """The samples `[num_samples, D]` that the pathwise and score-function estimators use."""
    check_args(num_samples=num_samples, params=params)
    dist = dist_builder(*params)
    return jax.vmap(lambda k: dist.sample(seed=k))(_sample_keys(rng, num_samples))


def pathwise_jacobians(
    function: Function, params: Sequence[jax.Array], dist_builder: Callable[..., Any],
    rng: jax.Array, num_samples: int,
) -> list[jax.Array]:
    r"""Pathwise (reparameterization) estimator: grad_theta f(g(eps; theta)), eps ~ p(eps).

    Requires a reparameterized `sample` (distrax does this for Gaussians) and a
    differentiable `function`.

    Args:
        function: `f(x)`, one sample `[D]` to a scalar.
        params: list of arrays, e.g. `[mean, log_scale]`.
        dist_builder: `dist_builder(*params)` returns a distribution.
        rng: PRNG key.
        num_samples: number of samples N (static under jit).

    Returns:
        List with one array `[N, *param.shape]` of per-sample Jacobians per parameter.
    """
    check_args(num_samples=num_samples, params=params)

    def one(key):
        return jax.grad(lambda p: function(dist_builder(*p).sample(seed=key)))(list(params))

    return jax.vmap(one)(_sample_keys(rng, num_samples))


def score_function_jacobians(
    function: Function, params: Sequence[jax.Array], dist_builder: Callable[..., Any],
    rng: jax.Array, num_samples: int,
) -> list[jax.Array]:
    r"""Score-function (REINFORCE) estimator: f(x) grad_theta log p(x; theta), x ~ p.

    Needs only `log_prob` to be differentiable in `params`; `f` can be a black box.

    Args:
        function: `f(x)`, one sample `[D]` to a scalar.
        params: list of arrays, e.g. `[mean, log_scale]`.
        dist_builder: `dist_builder(*params)` returns a distribution.
        rng: PRNG key.
        num_samples: number of samples N (static under jit).

    Returns:
        List with one array `[N, *param.shape]` of per-sample Jacobians per parameter.
    """
    check_args(num_samples=num_samples, params=params)
    params = list(params)
    dist = dist_builder(*params)

    def one(key):
        x = jax.lax.stop_gradient(dist.sample(seed=key))  # [D]
        score = jax.grad(lambda p: dist_builder(*p).log_prob(x))(params)
        fx = function(x)
        return [fx * s for s in score]

    return jax.vmap(one)(_sample_keys(rng, num_samples))


def _replace_each_coordinate(x: jax.Array, values: jax.Array) -> jax.Array:
    """`[D]`, `[D]` -> `[D, D]`: row i is x with coordinate i replaced by values[i]."""
    d = x.shape[0]
    eye = jnp.eye(d, dtype=bool)
    return jnp.where(eye, values[None, :], x[None, :])


def _measure_valued_noise(key: jax.Array, d: int, dtype, coupling: bool):
    """Base normal and the positive/negative noises, each `[D]`, from two random calls.

    Rayleigh(1) = Weibull(scale sqrt 2, concentration 2) by inverse CDF; the double-sided
    Maxwell (density x^2 N(x; 0, 1)) as a random sign times the norm of a 3-D normal. Few
    random calls keep compile time low (threefry is unrolled per call).
    """
    k_normal, k_unif = jax.random.split(key)
    z = jax.random.normal(k_normal, (d, 5), dtype)  # base, 3 for Maxwell, uncoupled normal
    u = jax.random.uniform(k_unif, (d, 4), dtype, minval=jnp.finfo(dtype).tiny)
    rayleigh = jnp.sqrt(-2.0 * jnp.log(u[:, :2]))  # [D, 2]
    maxwell = jnp.where(u[:, 2] < 0.5, -1.0, 1.0) * jnp.linalg.norm(z[:, 1:4], axis=-1)
    w_pos = rayleigh[:, 0]
    w_neg = w_pos if coupling else rayleigh[:, 1]
    # U * Maxwell is exactly N(0, 1): the coupled negative part for the scale.
    gauss = u[:, 3] * maxwell if coupling else z[:, 4]
    return z[:, 0], w_pos, w_neg, maxwell, gauss


def measure_valued_jacobians(
    function: Function, params: Sequence[jax.Array], dist_builder: Callable[..., Any],
    rng: jax.Array, num_samples: int, coupling: bool = True,
) -> list[jax.Array]:
    r"""Measure-valued estimator for a diagonal Gaussian built by `multi_normal`.

    Writes d/dtheta_i N(x; mu, sigma) as c_i (p_i^+ - p_i^-) and estimates
    (E_{p^+} f - E_{p^-} f) c_i, one coordinate i at a time (the other coordinates keep the
    base Gaussian sample), so each sample costs 2 D evaluations of f.

    * mean: p^+ = mu + sigma W, p^- = mu - sigma W', W, W' ~ Weibull(scale sqrt 2, shape 2)
      (a Rayleigh(1)), c = 1 / (sqrt(2 pi) sigma).
    * scale: p^+ = mu + sigma M with M double-sided Maxwell, p^- = mu + sigma G with
      G ~ N(0, 1), c = 1 / sigma; the log-scale Jacobian is sigma times this.

    With `coupling=True` the negative part reuses the positive noise: W' = W, and
    G = U M with U ~ Uniform(0, 1) (U M is exactly standard normal), which lowers variance.

    Args:
        function: `f(x)`, one sample `[D]` to a scalar.
        params: `[mean, log_scale]`, each `[D]`.
        dist_builder: must be `rgrad.estimators.multi_normal`.
        rng: PRNG key.
        num_samples: number of samples N (static under jit).
        coupling: share noise between the positive and negative parts.

    Returns:
        `[mean_jacobians [N, D], log_scale_jacobians [N, D]]`.

    Raises:
        ValueError: for any other `dist_builder`, bad `num_samples` or shapes.
    """
    if dist_builder is not multi_normal:
        raise ValueError(
            f"dist_builder={getattr(dist_builder, '__name__', dist_builder)!r} is not "
            "supported by measure_valued_jacobians, which only knows the diagonal Gaussian; "
            "pass dist_builder=rgrad.estimators.multi_normal with params=[mean, log_scale], "
            "or use pathwise_jacobians / score_function_jacobians.")
    check_args(num_samples=num_samples, params=params)
    if len(params) != 2 or jnp.ndim(params[0]) != 1:
        raise ValueError(
            "params must be [mean, log_scale], each of shape [D], for measure_valued_jacobians; "
            f"got {len(params)} arrays with shapes {[jnp.shape(p) for p in params]}.")
    mean, log_scale = params
    check_args(same_shape=(("mean", mean), ("log_scale", log_scale)))
    scale = jnp.exp(log_scale)  # [D]
    d = mean.shape[0]
    f_rows = jax.vmap(function)  # [D, D] -> [D]

    def one(key):
        eps, w_pos, w_neg, m_pos, g = _measure_valued_noise(key, d, mean.dtype, coupling)
        x = mean + scale * eps  # [D]
        g_mean = (f_rows(_replace_each_coordinate(x, mean + scale * w_pos))
                  - f_rows(_replace_each_coordinate(x, mean - scale * w_neg)))
        g_mean = g_mean / (np.sqrt(2.0 * np.pi) * scale)
        g_scale = (f_rows(_replace_each_coordinate(x, mean + scale * m_pos))
                   - f_rows(_replace_each_coordinate(x, mean + scale * g))) / scale
        return [g_mean, scale * g_scale]  # chain rule: d/dlog_sigma = sigma d/dsigma

    return jax.vmap(one)(_sample_keys(rng, num_samples))

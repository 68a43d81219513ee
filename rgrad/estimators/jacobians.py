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

from rgrad.estimators.continuous import MeasureValued, Pathwise, ScoreFunction
from rgrad.validation import check_args

Function = Callable[[jax.Array], jax.Array]


class MultiNormalDiagFromLogScale(distrax.MultivariateNormalDiag):
    """Diagonal Gaussian from a mean and log standard deviations that takes both call forms.

    A distrax distribution (`sample(seed=key, sample_shape=shape)`, `log_prob`, ...) that also
    accepts the removed `optax.monte_carlo` forms: `sample(shape, key)` (positional, or
    `sample(shape, key=key)`) and the `params` (`[mean, log_scale]`) and `log_scale`
    properties. `sample(shape, key)` is `sample(seed=key, sample_shape=shape)`: same draws.
    """

    def __init__(self, loc: jax.Array, log_scale: jax.Array):
        super().__init__(loc, jnp.exp(log_scale))
        self._log_scale = log_scale

    @property
    def log_scale(self) -> jax.Array:
        return self._log_scale  # [D]

    @property
    def params(self) -> list[jax.Array]:
        return [self.loc, self._log_scale]

    def sample(self, shape=None, key=None, *, seed=None, sample_shape=()) -> jax.Array:
        """Draws `[*shape, D]`: `sample(seed=key, sample_shape=shape)` or `sample(shape, key)`."""
        if shape is not None or key is not None:  # optax's form
            if seed is not None or shape is None or key is None:
                raise ValueError("sample takes either distrax's seed=key, sample_shape=shape or "
                                 "optax's (shape, key), both of them; got a mix of the two.")
            seed, sample_shape = key, shape
        elif seed is None:
            raise ValueError("sample needs a key: call sample(seed=key, sample_shape=shape) or "
                             "sample(shape, key).")
        return super().sample(seed=seed, sample_shape=sample_shape)


def multi_normal(mean: jax.Array, log_scale: jax.Array) -> MultiNormalDiagFromLogScale:
    """Diagonal Gaussian from `mean` `[D]` and `log_scale` `[D]` (log standard deviations)."""
    check_args(same_shape=(("mean", mean), ("log_scale", log_scale)))
    return MultiNormalDiagFromLogScale(mean, log_scale)


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
    return _per_sample_jacobians(Pathwise(), function, params, dist_builder, rng, num_samples)


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
    return _per_sample_jacobians(ScoreFunction(), function, params, dist_builder, rng,
                                 num_samples)


def _per_sample_jacobians(estimator, function, params, dist_builder, rng, num_samples):
    """One row per sample: the gradient of ``estimator``'s one-sample surrogate."""
    batched = jax.vmap(function)  # [1, D] -> [1]

    def one(key):
        def surrogate(p):
            return estimator(batched, dist_builder(*p), key=key, num_samples=1).surrogate
        return jax.grad(surrogate)(list(params))

    return jax.vmap(one)(_sample_keys(rng, num_samples))


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
    j_loc, j_log_scale, _ = MeasureValued(coupling).weights(
        jax.vmap(function), mean, jnp.exp(log_scale), _sample_keys(rng, num_samples))
    return [j_loc, j_log_scale]

r"""Pathwise, score-function, measure-valued and imputation estimators as :class:`Estimator`\ s.

See :mod:`rgrad.estimators.base` for the calling convention. Each estimator's functional,
per-sample form (``pathwise_jacobians`` etc., the former ``optax.monte_carlo`` API) is in
:mod:`rgrad.estimators.jacobians` and calls these objects.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import surrogate as surrogate_lib
from rgrad.estimators import base
from rgrad.estimators.baselines import Baseline, NoBaseline

sg = jax.lax.stop_gradient


class Pathwise(base.Estimator):
    """z = g(eps; theta) differentiable (the reparameterization trick); grad f(g(eps))."""

    name = "pathwise"
    objectives = ("mean", "logmeanexp")

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        value = base.reduce(f(dist.sample(seed=key, sample_shape=(num_samples,))), objective)
        return base.Estimate(value, value)


class ScoreFunction(base.Estimator):
    """REINFORCE: (f(z) - b) grad log q(z), z ~ q held fixed, plus f's direct gradient.

    With per-step costs ``[K, T]`` each step's log-probability is weighted by its cost to go.
    """

    name = "score_function"
    kinds = ("categorical", "bernoulli")

    def __init__(self, baseline: Baseline | None = None):
        self.baseline = baseline or NoBaseline()
        self.min_samples = self.baseline.min_samples
        self.joint_terms = self.baseline.min_samples > 1  # leave-one-out couples the draws

    def init(self):
        return self.baseline.init()

    def update(self, state, values):
        return self.baseline.update(state, values)

    def from_samples(self, f_values, log_prob, state=None):
        """The surrogate for draws made elsewhere (an environment's rollouts), [K] or [K, T].

        ``log_prob`` must be differentiable in the parameters and the draws held fixed.
        """
        f_values, log_prob = jnp.asarray(f_values), jnp.asarray(log_prob)
        if f_values.ndim == 1:
            b = self.baseline.value(state, sg(f_values))
            return jnp.mean(surrogate_lib.score_function_surrogate(f_values, log_prob, b))
        to_go = base.cost_to_go(f_values)  # [K, T]
        advantage = sg(to_go - self.baseline.value(state, sg(to_go)))
        score = jnp.sum(advantage * (log_prob - sg(log_prob)), axis=1)
        return jnp.mean(jnp.sum(f_values, axis=1) + score)

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        z = sg(dist.sample(seed=key, sample_shape=(num_samples,)))
        f_values = f(z)
        surrogate = self.from_samples(f_values, jax.vmap(dist.log_prob)(z), state)
        return base.Estimate(surrogate, base.reduce(f_values, "mean"))

    def terms(self, f, dist, *, key, num_samples, state=None, params=None, temperature=None):
        """One term per draw of one batch (the leave-one-out terms when the baseline is)."""
        z = sg(dist.sample(seed=key, sample_shape=(num_samples,)))
        f_values = f(z)  # [K]
        b = self.baseline.value(state, sg(f_values))
        return surrogate_lib.score_function_surrogate(f_values, jax.vmap(dist.log_prob)(z), b)


class Imputation(base.Estimator):
    """Fisher's identity: z ~ p(z | y; theta) held fixed, grad of the complete-data f(z).

    ``dist`` is the posterior of the missing values (e.g. censored log-times) and ``f`` the
    complete-data log-likelihood; unbiased for grad log p(y; theta) when the draw is exact.
    """

    name = "imputation"

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        value = base.reduce(f(sg(dist.sample(seed=key, sample_shape=(num_samples,)))),
                            "mean")
        return base.Estimate(value, value)


def gaussian_loc_scale(dist) -> tuple[jax.Array, jax.Array]:
    """(loc, scale) ``[D]`` of a diagonal Gaussian: ``Independent(Normal)`` or ``*Diag``."""
    inner = getattr(dist, "distribution", None)
    if inner is not None and hasattr(inner, "loc") and hasattr(inner, "scale"):
        return inner.loc, inner.scale
    if hasattr(dist, "scale_diag"):
        return dist.loc, dist.scale_diag
    raise ValueError(f"{type(dist).__name__} is not a diagonal Gaussian; the measure-valued "
                     "estimator needs distrax.Independent(distrax.Normal(loc, scale), 1) or "
                     "distrax.MultivariateNormalDiag.")


def measure_valued_noise(key, shape, dtype, coupling: bool):
    """Base normal and the positive/negative noises, each ``shape + [D]``; two random calls.

    Rayleigh(1) = Weibull(scale sqrt 2, concentration 2) by inverse CDF; the double-sided
    Maxwell (density x^2 N(x; 0, 1)) as a random sign times the norm of a 3-D normal. Few
    random calls keep compile time low (threefry is unrolled per call).
    """
    k_normal, k_unif = jax.random.split(key)
    z = jax.random.normal(k_normal, (*shape, 5), dtype)  # base, 3 for Maxwell, uncoupled
    u = jax.random.uniform(k_unif, (*shape, 4), dtype, minval=jnp.finfo(dtype).tiny)
    rayleigh = jnp.sqrt(-2.0 * jnp.log(u[..., :2]))
    maxwell = jnp.where(u[..., 2] < 0.5, -1.0, 1.0) * jnp.linalg.norm(z[..., 1:4], axis=-1)
    w_pos = rayleigh[..., 0]
    w_neg = w_pos if coupling else rayleigh[..., 1]
    gauss = u[..., 3] * maxwell if coupling else z[..., 4]  # U * Maxwell is exactly N(0, 1)
    return z[..., 0], w_pos, w_neg, maxwell, gauss


def _replace_each_coordinate(x: jax.Array, values: jax.Array) -> jax.Array:
    """[D], [D] -> [D, D]: row i is x with coordinate i replaced by values[i]."""
    eye = jnp.eye(x.shape[0], dtype=bool)
    return jnp.where(eye, values[None, :], x[None, :])


# Elements per block: a block's arrays stay in the CPU's cache (about 4 MB of float32).
_BLOCK_ELEMENTS = 1 << 20


def _in_blocks(fn, xs, size: int):
    """``fn`` (maps a batch ``[B, ...]`` pytree to a batch) over ``xs`` in blocks of ``size``.

    One ``lax.scan`` over blocks; the last block is padded with copies of the last row (one
    traced body keeps compile time low) and the padding's rows are dropped. Rows are
    independent, so the result equals ``fn(xs)`` up to float reassociation.
    """
    n = jax.tree.leaves(xs)[0].shape[0]
    size = max(1, min(size, n))
    blocks = -(-n // size)
    if blocks == 1:
        return fn(xs)
    pad = blocks * size - n

    def split(a):  # [N, ...] -> [blocks, size, ...]
        a = jnp.concatenate([a, jnp.repeat(a[-1:], pad, axis=0)]) if pad else a
        return a.reshape(blocks, size, *a.shape[1:])

    ys = jax.lax.scan(lambda _, blk: (None, fn(blk)), None, jax.tree.map(split, xs))[1]
    return jax.tree.map(lambda a: a.reshape(blocks * size, *a.shape[2:])[:n], ys)


class MeasureValued(base.Estimator):
    r"""Measure-valued derivative of a diagonal Gaussian (Mohamed et al. 2020, Sec. 6).

    d/dtheta_i N(x; mu, sigma) = c_i (p_i^+ - p_i^-), one coordinate at a time (the others
    keep the base sample), 2 D evaluations of f per sample:

    * mean: p^+ = mu + sigma W, p^- = mu - sigma W', W, W' ~ Rayleigh(1),
      c = 1 / (sqrt(2 pi) sigma);
    * scale: p^+ = mu + sigma M (double-sided Maxwell), p^- = mu + sigma G, G ~ N(0, 1),
      c = 1 / sigma.

    With ``coupling`` the negative part reuses the positive noise (W' = W, G = U M). The
    surrogate is linear in (loc, log scale) with these weights, so its gradient reaches
    whatever the Gaussian's parameters depend on; f's direct dependence on the parameters is
    differentiated at the base sample.

    Cost: each sample evaluates f on 4 ``[D, D]`` matrices. Those are built and reduced in
    blocks that fit the cache, and the noise is drawn in blocks of its own and materialised
    before the matrices are built: left to itself XLA fuses the noise's transcendental
    functions (erf_inv, log, sqrt) into the ``[K, D, D]`` consumers, recomputing them D times
    per value, and streams four ``[K, D, D]`` arrays through memory (2.4 s for K = 1e4,
    D = 100; 16 GB at K = 1e5).
    """

    name = "measure_valued"

    def __init__(self, coupling: bool = True):
        self.coupling = coupling

    def weights(self, f, loc, scale, keys):
        """Weights ``[K, D]`` of loc and log scale, and the base samples ``[K, D]``, one row
        per key ``[K]``; ``f`` maps ``[D, D]`` rows to ``[D]``."""
        d = loc.shape[0]

        def draw(key):  # the noise of one sample: base sample [D], replacements [4, D]
            eps, w_pos, w_neg, m_pos, g = measure_valued_noise(key, (d,), loc.dtype,
                                                               self.coupling)
            pos_neg = jnp.stack([loc + scale * w_pos, loc - scale * w_neg,
                                 loc + scale * m_pos, loc + scale * g])
            return loc + scale * eps, pos_neg

        def evaluate(x, values):  # [D], [4, D] -> [4, D]
            return jax.vmap(lambda v: f(_replace_each_coordinate(x, v)))(values)

        def block(keys_b):  # [B] -> ([B, D], [B, 4, D])
            x, values = jax.vmap(draw)(keys_b)
            fx = _in_blocks(lambda xv: jax.vmap(evaluate)(*xv), (x, values),
                            _BLOCK_ELEMENTS // (4 * d * d))
            return x, fx

        x, fx = _in_blocks(block, keys, _BLOCK_ELEMENTS // (9 * d))  # 9 draws per coordinate
        g_mean = fx[:, 0] - fx[:, 1]  # [K, D]
        g_scale = (fx[:, 2] - fx[:, 3]) / scale[None, :]
        return g_mean / (np.sqrt(2.0 * np.pi) * scale)[None, :], scale[None, :] * g_scale, x

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        loc, scale = gaussian_loc_scale(dist)
        j_loc, j_ls, x = self.weights(f, sg(loc), sg(scale), jax.random.split(key, num_samples))
        value = base.reduce(f(sg(x)), "mean")
        linear = jnp.sum(jnp.mean(sg(j_loc), 0) * loc) + jnp.sum(
            jnp.mean(sg(j_ls), 0) * jnp.log(scale))
        return base.Estimate(value + linear - sg(linear), value)

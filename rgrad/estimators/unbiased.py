r"""Unbiased estimators for discrete latents: RLOO, NVIL, VIMCO, IndeCateR (ARM, DisARM in
:mod:`.antithetic`).

All follow :mod:`rgrad.estimators.base`: ``f`` maps stacked draws ``[K, *event]`` to ``[K]``
and the surrogate's gradient w.r.t. anything ``f`` or the distribution depend on is the
estimate. Draws carry no gradient; f's own parameters are differentiated at the draws.
``REGISTERED`` lists all six for the registry.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad.estimators import base
from rgrad.estimators.antithetic import ARM, DisARM
from rgrad.estimators.baselines import LeaveOneOut
from rgrad.estimators.continuous import ScoreFunction
from rgrad.estimators.latents import as_discrete
from rgrad.estimators.networks import tanh_mlp, tanh_mlp_init

sg = jax.lax.stop_gradient


class RLOO(ScoreFunction):
    r"""REINFORCE leave-one-out (Kool, van Hoof & Welling 2019, "Buy 4 REINFORCE samples, get
    a baseline for free!"): with K >= 2 draws of one example,

        g = 1/K sum_k (f(z_k) - 1/(K-1) sum_{j != k} f(z_j)) grad log q(z_k),

    plus f's own gradient at the draws. The score function with the :class:`LeaveOneOut`
    baseline fixed (so the registry refuses ``baseline=``); its :meth:`terms` are the K
    leave-one-out terms of one batch.
    """

    name = "rloo"
    min_samples = 2
    joint_terms = True

    def __init__(self):
        super().__init__(LeaveOneOut())

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        return super().__call__(f, dist, key=key, num_samples=num_samples, state=state)

    def terms(self, f, dist, *, key, num_samples, state=None, params=None, temperature=None):
        self.check(num_samples=num_samples)
        return super().terms(f, dist, key=key, num_samples=num_samples, state=state)


class NVIL(base.Estimator):
    r"""NVIL (Mnih & Gregor 2014, "Neural variational inference and learning in belief
    networks"): the score function with a learned, input-dependent baseline and variance
    normalisation,

        g = 1/K sum_k (f(z_k) - c - b_psi(x)) / max(1, sqrt(v)) grad log q(z_k)

    plus f's own gradient at the draws. Here the estimator sees only q, so the network's input
    x is ``stop_gradient(logits)`` flattened (a function of the example, not of the draw: the
    estimate stays unbiased). b_psi is a tanh MLP with ``hidden`` units whose output layer
    starts at zero; psi comes from :meth:`init_params` and is trained by ``control_loss`` =
    mean_k (f(z_k) - c - b_psi(x))^2 (f and c held fixed), which reaches psi only.

    c and v (the state, from :meth:`init`) are running averages with ``decay`` (the paper's
    alpha = 0.8) of the batch mean of f and of the mean square of f - c over the batch. As
    :meth:`update` sees only the objective values, v is the variance of f - c, not of the
    signal f - c - b_psi(x) that the paper tracks; it is an upper bound when b_psi fits. The
    normalisation divides the score part by a positive number fixed within a batch (1 before
    the first update and whenever v <= 1), so the direction is unbiased and, at the initial
    state or with ``normalise=False``, the estimate itself.

    ``normalise`` is off by default: in a library the score part is one term of a loss whose
    other terms (an exact KL, a decoder) it would rescale against. On the categorical VAE,
    whose KL is exact, the normalised estimator let the KL win and collapsed the posterior
    (test -ELBO 257 at 5000 steps, BENCHMARKS.md); turn it on where f is the whole objective.
    """

    name = "nvil"
    kinds = ("categorical", "bernoulli")

    def __init__(self, hidden: int = 32, decay: float = 0.8, normalise: bool = False):
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden={hidden!r} must be a positive int (units of the baseline "
                             "network).")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay={decay} must lie in [0, 1) (running mean and variance).")
        self.hidden, self.decay, self.normalise = hidden, decay, normalise

    def init(self):
        return {"mean": jnp.zeros(()), "var": jnp.zeros(()), "count": jnp.zeros((), jnp.int32)}

    def update(self, state, values):
        values = sg(values)
        w = jnp.where(state["count"] > 0, self.decay, 0.0)  # first batch: its own statistics
        mean = w * state["mean"] + (1.0 - w) * jnp.mean(values)
        var = w * state["var"] + (1.0 - w) * jnp.mean((values - mean) ** 2)
        return {"mean": mean, "var": var, "count": state["count"] + 1}

    def init_params(self, key, dist):
        size = int(np.prod(as_discrete(dist).logits.shape))
        return tanh_mlp_init(key, size, self.hidden)

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        if params is None:
            raise ValueError("estimator='nvil' needs params= (its baseline network), from "
                             "estimator.init_params(key, dist).")
        state = self.init() if state is None else state
        latents = as_discrete(dist)
        z = sg(latents.sample(seed=key, sample_shape=(num_samples,)))  # [K, *event]
        f_values = base.totals(f(z))  # [K]
        x = sg(latents.logits).reshape(-1)  # [D]: the example, not the draw
        baseline = sg(state["mean"] + tanh_mlp(sg(params), x))
        scale = jnp.maximum(1.0, jnp.sqrt(state["var"])) if self.normalise else 1.0
        signal = sg((f_values - baseline) / scale)  # [K]
        log_q = jax.vmap(latents.log_prob)(z)  # [K]
        surrogate = jnp.mean(f_values + signal * (log_q - sg(log_q)))
        control = jnp.mean((sg(f_values) - sg(state["mean"]) - tanh_mlp(params, x)) ** 2)
        return base.Estimate(surrogate, jnp.mean(f_values), control)


def vimco_signals(f_values: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """[K] log weights -> (L, learning signals L - L_{-k} [K], normalised weights [K]).

    L = log 1/K sum_j exp f_j; L_{-k} is L with f_k replaced by the mean of the other f's
    (the log of their geometric mean), which does not depend on z_k.
    """
    k = f_values.shape[0]
    bound = jax.nn.logsumexp(f_values) - jnp.log(k)
    others = (jnp.sum(f_values) - f_values) / (k - 1)  # [K]
    replaced = jnp.where(jnp.eye(k, dtype=bool), others[:, None], f_values[None, :])  # [K, K]
    loo = jax.nn.logsumexp(replaced, axis=1) - jnp.log(k)
    return bound, bound - loo, jax.nn.softmax(f_values)


class VIMCO(base.Estimator):
    r"""VIMCO (Mnih & Rezende 2016, "Variational inference for Monte Carlo objectives"):
    the gradient of the multi-sample bound L = log 1/K sum_k exp f(z_k), z_k ~ q,

        g = sum_k (L - L_{-k}) grad log q(z_k) + sum_k w_k grad f(z_k),

    w = softmax(f), L_{-k} = L with f_k replaced by the mean of the other K - 1 values. The
    first sum is the score part with per-sample leave-one-out signals; the second is the
    pathwise part for f's own parameters (a log weight's -log q included). ``objective`` must
    be ``"logmeanexp"``, K >= 2. ``dist`` needs only ``sample`` and ``log_prob``.

    :meth:`terms` gives K terms of one batch, term_k = L + K w_k (f_k - f_k) + K (L - L_{-k})
    (log q_k - log q_k) (the second of each pair held fixed), whose mean is the surrogate. So
    ``rgrad.discrete.vimco_jacobians(function, logits, rng, K)`` returns the K rows
    K (L - L_{-k}) grad_logits log q(z_k) of ONE batch of K draws; their mean estimates
    grad_logits E[log 1/K sum_k exp function(z_k)] (the K-sample bound, not E[function]).
    """

    name = "vimco"
    objectives = ("logmeanexp",)
    min_samples = 2
    kinds = ("categorical", "bernoulli")
    joint_terms = True

    def check(self, *, objective="logmeanexp", num_samples=1):
        """As :meth:`Estimator.check`, with VIMCO's only objective as the default."""
        super().check(objective=objective, num_samples=num_samples)

    def _draw(self, f, dist, key, num_samples):
        z = sg(dist.sample(seed=key, sample_shape=(num_samples,)))  # [K, *event]
        return base.totals(f(z)), jax.vmap(dist.log_prob)(z)  # [K], [K]

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        f_values, log_q = self._draw(f, dist, key, num_samples)
        bound = vimco_signals(f_values)[0]  # its gradient is sum_k w_k grad f_k
        signals = vimco_signals(sg(f_values))[1]
        return base.Estimate(bound + jnp.sum(signals * (log_q - sg(log_q))), bound)

    def terms(self, f, dist, *, key, num_samples, state=None, params=None, temperature=None):
        self.check(num_samples=num_samples)
        f_values, log_q = self._draw(f, dist, key, num_samples)
        bound, signals, weights = vimco_signals(sg(f_values))
        return (bound + num_samples * weights * (f_values - sg(f_values))
                + num_samples * signals * (log_q - sg(log_q)))


class IndeCateR(base.Estimator):
    r"""IndeCateR (De Smet, Sansone & Zuidberg Dos Martires 2023, "Differentiable sampling of
    categorical distributions using the CatLog-derivative trick"): for independent variables
    d = 1..D with C classes each (C = 2, classes {0, 1}, for Bernoulli latents),

        g = 1/K sum_k sum_d sum_c grad p_d(c) f(z_k with z_{k,d} <- c),

    unbiased because E[f] = E_{z_{-d}}[sum_c p_d(c) f(z_{-d}, c)] for every d. Each draw
    costs D C evaluations of f, all K D C replacements (and the K draws themselves) stacked
    into ONE call. The surrogate is mean_k f(z_k) (f's own gradient at the draws) plus
    S - stop_gradient(S), S = sum_{d, c} p_d(c) mean_k stop_gradient(f(z_{k, d <- c})), so
    f's own parameters are not counted twice.
    """

    name = "indecater"
    kinds = ("categorical", "bernoulli")

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        latents = as_discrete(dist)
        event = latents.logits.shape
        z = sg(latents.sample(seed=key, sample_shape=(num_samples,)))  # [K, *event]
        if latents.kind == "categorical":
            c = event[-1]
            rows = z.reshape(num_samples, -1, c)  # [K, D, C] one-hot
            classes = jnp.eye(c, dtype=z.dtype)  # [C, C]: class c's one-hot row
            probs = jax.nn.softmax(latents.logits, axis=-1).reshape(-1, c)  # [D, C]
        else:
            rows = z.reshape(num_samples, -1, 1)  # [K, D, 1]
            classes = jnp.array([[0.0], [1.0]], z.dtype)  # [2, 1]
            p1 = jax.nn.sigmoid(latents.logits).reshape(-1)
            probs = jnp.stack([1.0 - p1, p1], axis=-1)  # [D, 2]
        d, c = probs.shape
        at_d = jnp.eye(d, dtype=bool)[:, None, :, None]  # [D, 1, D, 1]: variable d replaced
        replaced = jnp.where(at_d[None], classes[None, None, :, None, :],
                             rows[:, None, None])  # [K, D, C, D, E]
        f_all = base.totals(f(jnp.concatenate([z, replaced.reshape(-1, *event)], axis=0)))
        f_z = f_all[:num_samples]  # [K]
        f_rep = jnp.mean(sg(f_all[num_samples:]).reshape(num_samples, d, c), axis=0)
        s = jnp.sum(probs * f_rep)
        value = jnp.mean(f_z)
        return base.Estimate(value + s - sg(s), value)


REGISTERED: tuple = (RLOO, NVIL, VIMCO, ARM, DisARM, IndeCateR)
__all__ = ["ARM", "DisARM", "IndeCateR", "NVIL", "RLOO", "REGISTERED", "VIMCO",
           "vimco_signals"]

"""LQG control by stochastic policy gradients, measured against the Riccati optimum.

A fixed, well-conditioned finite-horizon problem (:func:`problem`; float32 throughout). The
policy ``u_t = K_t x_t + k_t + sigma_t eps_t`` (see :mod:`rgrad.lqg`) has parameters K and k;
the exploration noise sigma is fixed (``config.sigma``), so the optimum over the policy class
is the Riccati gains with cost :func:`rgrad.lqg.optimal_cost`. Each step draws
``batch_size`` rollouts of :class:`rgrad.lqg.Trajectories` and estimates the gradient of the
expected cost with the estimator of ``config.estimator`` (:mod:`rgrad.estimators`), fed the
per-step costs ``[batch_size, T]``:

* ``pathwise``: autodiff through the sampled rollouts (reparameterized noise);
* ``score_function``: sum_t grad log pi(u_t|x_t) times the cost-to-go from t, with the
  leave-one-out mean cost-to-go over the batch as baseline (``baseline='rloo'``).

The metric ``riccati_gap`` = exact expected cost / Riccati optimum - 1 is logged every step
(computed in closed form, not sampled).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import estimators, lqg
from rgrad.config_checks import check_estimator
from rgrad.task import Task


def problem() -> lqg.LQG:
    """4 states (two lightly damped, coupled oscillators, spectral radius ~1.01), 2 controls."""
    A = np.array([[1.0, 0.1, 0.0, 0.0],
                  [-0.1, 1.0, 0.05, 0.0],
                  [0.0, 0.0, 1.0, 0.1],
                  [0.0, 0.05, -0.1, 0.98]], np.float32)
    B = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.0], [0.02, 0.1]], np.float32)
    n = A.shape[0]
    return lqg.LQG(A=jnp.asarray(A), B=jnp.asarray(B), Q=jnp.eye(n), R=0.1 * jnp.eye(2),
                   Qf=jnp.eye(n), W=0.01 * jnp.eye(n), m0=jnp.array([1.0, 0.0, -1.0, 0.5]),
                   S0=0.1 * jnp.eye(n))


ALLOWED = ("pathwise", "score_function")


def default_baseline(config) -> str:
    """``config.baseline`` if set, else the leave-one-out mean cost-to-go over the batch for
    an estimator that takes a baseline (the score function) and none for the others.

    ``from_config(..., baseline="rloo")`` alone would reject the pathwise estimator.
    """
    if config.get("baseline"):
        return config.baseline
    cls = estimators.ESTIMATORS.get(config.estimator)
    takes_baseline = cls is not None and issubclass(cls, estimators.ScoreFunction)
    return "rloo" if takes_baseline else "none"


def stage_costs(traj: dict[str, jax.Array]) -> jax.Array:
    """The estimators' ``f``: stacked trajectories -> per-step costs ``[K, T]``."""
    return traj["c"]


class LQGTask(Task):

    def __init__(self, config):
        super().__init__(config)
        self.estimator = estimators.from_config(config, allowed=ALLOWED,
                                                baseline=default_baseline(config))
        self.estimator.check(num_samples=config.batch_size)
        self.p = problem()
        self.T = config.horizon
        n, m = self.p.B.shape
        self.n, self.m = n, m
        self.sigma = jnp.full((self.T, m), config.sigma, jnp.float32)
        self.optimum = lqg.optimal_cost(self.p, self.sigma)

    def init(self, key):
        del key  # the zero controller: K = 0, k = 0
        params = {"K": jnp.zeros((self.T, self.m, self.n)), "k": jnp.zeros((self.T, self.m))}
        return params, self.estimator.init()

    def batch(self, data, state, params, *, key, step):
        del data, params
        return jax.random.fold_in(key, step), state  # the rollouts' key

    def sampled_loss(self, params, key, state=None):
        """Surrogate whose value is the MC cost of ``batch_size`` rollouts drawn with ``key``
        and whose gradient is the configured estimator."""
        dist = lqg.Trajectories(self.p, params["K"], params["k"], self.sigma)
        est = self.estimator(stage_costs, dist, key=key, num_samples=self.config.batch_size,
                             state=self.estimator.init() if state is None else state)
        return est.surrogate

    def exact_cost(self, params):
        return lqg.expected_cost(self.p, params["K"], params["k"], self.sigma)

    def loss(self, params, state, batch, *, key, step, hparams):
        del key, step, hparams
        loss = self.sampled_loss(params, batch, state)
        gap = jax.lax.stop_gradient(self.exact_cost(params)) / self.optimum - 1.0
        new_state = self.estimator.update(state, jax.lax.stop_gradient(loss)[None])
        return loss, ({"riccati_gap": gap}, new_state)

    def evaluate(self, params, state, *, key):
        del state, key
        cost = self.exact_cost(params)
        # (cost - optimum) / optimum: one rounding, the closest float32 to the exact gap.
        return {"expected_cost": cost, "riccati_optimum": self.optimum,
                "riccati_gap": (cost - self.optimum) / self.optimum}


def check_config(config) -> None:
    """The score function needs exploration noise (its log-density divides by sigma; the
    pathwise gradient of a deterministic policy, sigma = 0, is fine) and two rollouts for its
    leave-one-out baseline."""
    if config.estimator == "score_function" and not config.sigma > 0:
        raise ValueError(f"config.sigma={config.sigma!r} is out of range: the score-function "
                         "estimator needs exploration noise sigma > 0 (pathwise allows 0).")
    check_estimator(config, "batch_size", allowed=ALLOWED,
                    baseline=default_baseline(config))


def make_task(config) -> Task:
    return LQGTask(config)

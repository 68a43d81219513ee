"""LQG control by stochastic policy gradients, measured against the Riccati optimum.

A fixed, well-conditioned finite-horizon problem (:func:`problem`; float32 throughout). The
policy ``u_t = K_t x_t + k_t + sigma_t eps_t`` (see :mod:`rgrad.lqg`) has parameters K and k;
the exploration noise sigma is fixed (``config.sigma``), so the optimum over the policy class
is the Riccati gains with cost :func:`rgrad.lqg.optimal_cost`. Each step draws
``batch_size`` rollouts (``Task.batch`` returns their keys) and estimates the gradient of the
expected cost by

* ``estimator='pathwise'``: autodiff through the sampled rollouts (reparameterized noise);
* ``estimator='score_function'``: sum_t grad log pi(u_t|x_t) times the cost-to-go from t, with
  the leave-one-out mean cost-to-go over the batch as baseline.

The metric ``riccati_gap`` = exact expected cost / Riccati optimum - 1 is logged every step
(computed in closed form, not sampled).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad import lqg
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


class LQGTask(Task):

    def __init__(self, config):
        super().__init__(config)
        self.p = problem()
        self.T = config.horizon
        n, m = self.p.B.shape
        self.n, self.m = n, m
        self.sigma = jnp.full((self.T, m), config.sigma, jnp.float32)
        self.optimum = lqg.optimal_cost(self.p, self.sigma)

    def init(self, key):
        del key  # the zero controller: K = 0, k = 0
        return {"K": jnp.zeros((self.T, self.m, self.n)), "k": jnp.zeros((self.T, self.m))}, {}

    def batch(self, data, state, params, *, key, step):
        del data, params
        return jax.random.split(jax.random.fold_in(key, step), self.config.batch_size), state

    def sampled_loss(self, params, keys):
        """Surrogate whose value is the MC cost and whose gradient is the configured estimator."""
        p, K, k, sigma = self.p, params["K"], params["k"], self.sigma
        if self.config.estimator == "pathwise":
            costs = jax.vmap(lambda kk: lqg.rollout_cost(p, K, k, sigma, key=kk))(keys)
            return jnp.mean(costs)
        if self.config.estimator != "score_function":
            raise ValueError(f"config.estimator={self.config.estimator!r}; use pathwise or "
                             "score_function.")
        sg = jax.lax.stop_gradient
        traj = jax.vmap(lambda kk: lqg.rollout(p, sg(K), sg(k), sigma, key=kk))(keys)
        ctg = jnp.cumsum(traj["c"][:, ::-1], axis=1)[:, ::-1]  # [N, T] cost-to-go
        n = keys.shape[0]
        baseline = (jnp.sum(ctg, 0, keepdims=True) - ctg) / (n - 1)  # leave-one-out
        logp = jax.vmap(lambda x, u: lqg.policy_log_prob(K, k, sigma, x, u))(traj["x"],
                                                                              traj["u"])
        surrogate = jnp.mean(jnp.sum(logp * sg(ctg - baseline), 1))
        return jnp.mean(traj["c"].sum(1)) + surrogate - sg(surrogate)

    def exact_cost(self, params):
        return lqg.expected_cost(self.p, params["K"], params["k"], self.sigma)

    def loss(self, params, state, batch, *, key, step, hparams):
        del key, step, hparams
        loss = self.sampled_loss(params, batch)
        gap = jax.lax.stop_gradient(self.exact_cost(params)) / self.optimum - 1.0
        return loss, ({"riccati_gap": gap}, state)

    def evaluate(self, params, state, *, key):
        del state, key
        cost = float(self.exact_cost(params))
        return {"expected_cost": cost, "riccati_optimum": float(self.optimum),
                "riccati_gap": cost / float(self.optimum) - 1.0}


def make_task(config) -> Task:
    return LQGTask(config)

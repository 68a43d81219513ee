"""Finite-horizon linear-quadratic-Gaussian control: exact costs, Riccati optimum, rollouts.

Dynamics ``x_{t+1} = A x_t + B u_t + w_t`` with ``w_t ~ N(0, W)``, ``x_0 ~ N(m0, S0)``, cost
``sum_{t<T} (x_t' Q x_t + u_t' R u_t) + x_T' Qf x_T``, and the stochastic linear policy

    u_t = K_t x_t + k_t + sigma_t * eps_t,   eps_t ~ N(0, I_m)      # K [T, m, n], k/sigma [T, m]

Under this policy the state stays Gaussian, so the expected cost is a deterministic function of
(K, k, sigma) computed from the propagated mean and covariance (:func:`expected_cost`); its
autodiff gradient is the exact policy gradient. :func:`rollout_cost` samples one trajectory
(differentiable: its gradient is the pathwise estimator). :func:`riccati` gives the optimal
gains; with the exploration noise sigma held fixed they stay optimal (certainty equivalence,
the noise acts like extra process noise ``B sigma eps``) and :func:`optimal_cost` is the
minimum of the expected cost over (K, k).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class LQG(NamedTuple):
    A: jax.Array   # [n, n]
    B: jax.Array   # [n, m]
    Q: jax.Array   # [n, n]
    R: jax.Array   # [m, m]
    Qf: jax.Array  # [n, n]
    W: jax.Array   # [n, n] process-noise covariance
    m0: jax.Array  # [n]
    S0: jax.Array  # [n, n]


def riccati(p: LQG, horizon: int) -> tuple[jax.Array, jax.Array]:
    """Backward discrete Riccati recursion: value matrices P [T+1, n, n], gains K* [T, m, n]."""

    def back(P, _):
        BtP = p.B.T @ P
        K = -jnp.linalg.solve(p.R + BtP @ p.B, BtP @ p.A)  # [m, n]
        Acl = p.A + p.B @ K
        P_new = p.Q + K.T @ p.R @ K + Acl.T @ P @ Acl  # Joseph form: stays symmetric PSD
        return 0.5 * (P_new + P_new.T), (P, K)

    P0, (P_next, K) = jax.lax.scan(back, p.Qf, None, length=horizon, reverse=True)
    return jnp.concatenate([P0[None], P_next], 0), K


def optimal_cost(p: LQG, sigma: jax.Array) -> jax.Array:
    """min over (K, k) of the expected cost, for exploration noise ``sigma`` [T, m]."""
    P, _ = riccati(p, sigma.shape[0])
    cost = p.m0 @ P[0] @ p.m0 + jnp.trace(P[0] @ p.S0)
    noise = jax.vmap(lambda Pn, s: jnp.trace(Pn @ p.W)
                     + jnp.sum(s**2 * jnp.diag(p.R + p.B.T @ Pn @ p.B)))(P[1:], sigma)
    return cost + jnp.sum(noise)


def expected_cost(p: LQG, K: jax.Array, k: jax.Array, sigma: jax.Array) -> jax.Array:
    """Exact E[cost] of the policy, from the propagated state mean and covariance."""

    def fwd(carry, policy):
        m, S = carry
        K_t, k_t, s_t = policy
        mu_u = K_t @ m + k_t
        Su = K_t @ S @ K_t.T + jnp.diag(s_t**2)
        c = m @ p.Q @ m + jnp.trace(p.Q @ S) + mu_u @ p.R @ mu_u + jnp.trace(p.R @ Su)
        Acl = p.A + p.B @ K_t
        m_next = Acl @ m + p.B @ k_t
        S_next = Acl @ S @ Acl.T + p.B @ jnp.diag(s_t**2) @ p.B.T + p.W
        return (m_next, 0.5 * (S_next + S_next.T)), c

    (mT, ST), costs = jax.lax.scan(fwd, (p.m0, p.S0), (K, k, sigma))
    return jnp.sum(costs) + mT @ p.Qf @ mT + jnp.trace(p.Qf @ ST)


def rollout(p: LQG, K, k, sigma, *, key: jax.Array) -> dict[str, jax.Array]:
    """One sampled trajectory: states x [T, n], noises eps [T, m], controls u [T, m], stage
    costs c [T] (the terminal cost is added to the last stage)."""
    n, m = p.B.shape
    T = K.shape[0]
    k0, kw, ke = jax.random.split(key, 3)
    x0 = p.m0 + jnp.linalg.cholesky(p.S0) @ jax.random.normal(k0, (n,))
    w = jax.random.normal(kw, (T, n)) @ jnp.linalg.cholesky(p.W).T
    eps = jax.random.normal(ke, (T, m))

    def fwd(x, inputs):
        K_t, k_t, s_t, w_t, e_t = inputs
        u = K_t @ x + k_t + s_t * e_t
        return p.A @ x + p.B @ u + w_t, (x, u, x @ p.Q @ x + u @ p.R @ u)

    xT, (xs, us, cs) = jax.lax.scan(fwd, x0, (K, k, sigma, w, eps))
    cs = cs.at[-1].add(xT @ p.Qf @ xT)
    return {"x": xs, "u": us, "eps": eps, "c": cs}


def rollout_cost(p: LQG, K, k, sigma, *, key: jax.Array) -> jax.Array:
    """Total cost of one sampled trajectory; its gradient is the pathwise estimator."""
    return jnp.sum(rollout(p, K, k, sigma, key=key)["c"])


def policy_log_prob(K, k, sigma, x, u) -> jax.Array:
    """log N(u_t; K_t x_t + k_t, diag sigma_t^2) per step; [T, n], [T, m] -> [T]."""
    mean = jnp.einsum("tmn,tn->tm", K, x) + k
    z = (u - mean) / sigma
    return jnp.sum(-0.5 * z**2 - jnp.log(sigma) - 0.5 * jnp.log(2 * jnp.pi), -1)


class Trajectories:
    """The distribution of sampled trajectories under the policy, for :mod:`rgrad.estimators`.

    ``sample(seed=, sample_shape=(K,))`` rolls out K trajectories with keys
    ``split(seed, K)`` (differentiable in K and k: the pathwise estimator), a dict of
    stacked ``x [K, T, n]``, ``u [K, T, m]``, ``eps [K, T, m]``, ``c [K, T]``;
    ``log_prob(traj)`` of one trajectory is the per-step policy log-density ``[T]`` (the
    dynamics' densities carry no parameters), which the score function weights by the
    cost-to-go.
    """

    def __init__(self, p: LQG, K: jax.Array, k: jax.Array, sigma: jax.Array):
        self.p, self.K, self.k, self.sigma = p, K, k, sigma

    def sample(self, *, seed: jax.Array, sample_shape: tuple[int, ...]) -> dict[str, jax.Array]:
        (num,) = sample_shape
        return jax.vmap(lambda kk: rollout(self.p, self.K, self.k, self.sigma, key=kk))(
            jax.random.split(seed, num))

    def log_prob(self, traj: dict[str, jax.Array]) -> jax.Array:
        return policy_log_prob(self.K, self.k, self.sigma, traj["x"], traj["u"])

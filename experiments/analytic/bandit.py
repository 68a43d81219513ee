"""A one-step Gaussian-policy bandit with quadratic reward: closed-form policy gradients.

The policy at a state s outputs a mean mu = mu_theta(s) and a scale sigma = sigma_theta(s) and
acts a = mu + sigma eps, eps ~ N(0, 1); the reward is r(a) = -(a - a_star)^2. With d = mu -
a_star, E[r] = -(d^2 + sigma^2), so the policy gradient w.r.t. (mu, sigma) is (-2 d, -2 sigma);
the gradient w.r.t. theta is this times the Jacobian of (mu, sigma) in theta. Two single-sample
estimators of it, and their exact variances (Gaussian moments up to order 6):

* pathwise:        dr/dmu = -2(d + sigma eps),           Var = 4 sigma^2
                   dr/dsigma = -2(d + sigma eps) eps,    Var = 4 d^2 + 8 sigma^2
* score function:  r(a) eps / sigma,                     Var = d^4/sigma^2 + 14 d^2 + 15 sigma^2
                   r(a) (eps^2 - 1) / sigma,             Var = 2 d^4/sigma^2 + 60 d^2 + 74 sigma^2
"""

from __future__ import annotations

import functools

import distrax
import jax
import jax.numpy as jnp

from rgrad import estimators


def reward(a, a_star):
    return -((a - a_star) ** 2)


def true_gradient(mu, sigma, a_star):
    """d E[r] / d(mu, sigma); [2]."""
    return jnp.stack([-2.0 * (mu - a_star), -2.0 * sigma])


def pathwise_variance(mu, sigma, a_star):
    d = mu - a_star
    return jnp.stack([4.0 * sigma**2, 4.0 * d**2 + 8.0 * sigma**2])


def score_function_variance(mu, sigma, a_star):
    d = mu - a_star
    return jnp.stack([d**4 / sigma**2 + 14.0 * d**2 + 15.0 * sigma**2,
                      2.0 * d**4 / sigma**2 + 60.0 * d**2 + 74.0 * sigma**2])


def _policy(mu, sigma):  # [1], [1]: the action distribution at one state
    return distrax.MultivariateNormalDiag(mu, sigma)


def pathwise_jacobians(mu, sigma, a_star, *, key, num_samples):
    """Per-sample pathwise estimates of d E[r] / d(mu, sigma); [N, 2] (rgrad.estimators)."""
    jac = estimators.pathwise_jacobians(lambda a: reward(a[0], a_star), [mu[None], sigma[None]],
                                        _policy, key, num_samples)
    return jnp.concatenate(jac, -1)


def score_function_jacobians(mu, sigma, a_star, *, key, num_samples):
    """Per-sample score-function (REINFORCE) estimates; [N, 2] (rgrad.estimators)."""
    jac = estimators.score_function_jacobians(
        lambda a: reward(a[0], a_star), [mu[None], sigma[None]], _policy, key, num_samples)
    return jnp.concatenate(jac, -1)


@functools.partial(jax.jit, static_argnames=("estimator", "num_samples"))
def mc_moments(estimator, mu, sigma, a_star, *, key, num_samples):
    """MC mean, its SE, variance and the SE of the variance, per component; 4 x [2]."""
    g = estimator(mu, sigma, a_star, key=key, num_samples=num_samples)  # [N, 2]
    mean = g.mean(0)
    sq = (g - mean[None]) ** 2
    n = num_samples
    return mean, g.std(0) / jnp.sqrt(n), sq.mean(0) * n / (n - 1), sq.std(0) / jnp.sqrt(n)

"""Small discrete problems whose exact gradients come from enumerating every configuration.

Shared by the discrete-estimator tests. ``CATEGORICAL`` has 3 categorical variables of 4
classes (64 configurations), ``BINARY`` 7 Bernoulli variables (128 configurations); both have
a nonlinear ``f`` that couples the variables and is smooth, so relaxed estimators can evaluate
it on relaxed z. :func:`check_unbiased` chooses the sample size from a pilot's variance so that
a 20% error in the estimate is 10 standard errors, then asserts |mean - exact| < 5 SE for every
component and that the same rows multiplied by 1.2 fail that check.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Problem(NamedTuple):
    kind: str  # "categorical" | "bernoulli"
    logits: jax.Array  # [L, K] or [D]
    f: object  # one z -> scalar
    configurations: jax.Array  # [C, L, K] one-hot or [C, D] in {0, 1}


_A = jnp.array([[0.9, -0.4, 0.2, 1.3], [-0.7, 0.5, 1.1, 0.0], [0.3, -1.2, 0.8, 0.4]])


def _f_categorical(z):  # [3, 4] (one-hot or relaxed) -> scalar
    s = jnp.sum(z * _A, axis=-1)  # [3]
    return (s[0] - s[1] * s[2]) ** 2 + 0.5 * jnp.sin(3.0 * s[0] * s[2])


_W = jnp.array([0.6, -0.3, 0.45, 0.2, -0.5, 0.35, 0.25])


def _f_binary(b):  # [7] in {0, 1} (or relaxed) -> scalar
    return (jnp.dot(b, _W) - 0.45) ** 2 + 0.5 * b[0] * b[3] * b[5] - 0.3 * b[1] * b[6]


def _one_hots(num_latent: int, num_classes: int) -> jax.Array:
    idx = np.array(list(itertools.product(range(num_classes), repeat=num_latent)))
    return jax.nn.one_hot(idx, num_classes)  # [K^L, L, K]


CATEGORICAL = Problem(
    "categorical", jnp.array([[0.4, -0.3, 0.1, -0.8], [0.2, 0.7, -0.5, 0.0],
                              [-0.6, 0.3, 0.5, 0.1]]),
    _f_categorical, _one_hots(3, 4))
BINARY = Problem(
    "bernoulli", jnp.array([0.3, -0.8, 1.1, -0.2, 0.5, -1.3, 0.7]), _f_binary,
    jnp.array(list(itertools.product((0.0, 1.0), repeat=7))))
PROBLEMS = {"categorical": CATEGORICAL, "bernoulli": BINARY}


def log_prob(problem: Problem, logits: jax.Array, z: jax.Array) -> jax.Array:
    if problem.kind == "categorical":
        return jnp.sum(z * jax.nn.log_softmax(logits, axis=-1))
    return jnp.sum(z * jax.nn.log_sigmoid(logits) + (1 - z) * jax.nn.log_sigmoid(-logits))


def expectation(problem: Problem, logits: jax.Array) -> jax.Array:
    """E_{z ~ p(logits)}[f(z)] by enumeration, differentiable in ``logits``."""
    lp = jax.vmap(lambda z: log_prob(problem, logits, z))(problem.configurations)
    return jnp.sum(jnp.exp(lp) * jax.vmap(problem.f)(problem.configurations))


def exact_gradient(problem: Problem) -> np.ndarray:
    return np.asarray(jax.grad(lambda lg: expectation(problem, lg))(problem.logits))


def within_5se(rows, truth) -> tuple[bool, np.ndarray]:
    """(all components within 5 SE, the z-scores) of the rows' mean against ``truth``."""
    rows = np.asarray(rows, np.float64)
    mean = rows.mean(0)
    se = rows.std(0, ddof=1) / np.sqrt(len(rows))
    z = np.abs(mean - truth) / (se + 1e-12)
    return bool(np.all((z < 5) | (np.abs(mean - truth) < 1e-6))), z


def check_unbiased(rows_fn, truth, *, pilot: int = 2000, max_samples: int = 400_000) -> int:
    """Assert the estimator is unbiased and that a 1.2x-scaled copy is caught; returns N.

    ``rows_fn(key, n)`` gives ``[n, *truth.shape]`` rows whose mean estimates ``truth``.
    """
    truth = np.asarray(truth)
    big = np.unravel_index(np.argmax(np.abs(truth)), truth.shape)
    sd = float(np.std(np.asarray(rows_fn(jax.random.key(1), pilot))[(slice(None), *big)],
                      ddof=1))
    # 20% of the largest component = 10 SE there.
    n = int(np.clip(np.ceil((sd / (0.02 * abs(truth[big]))) ** 2), pilot, max_samples))
    rows = np.asarray(rows_fn(jax.random.key(2), n))
    ok, z = within_5se(rows, truth)
    assert ok, f"biased: z-scores {np.round(z, 1)} (n={n})"
    wrong, _ = within_5se(1.2 * rows, truth)
    assert not wrong, f"a 1.2x estimate passes at n={n}: the check is too loose"
    return n

"""Pathwise gradient variance through a two-layer linear-Gaussian hierarchy, in closed form.

The model (one dimension; parameters may be arrays of any common shape, elementwise):

    z2 = mu2 + s2 * eps2,         z1 = a * z2 + c + s1 * eps1,      f = (z1 - k)^2,

eps1, eps2 ~ N(0, 1) independent. Write d = z1 - k = m + a s2 eps2 + s1 eps1 with
m = a mu2 + c - k and v = Var d = a^2 s2^2 + s1^2. The one-sample pathwise (reparameterization)
gradients are

    upper layer:  g_mu2 = 2 a d,        g_s2 = 2 a d eps2,
    lower layer:  g_c   = 2 d,          g_s1 = 2 d eps1,        g_a = 2 d z2,

with means E g_mu2 = 2 a m, E g_s2 = 2 a^2 s2, E g_c = 2 m, E g_s1 = 2 s1,
E g_a = 2 (m mu2 + a s2^2), and variances (E eps^2 = 1, E eps^4 = 3, odd moments 0)

    Var g_mu2 = 4 a^2 (a^2 s2^2 + s1^2)
    Var g_s2  = 4 a^2 (m^2 + 2 a^2 s2^2 + s1^2)
    Var g_c   = 4 (a^2 s2^2 + s1^2)
    Var g_s1  = 4 (m^2 + a^2 s2^2 + 2 s1^2)
    Var g_a   = 4 (m^2 s2^2 + mu2^2 v + 2 m mu2 a s2^2 + v s2^2 + a^2 s2^4),

the last from Var(XY) = mx^2 vy + my^2 vx + 2 mx my cxy + vx vy + cxy^2 for jointly Gaussian
X = d, Y = z2 with Cov(d, z2) = a s2^2.

How the lower stochastic layer amplifies the upper layer's variance: if the cost acted on z2
directly (f = (z2 - k)^2) the upper gradient would have Var g_mu2 = 4 s2^2. Through the lower
layer it is 4 a^4 s2^2 + 4 a^2 s1^2: the upper noise scaled by a^4 plus the lower layer's own
noise s1^2, carried up by the chain factor a^2, which does not vanish as s2 -> 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

PARAMS = ("mu2", "s2", "a", "c", "s1")
UPPER = ("mu2", "s2")
LOWER = ("a", "c", "s1")


def cost(params: dict, k, eps: jax.Array) -> jax.Array:
    """f(z1) for one draw eps = (eps2, eps1) [2] (scalar parameters)."""
    z2 = params["mu2"] + params["s2"] * eps[0]
    z1 = params["a"] * z2 + params["c"] + params["s1"] * eps[1]
    return jnp.square(z1 - k)


def pathwise_gradients(params: dict, k, *, key: jax.Array, num_samples: int) -> dict:
    """One-sample pathwise gradients for ``num_samples`` draws: name -> [num_samples]."""
    eps = jax.random.normal(key, (num_samples, 2))
    return jax.vmap(jax.grad(cost), in_axes=(None, None, 0))(params, k, eps)


def closed_form(params: dict, k) -> tuple[dict, dict]:
    """Exact means and variances of the one-sample pathwise gradients (see module docstring)."""
    mu2, s2, a, c, s1 = (params[n] for n in PARAMS)
    m = a * mu2 + c - k
    v = a**2 * s2**2 + s1**2
    mean = {"mu2": 2 * a * m, "s2": 2 * a**2 * s2, "a": 2 * (m * mu2 + a * s2**2),
            "c": 2 * m, "s1": 2 * s1}
    var = {"mu2": 4 * a**2 * v,
           "s2": 4 * a**2 * (m**2 + 2 * a**2 * s2**2 + s1**2),
           "a": 4 * (m**2 * s2**2 + mu2**2 * v + 2 * m * mu2 * a * s2**2 + v * s2**2
                     + a**2 * s2**4),
           "c": 4 * v,
           "s1": 4 * (m**2 + a**2 * s2**2 + 2 * s1**2)}
    return mean, var


def mc_moments(g: jax.Array) -> dict[str, jax.Array]:
    """Mean, variance and their standard errors from draws g [N].

    SE of the sample variance from the fourth central moment: sqrt((mu4 - var^2) / N).
    """
    n = g.shape[0]
    mean = jnp.mean(g)
    dev = g - mean
    var = jnp.mean(dev**2) * n / (n - 1)
    mu4 = jnp.mean(dev**4)
    return {"mean": mean, "mean_se": jnp.sqrt(var / n), "var": var,
            "var_se": jnp.sqrt(jnp.maximum(mu4 - var**2, 0.0) / n)}


def mc_gradient_stats(params: dict, k, *, key: jax.Array, num_samples: int) -> dict:
    """name -> mc_moments of its one-sample pathwise gradient (scalar parameters)."""
    g = pathwise_gradients(params, k, key=key, num_samples=num_samples)
    return {n: mc_moments(g[n]) for n in PARAMS}


def grid_stats(params: dict, k, *, key: jax.Array, num_samples: int) -> dict:
    """As :func:`mc_gradient_stats` for parameters that are arrays [G] (one problem each).

    Returns name -> {"mean", "mean_se", "var", "var_se"} each [G], all problems in one jit.
    """
    keys = jax.random.split(key, jnp.shape(params["mu2"])[0])

    def one(p, kk):
        return mc_gradient_stats(p, k, key=kk, num_samples=num_samples)

    return jax.jit(jax.vmap(one))(params, keys)

r"""Score function with the delta-method control variate and its optimal coefficient.

For a diagonal Gaussian q = N(mu, diag(sigma^2)) the control variate is f's second-order
Taylor expansion at the mean (:func:`rgrad.control_variates.control_delta_method`),

    h(x) = f(mu) + (x - mu) . grad f(mu) + (x - mu)^T H(mu) (x - mu) / 2,
    E_q[h] = f(mu) + sum_i sigma_i^2 H_ii(mu) / 2,

whose gradient is known in closed form. Per draw x_k, with phi = (mu, log sigma),

    g_k = f(x_k) grad_phi log q(x_k)                                  (score function)
    t_k = h(x_k) grad_phi log q(x_k) + d_phi h(x_k; phi) - grad_phi E_q[h]   (mean zero)

and the estimate is mean_k (g_k - c t_k). The coefficient is the variance-minimising one per
parameter, c = sum Cov(g, t) / (sum Var(t) + eps) (sums over the parameter's elements, as in
:func:`rgrad.control_variates.estimate_control_variate_coefficients`), estimated on
``num_coeff_samples`` draws independent of the K it multiplies, so the estimate stays unbiased.
Exact (zero variance at c = 1) when f is quadratic.

Like :class:`rgrad.estimators.MeasureValued`, the surrogate is linear in (mu, log sigma) with
these weights, so its gradient reaches whatever the Gaussian's parameters depend on; f's direct
dependence on the parameters is differentiated at the (fixed) draws.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# A module import (attribute read at call time): rgrad.control_variates imports this package.
from rgrad import control_variates
from rgrad.estimators import base
from rgrad.estimators.continuous import gaussian_loc_scale

sg = jax.lax.stop_gradient


def optimal_coefficient(g: jax.Array, t: jax.Array, eps: float) -> jax.Array:
    """sum Cov(g, t) / (sum Var(t) + eps) over draws (axis 0) and elements; ``[J, D]`` -> []."""
    cov = jnp.mean((g - g.mean(0, keepdims=True)) * (t - t.mean(0, keepdims=True)), axis=0)
    return jnp.sum(cov) / (jnp.sum(jnp.var(t, axis=0)) + eps)


class ScoreFunctionDelta(base.Estimator):
    """REINFORCE with the delta-method control variate, optimal coefficient (module doc).

    Args:
        num_coeff_samples: independent draws that estimate the coefficient (J).
        eps: added to the control variate's summed variance (a flat f gives c -> 0).
    """

    name = "score_function_delta"

    def __init__(self, num_coeff_samples: int = 20, eps: float = 1e-3):
        if num_coeff_samples < 2:
            raise ValueError(f"num_coeff_samples={num_coeff_samples}: the coefficient's "
                             "covariance needs at least 2 draws.")
        self.num_coeff_samples = num_coeff_samples
        self.eps = eps

    def control_variate(self, function):
        """(h(phi, x), E_q[h](phi)) for ``function`` of one draw ``[D]``; phi = [mu, log s]."""
        cv, expected_cv, _ = control_variates.control_delta_method(function)
        return (lambda phi, x: cv(phi, x, None)), (lambda phi: expected_cv(phi, None))

    def jacobians(self, f, loc, log_scale, keys):
        """Per-draw (g, t) w.r.t. [loc, log scale], each ``[K, 2, D]``, and the draws [K, D].

        ``loc``, ``log_scale`` ``[D]`` are constants here (stop-gradient-ed by the caller).
        """
        def function(x):  # one draw [D] -> scalar
            return f(x[None])[0]

        h, expected_h = self.control_variate(function)
        phi = jnp.stack([loc, log_scale])  # [2, D]

        def log_q(p, x):
            return jnp.sum(jax.scipy.stats.norm.logpdf(x, p[0], jnp.exp(p[1])))

        grad_expected = jax.grad(lambda p: expected_h(list(p)))(phi)  # [2, D]

        def one(key):
            x = loc + jnp.exp(log_scale) * jax.random.normal(key, loc.shape, loc.dtype)
            score = jax.grad(log_q)(phi, x)  # [2, D]
            d_h = jax.grad(lambda p: h(list(p), x))(phi)  # the Taylor point moves with mu
            g = function(x) * score
            t = h(list(phi), x) * score + d_h - grad_expected
            return g, t, x

        return jax.vmap(one)(keys)

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        loc, scale = gaussian_loc_scale(dist)
        log_scale = jnp.log(scale)
        c_key, key = jax.random.split(key)
        loc_c, log_scale_c = sg(loc), sg(log_scale)
        # The coefficient from independent draws (one per parameter: mean, log scale).
        g_c, t_c, _ = self.jacobians(f, loc_c, log_scale_c,
                                     jax.random.split(c_key, self.num_coeff_samples))
        coeff = jax.vmap(optimal_coefficient, in_axes=(1, 1, None))(g_c, t_c, self.eps)  # [2]
        g, t, x = self.jacobians(f, loc_c, log_scale_c, jax.random.split(key, num_samples))
        w = sg(jnp.mean(g - coeff[None, :, None] * t, axis=0))  # [2, D]
        value = base.reduce(f(sg(x)), "mean")
        linear = jnp.sum(w[0] * loc) + jnp.sum(w[1] * log_scale)
        return base.Estimate(value + linear - sg(linear), value)

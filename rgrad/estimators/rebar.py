r"""REBAR and RELAX: unbiased estimators with relaxation-based, learned control variates.

With b = H(z), z ~ p(z | logits) and z~ ~ p(z | b) (the conditional reparameterization of
:mod:`.relaxations`), and a control variate c_phi, both estimate the gradient w.r.t. the
logits theta by

    g = [f(b) - c_phi(z~)] grad log p(b) + grad c_phi(z) - grad c_phi(z~),

unbiased for any phi: E[grad c(z)] = grad E[c(z)] = E[grad log p(b) c(z~)] + E[grad c(z~)].

* REBAR (Tucker, Mnih, Maddison, Lawson & Sohl-Dickstein 2017, "REBAR: Low-variance, unbiased
  gradient estimates for discrete latent variable models"): c(z) = eta f(sigma_lambda(z)), f at
  the Concrete / Binary Concrete relaxation of temperature lambda.
* RELAX (Grathwohl, Choi, Wu, Roeder & Duvenaud 2018, "Backpropagation through the Void"):
  c(z) = eta f(sigma_lambda(z)) + r_rho(sigma_lambda(z)), r_rho a one-hidden-layer tanh MLP of
  ``hidden_size`` units on the flattened relaxed sample (output layer zero at init, so RELAX
  starts as REBAR).

phi = {log lambda, eta (, rho)} are the estimator's parameters (:meth:`REBAR.init_params`;
log lambda starts at log ``temperature``, eta at ``eta``). The call's ``temperature=`` is
ignored: lambda is learned. ``Estimate.control_loss`` trains phi to minimise the single-sample
variance of g (E[g] does not depend on phi, so that is E|g|^2): g(phi) is an inner gradient
at stop_gradient(logits); control_loss has the value mean_k |g_k|^2 and the gradient
stop_gradient(grad_phi mean_k |g_k|^2), which reaches phi only. The surrogate uses
stop_gradient(phi); its value is the mean of f(b), and f's own parameters (a decoder) get
their gradient at b. If f itself depends on the logits (a -log q term), that direct gradient
is taken at b too.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from rgrad.estimators import base
from rgrad.estimators.latents import as_discrete
from rgrad.estimators.networks import tanh_mlp, tanh_mlp_init
from rgrad.estimators.relaxations import conditional, hard, noise, perturb, relax, uniforms

sg = jax.lax.stop_gradient


def _tree_dot(a, b) -> jax.Array:
    return sum(jnp.sum(x * y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b),
                                              strict=True))


class REBAR(base.Estimator):
    """REBAR (module docstring): c(z) = eta f(sigma_lambda(z)); params log lambda and eta."""

    name = "rebar"
    kinds = ("categorical", "bernoulli")

    def __init__(self, temperature: float = 1.0, eta: float = 1.0):
        base.check_temperature(temperature, " (the initial lambda)")
        self.temperature, self.eta = temperature, eta

    def init_params(self, key, dist):
        del key, dist
        return {"log_temperature": jnp.asarray(np.log(self.temperature), jnp.float32),
                "eta": jnp.asarray(self.eta, jnp.float32)}

    def residual(self, params, soft: jax.Array) -> jax.Array:
        """The control variate's free part r(sigma(z)), soft [N, *event] -> [N]; 0 here."""
        del params
        return jnp.zeros(soft.shape[:1], soft.dtype)

    def control_variate(self, f, params, kind: str, z: jax.Array) -> jax.Array:
        """c_phi(z) for perturbed logits z [N, *event] -> [N]."""
        soft = relax(kind, z, jnp.exp(params["log_temperature"]))
        return params["eta"] * f(soft) + self.residual(params, soft)

    def __call__(self, f, dist, *, key, num_samples=1, state=None, objective="mean",
                 temperature=None, params=None):
        self.check(objective=objective, num_samples=num_samples)
        latents = as_discrete(dist)
        kind, logits, family = latents.kind, latents.logits, type(latents)
        if params is None:
            params = self.init_params(jax.random.key(0), latents)
        k_z, k_v = jax.random.split(key)
        shape = (num_samples, *logits.shape)
        eps, v = noise(kind, k_z, shape), uniforms(k_v, shape)  # fixed noise, [K, *event]
        b = hard(kind, perturb(kind, sg(logits), eps))  # [K, *event]
        f_b = f(b)  # [K]; f's own parameters (and a direct dependence on logits) at b

        def one(lg, phi, eps_k, v_k, b_k, f_k):
            """The k-th draw's estimate as a function of the logits: its gradient is g_k."""
            z = perturb(kind, lg, eps_k)
            z_cond = conditional(kind, lg, b_k, v_k)
            # c at z, at z~, and at z~ with no path to lg (the score term's coefficient).
            c = self.control_variate(f, phi, kind, jnp.stack([z, z_cond, sg(z_cond)]))  # [3]
            score = family(lg).log_prob(b_k)
            return (f_k - c[2]) * score + c[0] - c[1]

        def estimates(phi):  # [K, *logits.shape]
            grad = jax.grad(one)
            return jax.vmap(lambda e, vk, bk, fk: grad(sg(logits), phi, e, vk, bk, fk))(
                eps, v, b, sg(f_b))

        g, pullback = jax.vjp(estimates, sg(params))
        (g_phi,) = pullback(2.0 * g / num_samples)  # grad_phi of mean_k |g_k|^2
        value = jnp.mean(f_b)
        surrogate = value + jnp.sum(sg(jnp.mean(g, axis=0)) * (logits - sg(logits)))
        # Value: mean_k |g_k|^2 (to log); gradient: g_phi, reaching phi only.
        second_moment = jnp.sum(sg(g) ** 2) / num_samples
        control = second_moment + _tree_dot(sg(g_phi), params) - _tree_dot(sg(g_phi), sg(params))
        return base.Estimate(surrogate, value, control)


class RELAX(REBAR):
    """RELAX (module docstring): c(z) = eta f(sigma_lambda(z)) + r_rho(sigma_lambda(z))."""

    name = "relax"

    def __init__(self, temperature: float = 1.0, eta: float = 1.0, hidden_size: int = 16):
        super().__init__(temperature, eta)
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size={hidden_size!r} must be a positive int (units of "
                             "RELAX's control-variate network).")
        self.hidden_size = hidden_size

    def init_params(self, key, dist):
        size = int(np.prod(as_discrete(dist).logits.shape))
        rho = tanh_mlp_init(key, size, self.hidden_size)
        return {**super().init_params(key, dist), "rho": rho}

    def residual(self, params, soft):
        return tanh_mlp(params["rho"], soft.reshape(soft.shape[0], -1))  # [N, D] -> [N]


REGISTERED: tuple = (REBAR, RELAX)
__all__ = ["REBAR", "RELAX", "REGISTERED"]

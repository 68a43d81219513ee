"""Gaussian diffusion through the reparameterized forward process (DDPM, VDM).

Everything is written in continuous time t in [0, 1] through gamma(t) = -log SNR(t)
(Kingma et al. 2021, VDM): the variance-preserving forward process is

    x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps,  abar_t = sigmoid(-gamma(t)),  eps ~ N(0, I),

the reparameterization of q(x_t | x_0) as a function of x_0, eps and the schedule. With a fixed
schedule x_t does not depend on any trained parameter; with a learned one its gradient flows
back into the schedule through this expression.

Schedules are functions ``gamma(params, t) -> scalar`` of a scalar t (params ``{}`` when fixed):

* :func:`ddpm_linear_gamma` -- Ho et al. (2020): beta_i linear from 1e-4 to 0.02 over
  T = 1000 steps; abar(i/T) equals prod_{j<=i}(1 - beta_j) (midpoint-rule closed form).
* :func:`cosine_gamma` -- Nichol & Dhariwal (2021): abar = cos^2(u) / const, i.e.
  gamma = 2 log tan(u), u linear in t, with given endpoints.
* :class:`LearnedGamma` -- VDM's monotone network with learnable endpoints.

The per-example bound is VDM's continuous-time variational bound: prior KL at t = 1
(:func:`prior_kl`), reconstruction at t = 0 (Gaussian for continuous data,
:func:`gaussian_recon`; VDM's discretized decoder for 8-bit images,
:func:`rgrad.diffusion_decoder.discrete_recon`) and the diffusion loss
0.5 gamma'(t) ||eps - eps_hat(x_t, t)||^2, t ~ U(0, 1) (:func:`diffusion_loss`). The denoiser
network eps_hat is :class:`rgrad.denoisers.Denoiser`.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from rgrad.nn import LOG2PI

# XLA:CPU's experimental YNNPACK fusions (jaxlib 0.10.2) return garbage (inf, 1e8-1e37) from
# some fused reductions of these programs, differently from process to process (uninitialised
# memory: the same executable on the same inputs is right in one process and wrong in the next).
# ``jax.jit(f, compiler_options=NO_YNN_FUSION)`` compiles f without them (XLA's own fusions
# instead, same results to float32 rounding); the whole process: XLA_FLAGS=
# --xla_cpu_experimental_ynn_fusion_type= (empty list).
NO_YNN_FUSION = {"xla_cpu_experimental_ynn_fusion_type": ""}

# DDPM's linear schedule (Ho et al. 2020, Sec. 4).
DDPM_T, DDPM_BETA_MIN, DDPM_BETA_MAX = 1000, 1e-4, 0.02


# ============================================================================================
# Schedules.
# ============================================================================================
def ddpm_log_alpha_bar(t, T=DDPM_T, beta_min=DDPM_BETA_MIN, beta_max=DDPM_BETA_MAX):
    """log abar for continuous t in [0, 1]; at t = (i - 1) / (T - 1) it is sum_{j<=i} log(1-b_j).

    beta_j = beta(s_j), s_j = (j - 1)/(T - 1), beta(s) linear. The sum of log(1 - beta(s_j)) is
    (T - 1) times the integral of log(1 - beta(s)) over [a, c] = [-h/2, s_i + h/2] (midpoint
    rule; error ~1e-7 here). With log(1 - b) = -sum_k b^k / k and, for b linear in s,
    int_a^c b^k ds = (c - a)/(k + 1) sum_m b(c)^m b(a)^(k-m), every term is computed without
    the cancellation a closed-form antiderivative suffers in float32.
    """
    h = 1.0 / (T - 1)
    a, c = -0.5 * h, t + 0.5 * h
    ba = beta_min + (beta_max - beta_min) * a
    bc = beta_min + (beta_max - beta_min) * c
    total = 0.0
    for k in range(1, 8):  # b <= 0.02: the k = 8 term is below 1e-14 per step
        total = total + sum(bc**m * ba ** (k - m) for m in range(k + 1)) / (k * (k + 1))
    return -(T - 1) * (c - a) * total


def ddpm_linear_gamma(params, t):
    """gamma(t) = log((1 - abar)/abar) of DDPM's linear schedule; t = 0 is step 1, t = 1 step T."""
    del params
    return jnp.log(jnp.expm1(-ddpm_log_alpha_bar(t)))


DDPM_GAMMA_MIN = float(ddpm_linear_gamma({}, 0.0))  # about -9.21
DDPM_GAMMA_MAX = float(ddpm_linear_gamma({}, 1.0))  # about 10.05


def cosine_gamma(params, t, gamma_min=DDPM_GAMMA_MIN, gamma_max=DDPM_GAMMA_MAX):
    """Cosine schedule: SNR = cot^2(u), u linear in t between the endpoints' angles."""
    del params
    u0 = jnp.arctan(jnp.exp(0.5 * gamma_min))
    u1 = jnp.arctan(jnp.exp(0.5 * gamma_max))
    return 2.0 * jnp.log(jnp.tan(u0 + (u1 - u0) * t))


def linear_gamma(params, t, gamma_min=DDPM_GAMMA_MIN, gamma_max=DDPM_GAMMA_MAX):
    """VDM's fixed baseline: gamma linear in t."""
    del params
    return gamma_min + (gamma_max - gamma_min) * t


class MonotoneDense(nn.Module):
    """Dense layer with non-negative weights (|kernel|), so it is monotone in its input."""

    features: int
    kernel_init: Callable = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x):  # [..., F_in] -> [..., F]
        kernel = self.param("kernel", self.kernel_init, (x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return x @ jnp.abs(kernel) + bias


class LearnedGamma(nn.Module):
    """VDM's monotone gamma(t) (Kingma et al. 2021, App. H) with learnable endpoints.

    gamma(t) = gamma_min + (gamma_max - gamma_min) * shape(t), where shape(t) in [0, 1] is the
    normalised monotone network l1(t) + l3(sigmoid(l2(l1(t)))). ``ends`` holds
    (gamma_min, gamma_max); ``shape`` the network. Initialised to linear gamma (l3 ~ 0).
    """

    hidden: int = 256
    gamma_min: float = DDPM_GAMMA_MIN
    gamma_max: float = DDPM_GAMMA_MAX

    def setup(self):
        self.g_min = self.param("g_min", nn.initializers.constant(self.gamma_min), ())
        self.g_max = self.param("g_max", nn.initializers.constant(self.gamma_max), ())
        self.l1 = MonotoneDense(1, nn.initializers.constant(1.0))
        self.l2 = MonotoneDense(self.hidden)
        self.l3 = MonotoneDense(1, nn.initializers.normal(1e-3))

    def unnormalised(self, t):  # scalar -> scalar
        h = self.l1(jnp.reshape(t, (1,)))
        return (h + self.l3(2.0 * (nn.sigmoid(self.l2(h)) - 0.5)))[0]

    def shape(self, t):
        """(shape(t), shape'(t)), both scalars; shape(0) = 0, shape(1) = 1."""
        g0, g1 = self.unnormalised(0.0), self.unnormalised(1.0)
        g, dg = jax.jvp(self.unnormalised, (t,), (jnp.ones_like(t),))
        return (g - g0) / (g1 - g0), dg / (g1 - g0)

    def ends(self):
        return self.g_min, self.g_max

    def __call__(self, t):
        s, _ = self.shape(t)
        return self.g_min + (self.g_max - self.g_min) * s


def alpha_sigma(gamma):
    """(alpha, sigma) = (sqrt(abar), sqrt(1 - abar)) for gamma = -log SNR."""
    return jnp.sqrt(jax.nn.sigmoid(-gamma)), jnp.sqrt(jax.nn.sigmoid(gamma))


def q_sample(x0, gamma, eps):
    """The reparameterized forward process x_t = alpha x_0 + sigma eps (gamma a scalar)."""
    alpha, sigma = alpha_sigma(gamma)
    return alpha * x0 + sigma * eps


# ============================================================================================
# The bound, per example.
# ============================================================================================
def prior_kl(x, gamma_1):
    """KL(q(x_1 | x) || N(0, I)) in nats; x [D]."""
    a2, s2 = jax.nn.sigmoid(-gamma_1), jax.nn.sigmoid(gamma_1)
    return 0.5 * jnp.sum(s2 + a2 * x**2 - jnp.log(s2) - 1.0)


def gaussian_recon(x, gamma_0, eps0):
    """-log N(x; x_0 / alpha_0, exp(gamma_0)) at x_0 = q_sample(x, gamma_0, eps0); x [D]."""
    z0 = q_sample(x, gamma_0, eps0)
    alpha = alpha_sigma(gamma_0)[0]
    return 0.5 * jnp.sum((x - z0 / alpha) ** 2 * jnp.exp(-gamma_0) + gamma_0 + LOG2PI)


def encode_bytes(x01, vocab=256):
    """Images in [0, 1] (multiples of 1/255) -> (integer levels, centres in (-1, 1))."""
    k = jnp.round(x01 * (vocab - 1)).astype(jnp.int32)
    return k, 2.0 * (k + 0.5) / vocab - 1.0


def diffusion_loss(eps_fn, x, gamma_t, dgamma_t, eps):
    """0.5 gamma'(t) ||eps - eps_hat(x_t, gamma_t)||^2, x_t reparameterized; x, eps [D].

    The denoiser ``eps_fn(x_t, gamma_t)`` sees the noise level, not t (VDM): then the
    expected loss over t ~ U(0, 1) is int eps-MSE(gamma) d gamma / 2, which depends on the
    schedule only through its endpoints.
    """
    xt = q_sample(x, gamma_t, eps)
    return 0.5 * dgamma_t * jnp.sum((eps - eps_fn(xt, gamma_t)) ** 2)


def normalise_gamma(gamma, gamma_min=DDPM_GAMMA_MIN, gamma_max=DDPM_GAMMA_MAX):
    """The denoiser's conditioning input (gamma - gamma_min) / (gamma_max - gamma_min).

    Fixed constants (VDM's code uses its config's gamma_min/max, not the learned endpoints),
    so that the map gamma -> input does not change while the schedule is trained.
    """
    return (gamma - gamma_min) / (gamma_max - gamma_min)


def variance_shape_grad(fn):
    """Wrap ``fn(a, b, s, ds, consts) -> L`` so the cotangents of s and ds are scaled by 2 L.

    VDM's schedule-shape objective: the continuous-time bound does not depend on the shape of
    gamma between its endpoints, so the shape is trained to minimise the variance of the
    diffusion-loss estimate, E[L^2] - E[L]^2, whose gradient is E[2 L dL/dshape]. ``a`` and
    ``b`` (the denoiser and the endpoints) keep the gradient of L itself.

    Written with stop-gradients, not a ``custom_vjp``: vmapped over examples, a custom_vjp's
    backward pass materialises one denoiser gradient per example (30x the step's CPU time for a
    512-wide MLP on MNIST). The two calls of ``fn`` have the same forward values (XLA shares
    them); the value returned is L.
    """

    def f(a, b, s, ds, consts):
        sg = jax.lax.stop_gradient
        l_ab = fn(a, b, sg(s), sg(ds), consts)  # d/da, d/db: dL
        l_s = fn(sg(a), sg(b), s, ds, consts)  # d/ds, d/dds: 2 L dL (value 0 below)
        return l_ab + (l_s**2 - sg(l_s**2))

    return f


def low_discrepancy_times(key, n):
    """VDM's antithetic times t_i = (u + i/n) mod 1: uniform marginals, lower variance; [n]."""
    u = jax.random.uniform(key, ())
    return jnp.mod(u + jnp.arange(n) / n, 1.0)


# ============================================================================================
# Ancestral sampling.
# ============================================================================================
def ancestral_sample(eps_fn, gamma_fn, key, shape, num_steps):
    """z_1 ~ N(0, I), then z_s ~ p(z_s | z_t) for t = i/T -> s = (i-1)/T; returns z_0 [shape].

    p(z_s | z_t) = q(z_s | z_t, x = x_hat(z_t)) (Ho et al. 2020; VDM eq. 33 form):
    z_s = alpha_s/alpha_t (z_t - sigma_t c eps_hat) + sigma_s sqrt(c) noise, c = 1 - SNR_t/SNR_s.
    ``eps_fn(z, gamma_t)`` and ``gamma_fn(t)`` act on one example.
    """
    init_key, loop_key = jax.random.split(key)

    def step(z, i):
        t = i / num_steps
        s = (i - 1) / num_steps
        g_t, g_s = gamma_fn(t), gamma_fn(s)
        a_t, s_t = alpha_sigma(g_t)
        a_s, s_s = alpha_sigma(g_s)
        c = -jnp.expm1(g_s - g_t)
        noise = jax.random.normal(jax.random.fold_in(loop_key, i), shape)
        mean = a_s / a_t * (z - s_t * c * eps_fn(z, g_t))
        return mean + s_s * jnp.sqrt(c) * noise, None

    z1 = jax.random.normal(init_key, shape)
    z0, _ = jax.lax.scan(step, z1, jnp.arange(num_steps, 0, -1))
    return z0

"""Differentiable ODE solves with diffrax, and two kinetic models (predator-prey, A -> B -> C).

``solve`` wraps ``diffrax.diffeqsolve`` for the parameter-inference experiments: it returns the
state at the requested times, differentiates either by backpropagating through the solver's
internal steps (``adjoint="direct"``, diffrax's ``RecursiveCheckpointAdjoint``) or by solving the
continuous adjoint ODE backwards (``adjoint="backsolve"``). A solve that fails (stiff blow-up
of a wild posterior draw, too many steps) returns non-finite values instead of raising, so
that a caller can mask it; the shared loop's NaN guard catches what is left.
"""

from __future__ import annotations

from collections.abc import Callable

import diffrax
import jax
import jax.numpy as jnp

ADJOINTS = ("direct", "backsolve")


def solve(vector_field: Callable, y0: jax.Array, ts: jax.Array, args, *, t0: float = 0.0,
          adjoint: str = "direct", rtol: float = 1e-6, atol: float = 1e-6,
          max_steps: int = 4096, dt0: float = 0.1) -> jax.Array:
    """Solve ``dy/dt = vector_field(t, y, args)`` from ``y(t0) = y0``; states at ``ts``.

    Args:
      vector_field: ``f(t, y, args) -> dy/dt`` with ``y`` of shape [D].
      y0: [D] initial state.
      ts: [T] increasing output times, all >= t0.
      args: the parameters (any pytree), differentiated through.
      adjoint: "direct" (backprop through the steps) or "backsolve" (continuous adjoint).

    Returns:
      [T, D] states; rows are ``inf`` where the solver failed.
    """
    if adjoint not in ADJOINTS:
        raise ValueError(f"adjoint={adjoint!r}; use one of {ADJOINTS}.")
    adj = (diffrax.RecursiveCheckpointAdjoint() if adjoint == "direct"
           else diffrax.BacksolveAdjoint(solver=diffrax.Tsit5()))
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(vector_field), diffrax.Tsit5(), t0=t0, t1=ts[-1], dt0=dt0, y0=y0,
        args=args, saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        adjoint=adj, max_steps=max_steps, throw=False)
    ok = sol.result == diffrax.RESULTS.successful
    return jnp.where(ok, sol.ys, jnp.inf)


# ============================================================================================
# Models.
# ============================================================================================
def lotka_volterra(t, z, theta):
    """Predator-prey field as in the Stan case study: z = (prey u, predator v).

    du/dt = (alpha - beta v) u,   dv/dt = (-gamma + delta u) v,   theta = (alpha, beta, gamma,
    delta), all positive.
    """
    del t
    alpha, beta, gamma, delta = theta[0], theta[1], theta[2], theta[3]
    u, v = z[0], z[1]
    return jnp.stack([(alpha - beta * v) * u, (-gamma + delta * u) * v])


def abc_kinetics(t, c, k):
    """First-order reactions A -k1-> B -k2-> C; c = concentrations (A, B, C), k = (k1, k2)."""
    del t
    a, b = c[0], c[1]
    return jnp.stack([-k[0] * a, k[0] * a - k[1] * b, k[1] * b])


def abc_closed_form(ts: jax.Array, k: jax.Array, a0: float = 1.0) -> jax.Array:
    """Exact [T, 3] solution of :func:`abc_kinetics` from (a0, 0, 0), for k1 != k2."""
    k1, k2 = k[0], k[1]
    a = a0 * jnp.exp(-k1 * ts)
    b = a0 * k1 / (k2 - k1) * (jnp.exp(-k1 * ts) - jnp.exp(-k2 * ts))
    return jnp.stack([a, b, a0 - a - b], axis=-1)

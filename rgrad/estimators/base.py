r"""The estimator interface: a surrogate objective whose gradient is a gradient estimator.

An :class:`Estimator` turns a downstream function ``f``, a distribution (or logits) and a key
into an :class:`Estimate`: a scalar ``surrogate`` whose ``jax.grad`` (with respect to anything
``f`` or the distribution depend on) estimates grad E_{z ~ dist}[f(z)], and ``value``, the
Monte Carlo objective itself. Like an optax ``GradientTransformation``, an estimator is chosen
once (from the config, :func:`rgrad.estimators.from_config`), declares its own state
(baselines) through :meth:`Estimator.init` and updates it with :meth:`Estimator.update`; a
task never branches on the estimator's name.

Conventions, for one example (``jax.vmap`` over examples):

* ``f(z)`` takes the stacked samples ``[K, *event]`` and returns ``[K]`` values, or ``[K, T]``
  per-step costs of a sequential problem (then the score-function estimators weight each
  step's log-probability by the cost *to go*, the policy-gradient theorem).
* ``dist`` has ``sample(seed=, sample_shape=)`` and ``log_prob`` (a distrax distribution);
  ``dist.log_prob`` of one sample is a scalar (or ``[T]``, matching ``f``); estimators vmap it.
* ``objective``: ``"mean"`` estimates grad of E[f] (the ELBO); ``"logmeanexp"`` the gradient
  of log (1/K) sum_k exp f(z_k) (the importance-weighted bound), where supported.

Learned control variates (NVIL's baseline network, REBAR's temperature and scale, RELAX's
surrogate network) are *parameters* of the estimator: :meth:`Estimator.init_params` makes them
(``{}`` for estimators without any), the task keeps them in its trainable parameters and passes
them back as ``params=``. Their training signal is :attr:`Estimate.control_loss`, a scalar to
*minimise* whose gradient reaches only those parameters (e.g. the single-sample variance of the
estimate, as in the REBAR and RELAX papers); the surrogate's gradient never reaches them. A task
adds ``control_loss`` to its loss whatever the sign of its objective.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp

State = Any
Function = Callable[[jax.Array], jax.Array]

OBJECTIVES = ("mean", "logmeanexp")


class Estimate(NamedTuple):
    """``surrogate``: scalar, its gradient is the estimate; ``value``: the MC objective;
    ``control_loss``: scalar to minimise, training the estimator's own parameters (0 if none)."""

    surrogate: jax.Array
    value: jax.Array
    control_loss: jax.Array | float = 0.0


class Estimator(abc.ABC):
    """A gradient estimator of grad E_{z ~ dist}[f(z)] (see the module docstring)."""

    name: ClassVar[str]
    objectives: ClassVar[tuple[str, ...]] = ("mean",)
    min_samples: ClassVar[int] = 1
    # Discrete latents it serves (first: the functional API's default); () = continuous.
    kinds: ClassVar[tuple[str, ...]] = ()
    # True when the K draws of one call are coupled (leave-one-out baselines, VIMCO), so the
    # functional API differentiates each of :meth:`terms` jointly rather than one key per row.
    joint_terms: ClassVar[bool] = False

    def init(self) -> State:
        """The estimator's state for one member (a dict; ``{}`` when it has none)."""
        return {}

    def init_params(self, key: jax.Array, dist: Any) -> Any:
        """Trainable parameters of the estimator for distributions like ``dist`` (one example's
        posterior, or its logits); ``{}`` when it has none."""
        del key, dist
        return {}

    def update(self, state: State, values: jax.Array) -> State:
        """New state after a batch whose per-example objective values are ``values`` [B]."""
        del values
        return state

    def check(self, *, objective: str = "mean", num_samples: int = 1) -> None:
        """Raise a one-line ValueError if this estimator cannot serve the request."""
        if objective not in OBJECTIVES:
            raise ValueError(f"objective={objective!r} is unknown; use one of {OBJECTIVES}.")
        if objective not in self.objectives:
            raise ValueError(f"estimator={self.name!r} supports objective(s) "
                             f"{', '.join(self.objectives)}, not {objective!r}; use "
                             "estimator='pathwise' for the importance-weighted bound.")
        if num_samples < self.min_samples:
            raise ValueError(f"estimator={self.name!r} needs num_samples >= "
                             f"{self.min_samples}, got {num_samples}.")

    @abc.abstractmethod
    def __call__(self, f: Function, dist: Any, *, key: jax.Array, num_samples: int = 1,
                 state: State = None, objective: str = "mean",
                 temperature: jax.Array | float | None = None, params: Any = None) -> Estimate:
        """The surrogate of one example; ``temperature`` is read by relaxed estimators only,
        ``params`` (from :meth:`init_params`) by estimators with learned control variates."""


    def terms(self, f: Function, dist: Any, *, key: jax.Array, num_samples: int,
              state: State = None, params: Any = None,
              temperature: jax.Array | float | None = None) -> jax.Array:
        """``[num_samples]`` surrogates, one per row of the functional API (one draw, or one
        antithetic pair), whose mean is a ``num_samples``-draw surrogate. Estimators with
        ``joint_terms`` override this with the terms of one coupled batch."""
        def one(k):
            return self(f, dist, key=k, num_samples=1, state=state, params=params,
                        temperature=temperature).surrogate
        return jax.vmap(one)(jax.random.split(key, num_samples))


def check_temperature(temperature, what: str = "") -> None:
    """A one-line ValueError unless the relaxation temperature is > 0 (``what`` says which)."""
    if not temperature > 0:
        raise ValueError(f"temperature={temperature} must be > 0{what}.")


def totals(values: jax.Array) -> jax.Array:
    """[K] (or [K, T] per-step costs, summed over T) -> [K] totals."""
    return jnp.sum(values, axis=1) if values.ndim == 2 else values


def reduce(values: jax.Array, objective: str) -> jax.Array:
    """[K] (or [K, T], summed over T) -> the K-sample objective, a scalar."""
    values = totals(values)
    if objective == "logmeanexp":
        return jax.nn.logsumexp(values) - jnp.log(values.shape[0])
    return jnp.mean(values)


def cost_to_go(values: jax.Array) -> jax.Array:
    """[K, T] per-step costs -> [K, T] sums from step t to the end; [K] stays [K]."""
    if values.ndim == 1:
        return values
    return jnp.cumsum(values[:, ::-1], axis=1)[:, ::-1]

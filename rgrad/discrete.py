r"""Functional, per-sample form of the discrete estimators, for diagnostics.

``NAME_jacobians(function, logits, rng, num_samples, **options)`` estimates
grad_logits E_{z ~ p(logits)}[function(z)] and returns one row per sample,
``[num_samples, *logits.shape]``; the mean over axis 0 is the estimate, the spread its noise.

* Categorical logits ``[..., K]`` give one-hot z ``[..., K]``; Bernoulli logits ``[...]`` give
  z in {0, 1}; ``kind="categorical"`` or ``"bernoulli"`` picks (default: the estimator's first
  kind, Bernoulli for ``arm``/``disarm``, categorical otherwise). ``gumbel_softmax`` evaluates
  ``function`` on relaxed z; the straight-through family (``st_gumbel_softmax``, ``gumbel_rao``,
  ``reinmax``) on the hard z, differentiating through relaxed ones; all at temperature 1 unless
  ``temperature=`` is given (``rebar``/``relax`` learn theirs).
* ``function`` maps one z to a scalar and must not depend on ``logits``.
* A row is one draw, except for ``rloo`` and ``vimco`` (the leave-one-out terms of one batch
  of ``num_samples`` draws) and ``arm``/``disarm`` (one antithetic pair per row).
* Estimators with learned parameters (``nvil``, ``rebar``, ``relax``) use their initial
  parameters, or ``estimator_params=`` (from ``make(name).init_params(key, dist)``).

Each function is the object of :mod:`rgrad.estimators` of the same name, differentiated row by
row; :func:`jacobians` serves any registered name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax

from rgrad import estimators
from rgrad.estimators.latents import Bernoullis, Categoricals
from rgrad.validation import check_args

Function = Callable[[jax.Array], jax.Array]
DISTRIBUTIONS = {"categorical": Categoricals, "bernoulli": Bernoullis}


def jacobians(name: str, function: Function, logits: jax.Array, rng: jax.Array,
              num_samples: int, *, kind: str | None = None, state: Any = None,
              estimator_params: Any = None, **options) -> jax.Array:
    """Rows ``[num_samples, *logits.shape]`` of the estimator ``name`` (module docstring)."""
    check_args(num_samples=num_samples)
    est = estimators.make(name, **options)
    if not est.kinds:
        raise ValueError(f"estimator={name!r} is not an estimator for discrete latents; use one "
                         f"of {', '.join(n for n, e in estimators.ESTIMATORS.items() if e.kinds)}.")
    kind = kind or est.kinds[0]
    if kind not in est.kinds:
        raise ValueError(f"estimator={name!r} serves {' and '.join(est.kinds)} latents, not "
                         f"kind={kind!r}.")
    est.check(num_samples=num_samples)
    dist_cls = DISTRIBUTIONS[kind]
    batched = jax.vmap(function)  # [k, ...] -> [k]
    state = est.init() if state is None else state
    if estimator_params is None:
        estimator_params = est.init_params(jax.random.fold_in(rng, 1), dist_cls(logits))
    key = jax.random.fold_in(rng, 0)

    def terms(lg, k, n):
        return est.terms(batched, dist_cls(lg), key=k, num_samples=n, state=state,
                         params=estimator_params)

    if est.joint_terms:
        return jax.jacrev(lambda lg: terms(lg, key, num_samples))(logits)
    return jax.vmap(lambda k: jax.grad(lambda lg: terms(lg, k, 1)[0])(logits))(
        jax.random.split(key, num_samples))


def _functional(name: str) -> Callable[..., jax.Array]:
    def fn(function: Function, logits: jax.Array, rng: jax.Array, num_samples: int,
           **options) -> jax.Array:
        return jacobians(name, function, logits, rng, num_samples, **options)

    fn.__name__ = fn.__qualname__ = f"{name}_jacobians"
    fn.__doc__ = (f"Rows ``[num_samples, *logits.shape]`` of the ``{name}`` estimator of "
                  "grad_logits E[function(z)]; see :mod:`rgrad.discrete`.")
    return fn


score_function_jacobians = _functional("score_function")
rloo_jacobians = _functional("rloo")
nvil_jacobians = _functional("nvil")
vimco_jacobians = _functional("vimco")
arm_jacobians = _functional("arm")
disarm_jacobians = _functional("disarm")
indecater_jacobians = _functional("indecater")
gumbel_softmax_jacobians = _functional("gumbel_softmax")
st_gumbel_softmax_jacobians = _functional("st_gumbel_softmax")
gumbel_rao_jacobians = _functional("gumbel_rao")
reinmax_jacobians = _functional("reinmax")
rebar_jacobians = _functional("rebar")
relax_jacobians = _functional("relax")

"""Gradient estimators: objects chosen once from the config, and their functional forms.

* The interface: :class:`Estimator` (``init``, ``update``, ``check``, ``__call__`` giving an
  :class:`Estimate` whose surrogate's gradient is the estimate), :mod:`.base`.
* The estimators: :mod:`.continuous` (pathwise, score function with baselines, measure-valued,
  imputation) and :mod:`.discrete` (Gumbel-Softmax, straight-through, relaxed Bernoulli,
  the hybrid of a mixture).
* The registry: ``ESTIMATORS`` maps config names to classes; :func:`from_config` builds the
  one a config asks for (``config.estimator``, ``config.baseline``, ``config.baseline_decay``,
  ``config.tau``). Adding an estimator is one class and one line here.
* The functional, per-sample form of the former ``optax.monte_carlo``
  (``pathwise_jacobians``, ``score_function_jacobians``, ``measure_valued_jacobians``), in
  :mod:`.jacobians`, built on the same objects.
"""

from __future__ import annotations

import inspect

from rgrad.estimators import iwae, rebar, relaxations, unbiased
from rgrad.estimators.base import Estimate, Estimator
from rgrad.estimators.baselines import (
    BASELINES,
    Baseline,
    LeaveOneOut,
    MovingAverage,
    NoBaseline,
    make_baseline,
)
from rgrad.estimators.continuous import Imputation, MeasureValued, Pathwise, ScoreFunction
from rgrad.estimators.delta import ScoreFunctionDelta
from rgrad.estimators.discrete import (
    GumbelSoftmax,
    Hybrid,
    HybridDistribution,
    RelaxedBernoulli,
    STGumbelSoftmax,
    STRelaxedBernoulli,
)
from rgrad.estimators.jacobians import (
    draw_samples,
    measure_valued_jacobians,
    multi_normal,
    pathwise_jacobians,
    score_function_jacobians,
)
from rgrad.estimators.latents import Bernoullis, Categoricals, as_discrete

ESTIMATORS: dict[str, type[Estimator]] = {e.name: e for e in (
    Pathwise, ScoreFunction, MeasureValued, Imputation, GumbelSoftmax, STGumbelSoftmax,
    RelaxedBernoulli, STRelaxedBernoulli, Hybrid, ScoreFunctionDelta,
    *unbiased.REGISTERED, *relaxations.REGISTERED, *rebar.REGISTERED, *iwae.REGISTERED)}


def _options_of(cls: type) -> set[str]:
    """The keyword options ``cls.__init__`` accepts."""
    return {n for n, p in inspect.signature(cls.__init__).parameters.items()
            if n != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def make(name: str, *, baseline: str = "none", baseline_decay: float = 0.99,
         zero_debias: bool = False, allowed: tuple[str, ...] | None = None,
         **options) -> Estimator:
    """The estimator called ``name``, built with the ``options`` its constructor takes.

    ``allowed`` restricts the names a task accepts. ``baseline`` (with ``baseline_decay``,
    ``zero_debias``) is built into a :class:`Baseline` for the estimators that take one and is
    an error for the others; other options (``temperature``, ``num_rao_samples``, ...) reach
    the estimators whose constructors name them and are ignored by the rest.
    """
    names = allowed or tuple(ESTIMATORS)
    if name not in names or name not in ESTIMATORS:
        raise ValueError(f"estimator={name!r} is unknown here; use one of {', '.join(names)} "
                         "(--config.estimator=NAME).")
    cls = ESTIMATORS[name]
    accepted = _options_of(cls)
    kwargs = {k: v for k, v in options.items() if k in accepted}
    if "baseline" in accepted:
        kwargs["baseline"] = make_baseline(baseline, baseline_decay, zero_debias)
    elif baseline != "none":
        raise ValueError(f"baseline={baseline!r} applies to the score-function estimators "
                         f"only, not estimator={name!r}; set --config.baseline=none.")
    return cls(**kwargs)


def serving(kind: str, objective: str = "mean") -> tuple[str, ...]:
    """The registered names that serve ``kind`` ("categorical" | "bernoulli") latents on
    ``objective``: what a discrete-latent task accepts, with no list of names of its own."""
    return tuple(sorted(n for n, c in ESTIMATORS.items()
                        if kind in c.kinds and objective in c.objectives))


def from_config(config, allowed: tuple[str, ...] | None = None, *, kind: str | None = None,
                **kwargs) -> Estimator:
    """``make`` with the config's ``estimator`` and, where present, ``baseline``,
    ``baseline_decay``, ``tau`` (the temperature) and the ``estimator_options`` dict.

    ``kind`` restricts the choice to the estimators :func:`serving` those latents (a one-line
    error names them for any other).
    """
    if kind is not None:
        allowed = serving(kind)
        if config.estimator not in allowed:
            raise ValueError(f"estimator={config.estimator!r} does not serve {kind} latents on "
                             f"the ELBO; use one of {', '.join(allowed)} "
                             "(--config.estimator=NAME).")
    get = config.get
    options = {"baseline": get("baseline", "none"), "baseline_decay": get("baseline_decay", 0.99)}
    if get("tau") is not None:
        options["temperature"] = float(get("tau"))
    if get("estimator_options") is not None:
        options.update(dict(get("estimator_options")))
    options.update(kwargs)
    return make(config.estimator, allowed=allowed, **options)


__all__ = [
    "BASELINES", "ESTIMATORS", "Baseline", "Bernoullis", "Categoricals", "as_discrete",
    "Estimate", "Estimator", "GumbelSoftmax", "Hybrid",
    "HybridDistribution", "Imputation", "LeaveOneOut", "MeasureValued", "MovingAverage",
    "NoBaseline", "Pathwise", "RelaxedBernoulli", "STGumbelSoftmax", "STRelaxedBernoulli",
    "ScoreFunction", "ScoreFunctionDelta", "draw_samples", "from_config", "make", "make_baseline",
    "measure_valued_jacobians", "multi_normal", "pathwise_jacobians",
    "score_function_jacobians", "serving",
]

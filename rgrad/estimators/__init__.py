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

ESTIMATORS: dict[str, type[Estimator]] = {e.name: e for e in (
    Pathwise, ScoreFunction, MeasureValued, Imputation, GumbelSoftmax, STGumbelSoftmax,
    RelaxedBernoulli, STRelaxedBernoulli, Hybrid)}

_WITH_BASELINE = (ScoreFunction, Hybrid)
_RELAXED = (GumbelSoftmax, RelaxedBernoulli)


def make(name: str, *, baseline: str = "none", baseline_decay: float = 0.99,
         zero_debias: bool = False, temperature: float = 1.0,
         allowed: tuple[str, ...] | None = None) -> Estimator:
    """The estimator called ``name``; ``allowed`` restricts the names a task accepts."""
    names = allowed or tuple(ESTIMATORS)
    if name not in names or name not in ESTIMATORS:
        raise ValueError(f"estimator={name!r} is unknown here; use one of {', '.join(names)} "
                         "(--config.estimator=NAME).")
    cls = ESTIMATORS[name]
    if issubclass(cls, _WITH_BASELINE):
        return cls(make_baseline(baseline, baseline_decay, zero_debias))
    if baseline != "none":
        raise ValueError(f"baseline={baseline!r} applies to the score-function estimators "
                         f"only, not estimator={name!r}; set --config.baseline=none.")
    if issubclass(cls, _RELAXED):
        return cls(temperature)
    return cls()


def from_config(config, allowed: tuple[str, ...] | None = None, **kwargs) -> Estimator:
    """``make`` with the config's ``estimator`` and, where present, baseline and tau fields."""
    get = config.get
    options = {"baseline": get("baseline", "none"), "baseline_decay": get("baseline_decay", 0.99)}
    if get("tau") is not None:
        options["temperature"] = float(get("tau"))
    options.update(kwargs)
    return make(config.estimator, allowed=allowed, **options)


__all__ = [
    "BASELINES", "ESTIMATORS", "Baseline", "Estimate", "Estimator", "GumbelSoftmax", "Hybrid",
    "HybridDistribution", "Imputation", "LeaveOneOut", "MeasureValued", "MovingAverage",
    "NoBaseline", "Pathwise", "RelaxedBernoulli", "STGumbelSoftmax", "STRelaxedBernoulli",
    "ScoreFunction", "draw_samples", "from_config", "make", "make_baseline",
    "measure_valued_jacobians", "multi_normal", "pathwise_jacobians",
    "score_function_jacobians",
]

"""Gradient estimators: objects chosen once from the config, and their functional forms.

* The interface: :class:`Estimator` (``init``, ``update``, ``check``, ``__call__`` giving an
  :class:`Estimate` whose surrogate's gradient is the estimate), :mod:`.base`.
* The estimators: :mod:`.continuous` (pathwise, score function with baselines, measure-valued,
  imputation) and :mod:`.discrete` (Gumbel-Softmax, straight-through, relaxed Bernoulli,
  the hybrid of a mixture).
* The registry: ``ESTIMATORS`` maps config names to classes; :func:`from_config` builds the
  one a config asks for (``config.estimator``, ``config.baseline``, ``config.baseline_decay``,
  ``config.tau``, ``config.estimator_options``; an option the chosen estimator would ignore
  is an error, :func:`check_options`). Adding an estimator is one class and one line here.
* The functional, per-sample form of the former ``optax.monte_carlo``
  (``pathwise_jacobians``, ``score_function_jacobians``, ``measure_valued_jacobians``), in
  :mod:`.jacobians`, built on the same objects.
"""

from __future__ import annotations

import difflib
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


# Config fields that set a constructor option: (field, the constructor parameter it sets, whose
# constructor: the estimator's or its baseline's). Which estimators take them is read from the
# constructors' signatures, never listed here.
_OPTION_FIELDS = (("tau", "temperature", "estimator"), ("baseline_decay", "decay", "baseline"))


def _defaults(classes, option: str) -> set:
    """The defaults the constructors of ``classes`` that name ``option`` give it: a config
    value among them is the untouched default, not a request (``tau=1.0``)."""
    return {p.default for cls in classes
            for n, p in inspect.signature(cls.__init__).parameters.items()
            if n == option and p.default is not inspect.Parameter.empty}


def _swept(config) -> set[str]:
    """The names ``config.vmap_sweep`` ("tau=0.5,1.0;lr=1e-3") varies."""
    return {item.partition("=")[0].strip() for item in str(config.get("vmap_sweep") or
                                                            "").split(";") if item.strip()}


def check_options(config, options: dict) -> None:
    """One-line ValueError for an option of ``config`` the chosen estimator would ignore.

    ``estimator_options`` keys must be options of the estimator's constructor; ``tau`` (swept
    or set away from the relaxed estimators' default) needs an estimator whose constructor
    takes a ``temperature``; ``baseline_decay`` a baseline that takes a ``decay``. ``options``
    are the resolved options (``baseline`` as the task passes it).
    """
    name = config.estimator
    cls = ESTIMATORS[name]
    accepted = _options_of(cls)
    fields = {field: option for field, option, _ in _OPTION_FIELDS if field in config}
    for key in dict(config.get("estimator_options") or {}):
        if key == "baseline" or key in fields.values():
            field = "baseline" if key == "baseline" else next(
                f for f, o in fields.items() if o == key)
            raise ValueError(f"estimator_options.{key} is set by --config.{field}; use that "
                             "instead.")
        if key not in accepted:
            takes = ", ".join(sorted(accepted - {"baseline"})) or "no options"
            near = difflib.get_close_matches(key, sorted(accepted), n=1)
            users = sorted(n for n, c in ESTIMATORS.items() if key in _options_of(c))
            fix = (f"did you mean {near[0]!r}?" if near else
                   f"it is an option of {', '.join(users)}." if users else "remove it.")
            raise ValueError(f"estimator_options.{key} is not an option of estimator={name!r} "
                             f"(its constructor takes {takes}); {fix}")
    baseline = options.get("baseline", "none")
    owners = {"estimator": (cls, ESTIMATORS), "baseline": (BASELINES.get(baseline), BASELINES)}
    for field, option, whose in _OPTION_FIELDS:
        owner, registry = owners[whose]
        if field not in config or owner is None or option in _options_of(owner):
            continue
        value = config[field]
        users = sorted(n for n, c in registry.items() if option in _options_of(c))
        what = f"estimator={name!r}" if whose == "estimator" else f"baseline={baseline!r}"
        if field in _swept(config):
            raise ValueError(f"vmap_sweep varies {field}, which {what} ignores (it applies to "
                             f"{', '.join(users)}); drop it from --config.vmap_sweep.")
        if value not in _defaults(registry.values(), option):
            raise ValueError(f"{field}={value} does not apply to {what} (only to {whose} "
                             f"{', '.join(users)}); drop --config.{field} or set "
                             f"--config.{whose} to one of those.")


def from_config(config, allowed: tuple[str, ...] | None = None, *, kind: str | None = None,
                **kwargs) -> Estimator:
    """``make`` with the config's ``estimator`` and, where present, ``baseline``,
    ``baseline_decay``, ``tau`` (the temperature) and the ``estimator_options`` dict.

    ``kind`` restricts the choice to the estimators :func:`serving` those latents (a one-line
    error names them for any other). An option the chosen estimator would ignore is an error
    (:func:`check_options`); ``kwargs`` (the task's own settings) pass as they are.
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
    estimator = make(config.estimator, allowed=allowed, **options)  # name, baseline first
    check_options(config, options)
    return estimator


__all__ = [
    "BASELINES", "ESTIMATORS", "Baseline", "Bernoullis", "Categoricals", "as_discrete",
    "Estimate", "Estimator", "GumbelSoftmax", "Hybrid",
    "HybridDistribution", "Imputation", "LeaveOneOut", "MeasureValued", "MovingAverage",
    "NoBaseline", "Pathwise", "RelaxedBernoulli", "STGumbelSoftmax", "STRelaxedBernoulli",
    "ScoreFunction", "ScoreFunctionDelta", "draw_samples", "from_config", "make", "make_baseline",
    "measure_valued_jacobians", "multi_normal", "pathwise_jacobians",
    "score_function_jacobians", "serving", "check_options",
]

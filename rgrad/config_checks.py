"""Checks of a run's config made before anything is written: one line naming field and fix.

Every numeric field with a domain is checked against a table (dotted path -> :class:`Rule`),
where it is present. :data:`COMMON` holds the fields of ``configs/base.py`` and of every
experiment config, each with the loosest domain any task allows; a task module tightens or
adds fields with a ``CONFIG_DOMAINS`` table (:data:`BOUNDS` for the tasks with
importance-weighted bounds) and cross-field rules with a ``check_config(config)`` function
(:func:`check_estimator`: enough draws for the estimator and its baseline), both run by
``experiments.registry.check_config`` before the task is built. A value out of its domain
raises a one-line ``ValueError``::

    config.batch_size=0 is out of range: the batch size (examples per step) must be an
    integer >= 1.

The points of ``config.vmap_sweep`` are checked against the same rules (``lr`` is
``optim.lr``, other names are top-level fields).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

import ml_collections


@dataclasses.dataclass(frozen=True)
class Rule:
    """A field's domain: ``ok(value)`` and the text of the allowed range, and what it is."""

    ok: Callable[[Any], bool]
    allowed: str  # "an integer >= 1"
    what: str = ""  # "the batch size (examples per step)"

    def about(self, what: str) -> Rule:
        """This domain, described as ``what``."""
        return dataclasses.replace(self, what=what)


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def integer(lo: int, hi: int | None = None) -> Rule:
    """An integer in [lo, hi] (no upper end when ``hi`` is None)."""
    text = f"an integer >= {lo}" if hi is None else f"an integer in [{lo}, {hi}]"
    return Rule(lambda v: _is_int(v) and v >= lo and (hi is None or v <= hi), text)


def real(lo: float | None = None, hi: float | None = None, *, open_lo: bool = False,
         open_hi: bool = False) -> Rule:
    """A finite number between ``lo`` and ``hi`` (each end closed unless ``open_*``)."""
    def ok(v):
        return (_is_real(v) and (lo is None or (v > lo if open_lo else v >= lo))
                and (hi is None or (v < hi if open_hi else v <= hi)))

    if lo is not None and hi is not None:
        text = f"a number in {'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}"
    elif lo is not None:
        text = f"a finite number {'>' if open_lo else '>='} {lo:g}"
    elif hi is not None:
        text = f"a finite number {'<' if open_hi else '<='} {hi:g}"
    else:
        text = "a finite number"
    return Rule(ok, text)


def positive() -> Rule:
    """A finite number > 0."""
    return real(0, open_lo=True)


def each(rule: Rule, min_len: int = 0) -> Rule:
    """A tuple (at least ``min_len`` long) whose every element satisfies ``rule``."""
    def ok(v):
        return (isinstance(v, (tuple, list)) and len(v) >= min_len
                and all(rule.ok(x) for x in v))

    length = f"of at least {min_len} " if min_len else "of "
    return Rule(ok, f"a tuple {length}elements each {rule.allowed}")


def sizes() -> Rule:
    """Layer widths: an integer >= 1 or a tuple of them (() for none)."""
    one = integer(1)
    return Rule(lambda v: one.ok(v) or each(one).ok(v),
                "an integer >= 1 or a tuple of integers >= 1")


# Fields of configs/base.py, and the fields of the experiment configs: checked where present.
# A name has one meaning in every config that has it; where tasks differ, the rule here is the
# loosest (eval.num_samples: 0 = no samples for the diffusion task) and the tasks that need
# more say so in their CONFIG_DOMAINS.
_DESCRIBED: dict[str, Rule] = {
    "seed": integer(0, 2**32 - 1).about("the seed (a uint32 of jax.random.key)"),
    "num_seeds": integer(1).about("the number of seeds trained together"),
    "num_steps": integer(0).about("the number of training steps"),
    "num_epochs": integer(0).about("the number of epochs (0: use num_steps)"),
    "batch_size": integer(1).about("the batch size (examples per step)"),
    "log_every": integer(1).about("the logging interval (steps)"),
    "eval_every": integer(1).about("the evaluation interval (steps)"),
    "checkpoint_every": integer(1).about("the checkpoint interval (steps)"),
    "keep_checkpoints": integer(1).about("the number of checkpoints kept"),
    "optim.lr": positive().about("the learning rate"),
    "optim.warmup_steps": integer(0).about("the warm-up length (steps)"),
    "optim.b1": real(0, 1, open_hi=True).about("Adam's b1"),
    "optim.b2": real(0, 1, open_hi=True).about("Adam's b2"),
    "optim.eps": real(0).about("Adam's eps"),
    "optim.weight_decay": real(0).about("the weight decay"),
    "optim.momentum": real(0, 1, open_hi=True).about("the SGD momentum (0: none)"),
    "optim.grad_clip": real(0).about("the gradient-norm clip (0: none)"),
    "optim.prior_lr": real(0).about("the prior's learning rate (0: optim.lr)"),
    "data.max_train": integer(0).about("the number of training examples kept (0: all)"),
    "num_samples": integer(1).about("the number of samples per estimate"),
    "tau": positive().about("the temperature"),
    "tau_min": positive().about("the lowest annealed temperature"),
    "baseline_decay": real(0, 1, open_hi=True).about("the baseline's moving-average decay"),
    "kl_weight": real(0).about("the KL weight"),
    "prior_std": positive().about("the prior's standard deviation"),
    "eval.num_samples": integer(0).about("the evaluation's number of samples"),
    "eval.num_examples": integer(0).about("the evaluation's number of test examples"),
    "eval.grad_draws": integer(2).about("the draws per gradient-variance estimate"),
    "sigma": real(0).about("the exploration noise's standard deviation"),
    "mesh.data": integer(1).about("the devices splitting each batch"),
    "mesh.members": integer(0).about("the devices holding the members (0: the rest)"),
}
_INTEGERS = {  # lowest allowed value
    0: ("num_epochs", "kl_warmup_steps", "eval.final_num_examples", "eval.final_bound_samples",
        "model.depth",
        "model.pixel_hidden", "sac.learning_starts", "data_seed", "data.seed",
        "abc.data_seed", "max_lag", "synthetic.data_seed"),
    1: ("num_train", "num_test", "horizon", "num_components", "num_pairs", "num_envs", "size",
        "eval.final_num_samples", "eval.map_batch", "eval.grad_batch", "eval.grad_var_examples",
        "eval.num_train_examples", "eval.num_test", "eval.num_pred_samples", "eval.mc_samples",
        "eval.num_episodes", "eval.sample_steps", "eval.gamma_examples", "model.latent",
        "model.latent2", "model.num_latent", "model.rnn_hidden", "model.schedule_hidden",
        "sac.buffer_size", "synthetic.num_points", "data.num_sequences", "data.length",
        "abc.num_times", "anneal_every"),
    2: ("eval.grad_var_draws", "eval.draws", "model.num_classes"),  # a variance; a choice
}
_POSITIVE = ("tau", "schedule_lr_mult", "model.temperature", "length_scale", "blur_width",
             "target.sigma", "init.sigma", "truth.s", "truth.r", "init.s", "init.r",
             "init_scale", "abc.noise", "abc.t_max", "sac.init_alpha")
_NONNEGATIVE = ("anneal_rate", "dropout_reg_scale", "phase_weight")
_FINITE = ("model.slope", "model.init_log_std", "model.init_log_scale", "target.phi",
           "init.phi", "scm.confounding", "truth.a", "truth.b", "init.a", "init.b")
COMMON: dict[str, Rule] = {
    **{p: integer(lo) for lo, paths in _INTEGERS.items() for p in paths},
    **dict.fromkeys(_POSITIVE, positive()),
    **dict.fromkeys(_NONNEGATIVE, real(0)),
    **dict.fromkeys(_FINITE, real()),
    **dict.fromkeys(("model.hidden", "model.enc_hidden", "model.dec_hidden",
                     "model.enc2_hidden", "model.channels"), sizes()),
    **dict.fromkeys(("eval.gammas", "scm.c", "scm.g", "target.omega", "init.omega"),
                    each(real())),
    **dict.fromkeys(("init_mean", "synthetic.weights"), each(positive())),
    "abc.rates": each(positive(), min_len=2),
    "synthetic.means": each(each(real(), min_len=1)),
    "synthetic.scales": each(each(positive(), min_len=1)),
    "model.init_keep": real(0, 1, open_lo=True, open_hi=True),
    "sac.gamma": real(0, 1, open_hi=True),
    "sac.tau": real(0, 1, open_lo=True),
    **_DESCRIBED,
}


def _get(config: ml_collections.ConfigDict, path: str) -> tuple[bool, Any]:
    """(present, value) of a dotted field."""
    node = config
    for part in path.split("."):
        if not isinstance(node, (ml_collections.ConfigDict, Mapping)) or part not in node:
            return False, None
        node = node[part]
    return True, node


def fail(path: str, value: Any, rule: Rule, where: str = "config.") -> ValueError:
    """The one-line error of ``value`` of field ``path`` outside ``rule``."""
    what = f"{rule.what} must be" if rule.what else "it must be"
    return ValueError(f"{where}{path}={value!r} is out of range: {what} {rule.allowed}.")


def check_fields(config: ml_collections.ConfigDict, rules: Mapping[str, Rule]) -> None:
    """Raise a one-line ``ValueError`` for the first present field outside its rule."""
    for path, rule in rules.items():
        present, value = _get(config, path)
        if present and not rule.ok(value):
            raise fail(path, value, rule)


def check_config(config: ml_collections.ConfigDict,
                 domains: Mapping[str, Rule] | None = None) -> None:
    """Raise ``ValueError`` naming the first field of ``config`` outside its domain.

    Args:
        config: a run's config.
        domains: a task's own fields (``CONFIG_DOMAINS``), checked after :data:`COMMON`
            (an entry there replaces the common rule of the same field).
    """
    rules = {**COMMON, **(domains or {})}
    check_fields(config, rules)
    for name in ("eval_every", "checkpoint_every"):
        if config[name] % config.log_every:
            raise ValueError(f"config.{name}={config[name]} must be a multiple of "
                             f"config.log_every={config.log_every} (metrics are averaged over "
                             "log windows, which a resume must not split).")
    _check_vmap_sweep(config, rules)


def _check_vmap_sweep(config: ml_collections.ConfigDict, rules: Mapping[str, Rule]) -> None:
    """Each point of ``config.vmap_sweep`` inside the domain of the field it replaces."""
    spec = config.get("vmap_sweep", "")
    if not spec:
        return
    from rgrad.members import parse_sweep  # jax-heavy; only sweeps need it

    for point in parse_sweep(spec):
        for name, value in point.items():
            rule = rules.get("optim.lr" if name == "lr" else name)
            if rule is not None and not rule.ok(value):
                raise fail(name, value, rule, where="config.vmap_sweep point ")


def check_estimator(config: ml_collections.ConfigDict, field: str = "num_samples",
                    objective: str = "mean", **kwargs) -> None:
    """Build the config's estimator (cheap: no data) and check that it serves
    ``config.<field>`` draws of ``objective`` (the leave-one-out baseline needs 2): a task's
    ``check_config`` calls it so that a sweep finds a bad point before any point trains.

    ``kwargs`` go to :func:`rgrad.estimators.from_config` (``allowed``, ``kind``, ...).
    """
    from rgrad import estimators  # the registry imports every estimator module

    n = config[field]
    est = estimators.from_config(config, **kwargs)
    if n < est.min_samples:
        baseline = kwargs.get("baseline", config.get("baseline", "none"))
        with_baseline = f" with baseline={baseline!r}" if baseline != "none" else ""
        raise ValueError(f"config.{field}={n} is out of range: estimator={config.estimator!r}"
                         f"{with_baseline} needs {field} >= {est.min_samples}.")
    est.check(objective=objective, num_samples=n)


# The evaluation fields of the tasks with importance-weighted bounds (vae, hvae, srnn,
# binary_vae, categorical_vae): the bounds need samples and test digits.
BOUNDS: dict[str, Rule] = {
    "eval.num_samples": integer(1).about("the evaluation's number of samples"),
    "eval.num_examples": integer(1).about("the evaluation's number of test examples"),
    "eval.final_num_examples": integer(1).about("the final evaluation's test examples")}


def check_latent_image(config: ml_collections.ConfigDict) -> None:
    """The checks of an :class:`rgrad.vae.LatentImageTask` (vae, hvae, srnn): a known
    objective, served by the estimator with ``config.num_samples`` draws (rloo: >= 2)."""
    from rgrad.vae import OBJECTIVES

    if config.objective not in OBJECTIVES:
        raise ValueError(f"config.objective={config.objective!r}; use 'elbo' or 'iwae'.")
    check_estimator(config, objective=OBJECTIVES[config.objective])

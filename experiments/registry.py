"""Find an experiment's task by module name (``config.experiment``), as big_vision does.

A task module ``experiments/tasks/NAME.py`` provides ``make_task(config)`` and may declare

* ``CONFIG_DOMAINS``: its own numeric fields, dotted path -> :class:`rgrad.config_checks.Rule`
  (the fields of ``configs/base.py`` and the shared names are in
  :data:`rgrad.config_checks.COMMON`);
* ``check_config(config)``: cross-field checks (an estimator's minimum sample count, a
  vector's length), raising a one-line ``ValueError``.

:func:`check_config` runs all of them without building the task (no data is loaded), so a
sweep can check every point before the first one trains; :func:`make_task` runs it first.
"""

import importlib
from types import ModuleType

from rgrad import config_checks
from rgrad.task import Task


def task_module(config) -> ModuleType:
    """The module ``experiments.tasks.<config.experiment>``; a one-line ValueError if none."""
    name = config.experiment
    if not name:
        raise ValueError("config.experiment is empty; set it to a module of experiments/tasks/ "
                         "(e.g. 'vae').")
    try:
        return importlib.import_module(f"experiments.tasks.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"experiments.tasks.{name}":
            raise ValueError(f"config.experiment={name!r}: no module "
                             f"experiments/tasks/{name}.py.") from None
        raise


def check_config(config) -> None:
    """Every field check of ``config`` (common, the task's table, its cross-field checks).

    Cheap and free of side effects: call it on every point of a sweep before training any.

    Raises:
        ValueError: one line naming the first field out of its domain and the allowed range.
    """
    module = task_module(config)
    config_checks.check_config(config, getattr(module, "CONFIG_DOMAINS", None))
    if hasattr(module, "check_config"):
        module.check_config(config)


def make_task(config) -> Task:
    """The task of ``config``, after :func:`check_config`."""
    check_config(config)
    return task_module(config).make_task(config)

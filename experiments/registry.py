"""Find an experiment's task by module name (``config.experiment``), as big_vision does."""

import importlib

from rgrad.task import Task


def make_task(config) -> Task:
    name = config.experiment
    if not name:
        raise ValueError("config.experiment is empty; set it to a module of experiments/tasks/ "
                         "(e.g. 'vae').")
    try:
        module = importlib.import_module(f"experiments.tasks.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"experiments.tasks.{name}":
            raise ValueError(f"config.experiment={name!r}: no module "
                             f"experiments/tasks/{name}.py.") from None
        raise
    return module.make_task(config)

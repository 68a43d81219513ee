"""Tasks: one module per experiment, each filling :class:`rgrad.task.Task` with a ``make_task``.

``config.experiment = NAME`` selects ``experiments/tasks/NAME.py`` (resolved by
:mod:`experiments.registry`). A task module imports only ``rgrad`` (never another experiment).
"""

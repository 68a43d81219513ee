"""rgrad: the reparameterization trick and Monte Carlo gradient estimation in JAX.

The public API, importable from the top level (each name is imported on first use, so
``import rgrad`` itself loads neither JAX nor orbax nor pandas)::

    import rgrad
    run = rgrad.load_run("runs/vae")                      # a finished run: config, metrics, params
    est = rgrad.estimators.make("score_function", baseline="rloo")
    x = rgrad.samplers.gaussian_diag(key, mu, sigma)      # reparameterized draws

* Gradient estimators: :mod:`rgrad.estimators` (``Estimator``, ``Estimate``, ``make``,
  ``ESTIMATORS``, ``from_config``) and the functional forms ``pathwise_jacobians``,
  ``score_function_jacobians``, ``measure_valued_jacobians``.
* Samplers: :mod:`rgrad.samplers`; surrogate losses: :mod:`rgrad.surrogate`; control
  variates: :mod:`rgrad.control_variates`; variance diagnostics: :mod:`rgrad.diagnostics`.
* Training: :class:`rgrad.task.Task` and :func:`rgrad.train.train_and_evaluate`.
* Finished runs: :func:`rgrad.runs.load_run`, :func:`rgrad.runs.load_sweep`.
"""

import importlib
import importlib.metadata
import os


def _disable_xla_cpu_ynn_fusions() -> None:
    """Turn off XLA:CPU's experimental YNNPACK fusions for this process (jaxlib 0.10.x).

    In jaxlib 0.10.2 they return garbage (inf, 1e8-1e37) from some fused reductions, differently
    from process to process: the same compiled executable on the same inputs was right in one
    process and wrong in the next (BENCHMARKS.md, diffusion section; 7/7 processes right without
    them). XLA reads XLA_FLAGS when JAX first initialises its backend, so this takes effect
    when rgrad is imported before the first JAX computation (every entry point here does). A
    user's own setting of the flag wins.
    """
    try:
        version = tuple(int(p) for p in importlib.metadata.version("jaxlib").split(".")[:3])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return
    if not (0, 10, 2) <= version < (0, 11, 0):  # the flag is unknown to older XLA (fatal)
        return
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_experimental_ynn_fusion_type" not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_experimental_ynn_fusion_type=".strip()


_disable_xla_cpu_ynn_fusions()


# Top-level names -> the module that defines them (imported on first access, PEP 562).
_EXPORTS = {
    "load_run": "rgrad.runs", "load_sweep": "rgrad.runs", "seed_stats": "rgrad.runs",
    "train_and_evaluate": "rgrad.train", "Task": "rgrad.task",
    "Estimator": "rgrad.estimators", "Estimate": "rgrad.estimators",
    "ESTIMATORS": "rgrad.estimators", "make_estimator": "rgrad.estimators",
    "pathwise_jacobians": "rgrad.estimators", "score_function_jacobians": "rgrad.estimators",
    "measure_valued_jacobians": "rgrad.estimators", "estimator_stats": "rgrad.diagnostics",
}
_RENAMED = {"make_estimator": "make"}
_SUBMODULES = ("control_variates", "diagnostics", "discrete", "estimators", "families",
               "implicit", "relaxed", "runs", "samplers", "surrogate", "task", "train")
__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"rgrad.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), _RENAMED.get(name, name))
        globals()[name] = value  # later lookups skip __getattr__
        return value
    raise AttributeError(f"module 'rgrad' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

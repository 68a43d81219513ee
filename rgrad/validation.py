"""One small place for argument checks shared by the estimators and control variates.

Checks run at trace time on static information (shapes, Python ints), so they also work
under `jax.jit` as long as `num_samples` is static.
"""
from collections.abc import Sequence

import jax.numpy as jnp


def check_args(
    *,
    num_samples: int | None = None,
    params: Sequence | None = None,
    same_shape: Sequence[tuple[str, object]] = (),
) -> None:
    """Raises `ValueError` naming the offending argument and how to fix it.

    Args:
        num_samples: if given, must be a Python int > 0.
        params: if given, must be a non-empty list or tuple of arrays.
        same_shape: `(name, array)` pairs that must all share one shape, e.g.
            `(("mean", mean), ("log_scale", log_scale))`.
    """
    if num_samples is not None:
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(
                f"num_samples must be a positive Python int, got {num_samples!r}; pass e.g. "
                "num_samples=1000 (and mark it static under jax.jit).")
    if params is not None:
        if not isinstance(params, list | tuple) or not params:
            raise ValueError(
                "params must be a non-empty list or tuple of arrays, got "
                f"{type(params).__name__}; pass e.g. params=[mean, log_scale].")
    if same_shape:
        (name0, arr0), *rest = same_shape
        shape0 = jnp.shape(arr0)
        for name, arr in rest:
            if jnp.shape(arr) != shape0:
                raise ValueError(
                    f"{name} has shape {jnp.shape(arr)} but {name0} has shape {shape0}; "
                    f"give {name} the same shape as {name0}.")

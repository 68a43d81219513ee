"""Argument checks shared by the samplers, relaxed distributions, estimators and control variates.

`check_args` runs at trace time on static information (shapes, Python ints), so it also works
under `jax.jit` as long as `num_samples` is static. `check_positive` runs only on concrete
values: under `jit`/`grad`/`vmap` the arguments are tracers whose values are unknown, so the
check is skipped there rather than forcing a host sync.
"""
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


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


def check_positive(name: str, x, hint: str = "") -> None:
    """Raises `ValueError` if a concrete `x` has any entry <= 0 (or NaN); skips tracers.

    Args:
      name: Argument name, quoted in the message.
      x: Value to check (array-like or tracer).
      hint: How to fix it; defaults to suggesting `jnp.exp(log_<name>)`.
    """
    if isinstance(x, jax.core.Tracer):
        return
    arr = np.asarray(x)
    if arr.size and not np.all(arr > 0):
        hint = hint or f"pass a positive value, e.g. jnp.exp(log_{name})"
        raise ValueError(f"{name} must be > 0 (got min {np.nanmin(arr)}); {hint}")


def batch_shape_of(**params) -> tuple[int, ...]:
    """Broadcast shape of the named parameters; `ValueError` naming them if incompatible."""
    shapes = {k: tuple(jnp.shape(v)) for k, v in params.items()}
    try:
        return tuple(jnp.broadcast_shapes(*shapes.values()))
    except ValueError:
        desc = ", ".join(f"{k}.shape={s}" for k, s in shapes.items())
        raise ValueError(f"parameter shapes do not broadcast ({desc}); pass arrays with the same "
                         "batch shape, or scalars") from None


def as_float(x) -> jax.Array:
    """`x` as a floating-point array (ints are promoted to the default float dtype)."""
    x = jnp.asarray(x)
    return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.result_type(float))


def full_shape(shape: int | Sequence[int], batch: Sequence[int]) -> tuple[int, ...]:
    """`shape + batch` as a tuple, accepting an int sample shape."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return shape + tuple(batch)

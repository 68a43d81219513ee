"""Argument checks and shape helpers shared by the samplers and relaxed distributions.

Checks run only on concrete values: under `jit`/`grad`/`vmap` the arguments are tracers whose
values are unknown, so the checks are skipped there rather than forcing a host sync.
"""
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


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

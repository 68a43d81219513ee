"""The small network of the learned control variates (NVIL's baseline, RELAX's residual)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def tanh_mlp_init(key: jax.Array, size: int, hidden: int) -> dict:
    """One tanh hidden layer of ``hidden`` units on ``size`` inputs; the output layer starts at
    zero, so the network starts as the constant 0 (the estimator without it)."""
    w1 = jax.random.normal(key, (size, hidden)) / np.sqrt(size)
    return {"w1": w1, "b1": jnp.zeros((hidden,)), "w2": jnp.zeros((hidden,)),
            "b2": jnp.zeros(())}


def tanh_mlp(params: dict, x: jax.Array) -> jax.Array:
    """``x`` [..., size] -> [...]."""
    b1 = params["b1"].reshape((1,) * (x.ndim - 1) + params["b1"].shape)
    return jnp.tanh(x @ params["w1"] + b1) @ params["w2"] + params["b2"]

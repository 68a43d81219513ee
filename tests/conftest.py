"""Shared test setup: strict rank promotion, and the data dir of the checkout's neighbour."""
import os
import pathlib

import jax

import rgrad  # noqa: F401  (process-wide XLA workaround; before any JAX computation)

jax.config.update("jax_numpy_rank_promotion", "raise")

_SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
if "RGRAD_DATA_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["RGRAD_DATA_DIR"] = str(_SHARED)

"""Shared test setup: strict rank promotion, fast compiles, and the data dir of the neighbour."""
import os
import pathlib

# The suite is compile-bound (small programs run once): XLA:CPU's backend at -O0 compiles them
# in about two thirds of the CPU time (hvae's smoke test: 28 s instead of 43 s) and computes the
# same functions. Tests only; training and benchmarks keep the default. Set before JAX starts.
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                               + " --xla_backend_optimization_level=0").strip()

import jax  # noqa: E402

import rgrad  # noqa: F401, E402  (process-wide XLA workaround; before any JAX computation)

jax.config.update("jax_numpy_rank_promotion", "raise")

_SHARED = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"
if "RGRAD_DATA_DIR" not in os.environ and _SHARED.is_dir():
    os.environ["RGRAD_DATA_DIR"] = str(_SHARED)

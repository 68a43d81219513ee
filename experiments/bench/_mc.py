"""Per-sample Jacobians in one process: rgrad's or optax 0.2.6's ``optax.monte_carlo``.

Same calls on both sides: ``ESTIMATOR_jacobians(cost, [mean, log_scale], multi_normal, key,
N)`` jitted, cost sum(x^2), D-dimensional diagonal Gaussian at mean 0, log scale 0. The floor
is the time to draw the noise the estimator draws, alone, jitted: for rgrad the per-sample
keys and draws it makes (``draw_samples``; the measure-valued estimator's
``measure_valued_noise``, drawn whole and in the estimator's blocks, the faster counted); for
optax ``dist.sample((N,), key)`` (its measure-valued estimator draws more, not counted: the
floor shown is a lower bound). Imports only jax and the chosen library, so it runs in the
peers' virtualenv for ``lib="optax"``.
"""

from __future__ import annotations

import time


def _median_s(fn, repeats: int) -> tuple[float, float]:
    import jax

    t0 = time.perf_counter()
    jax.block_until_ready(fn())  # compile
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return first, sorted(times)[len(times) // 2]


def _floor(lib: str, estimator: str, n: int, dim: int, params, key, repeats: int) -> float:
    import jax
    import jax.numpy as jnp

    if lib == "optax":
        import optax

        draw = jax.jit(lambda k: optax.multi_normal(*params).sample((n,), key=k))
        return _median_s(lambda: draw(key), repeats)[1]
    from rgrad import estimators as est
    from rgrad.estimators import continuous

    if estimator != "measure_valued":
        draw = jax.jit(lambda k: est.draw_samples(params, est.multi_normal, k, n))
        return _median_s(lambda: draw(key), repeats)[1]

    def noise(keys):
        return jax.vmap(lambda k: continuous.measure_valued_noise(k, (dim,), jnp.float32,
                                                                  True))(keys)

    whole = jax.jit(lambda k: noise(jax.random.split(k, n)))
    size = continuous._BLOCK_ELEMENTS // (9 * dim)
    blocked = jax.jit(lambda k: continuous._in_blocks(noise, jax.random.split(k, n), size))
    return min(_median_s(lambda: whole(key), repeats)[1],
               _median_s(lambda: blocked(key), repeats)[1])


def measure(lib: str, cases: list, dim: int, repeats: int) -> dict:
    """For each ``(estimator, N)`` of ``cases``: seconds per call (median of ``repeats``
    after a compiling call) ``{estimator}@{N}_s``, the compiling call ``..._first_s`` and the
    floor ``..._floor_s``."""
    import jax
    import jax.numpy as jnp

    if lib == "optax":
        import optax
        from optax import monte_carlo as module

        builder = optax.multi_normal
    else:
        from rgrad import estimators as module

        builder = module.multi_normal
    params = [jnp.zeros(dim), jnp.zeros(dim)]
    key = jax.random.key(0) if lib == "rgrad" else jax.random.PRNGKey(0)
    out = {"jax": jax.__version__}
    for estimator, n in cases:
        fn = getattr(module, f"{estimator}_jacobians")
        call = jax.jit(lambda k, fn=fn, n=n: fn(lambda x: jnp.sum(jnp.square(x)), params,
                                                 builder, k, n))
        first, s = _median_s(lambda call=call: call(key), repeats)
        tag = f"{estimator}@{n}"
        out[tag + "_s"], out[tag + "_first_s"] = s, first
        out[tag + "_floor_s"] = _floor(lib, estimator, n, dim, params, key, repeats)
    return out

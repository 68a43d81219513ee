"""Benchmark: per-sample Jacobians, rgrad against optax 0.2.6's ``optax.monte_carlo``.

    python -m experiments.bench --only=estimators [--quick]

Pathwise, score function and measure-valued estimators, same calls on both sides (see
:mod:`experiments.bench._mc`): cost sum(x^2) under a D = 100 diagonal Gaussian, N samples in
one jitted call. rgrad runs in the project's interpreter, optax 0.2.6 (the last release with
``optax.monte_carlo``) with its own jax in the peers' virtualenv (``make bench-env``); each in
its own process, interleaved over rounds. Each table row also gives the floor: the time to
draw the estimator's noise alone. optax's measure-valued estimator materialises four
``[N, D, D]`` arrays (4 GB each at N = 1e5), so the measure-valued pair is compared at
N = 1e4 and rgrad alone also runs at N = 1e5.
"""

from __future__ import annotations

import os

NAME = "estimators"
ESTIMATORS = ("pathwise", "score_function", "measure_valued")


def run(quick: bool = False) -> str:
    from experiments.bench import _procs as P

    dim = 100
    n, n_mv, rounds, repeats = (10_000, 2_000, 2, 3) if quick else (100_000, 10_000, 2, 3)
    pairs = [(e, n if e != "measure_valued" else n_mv) for e in ESTIMATORS]
    rgrad_cases = pairs + ([("measure_valued", n)] if n != n_mv else [])
    main, peer = P.main_python(), P.peer_python("optax.monte_carlo")
    sides = {"rgrad": (main, "mc", {"lib": "rgrad", "cases": rgrad_cases, "dim": dim,
                                    "repeats": repeats})}
    if peer:
        sides["optax"] = (peer, "mc", {"lib": "optax", "cases": pairs, "dim": dim,
                                       "repeats": repeats})
    res = P.interleaved(sides, rounds)
    rg, ox = res["rgrad"], res.get("optax")
    lines = [f"Cost sum(x^2), D = {dim}, one jitted call for N samples; rgrad (jax "
             f"{rg[0]['jax']}) and optax 0.2.6 (jax {ox[0]['jax'] if ox else '-'}) each in "
             f"its own process, {rounds} interleaved rounds, each the median of {repeats} "
             "calls after a compiling call; `median (min-max)` over rounds. Floor: the "
             "estimator's noise drawn alone (optax: its base samples only, a lower bound). "
             f"Load average (1 min): {P.loads(res)} on {os.cpu_count()} cores. Peak RSS: rgrad "
             f"{P.rss(rg)} MB, optax {P.rss(ox) if ox else '-'} MB (whole process).", "",
             "| estimator | N | rgrad ms | rgrad floor ms | rgrad / floor | optax ms "
             "| optax floor ms | optax / rgrad (per round) | rgrad compile s | optax compile s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for est, m in rgrad_cases:
        tag = f"{est}@{m}"
        for r in (*rg, *(ox or ())):
            for k in ("_s", "_floor_s"):
                if tag + k in r:
                    r[tag + k + "_ms"] = r[tag + k] * 1e3
        over_floor = P.median(rg, tag + "_s") / P.median(rg, tag + "_floor_s")
        has_ox = ox is not None and tag + "_s" in ox[0]
        lines.append(
            f"| {est} | {m} | {P.spread(rg, tag + '_s_ms')} | "
            f"{P.spread(rg, tag + '_floor_s_ms')} | {over_floor:.1f}x | "
            + (f"{P.spread(ox, tag + '_s_ms')} | {P.spread(ox, tag + '_floor_s_ms')} | "
               f"{P.ratio(ox, rg, tag + '_s')} | " if has_ox else
               f"{'-' if ox else P.PEER_HINT} | - | - | ")
            + f"{P.spread(rg, tag + '_first_s')} | "
            + (f"{P.spread(ox, tag + '_first_s')} |" if has_ox else "- |"))
    mv = f"measure_valued@{n}"
    ratio = P.median(rg, mv + "_s") / P.median(rg, mv + "_floor_s")
    lines += ["", f"Measure-valued at N = {n}: {ratio:.1f}x its noise floor (target <= 10x): "
              f"{'met' if ratio <= 10 else 'NOT met'}."]
    return "\n".join(lines)

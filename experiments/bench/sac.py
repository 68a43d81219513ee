"""Benchmark: SAC on Pendulum, rgrad's shared loop against Stable-Baselines3.

    python -m experiments.bench --only=sac [--quick]

Both sides: the SB3 zoo's Pendulum-v1 hyperparameters (lr 1e-3, batch 256, gamma 0.99,
tau 0.005, learned temperature, 100 random warm-up steps, one gradient step per environment
step) with 64-64 networks (``configs/pendulum.py``), 20k environment steps (``--quick``: 2k).
rgrad runs gymnax's Pendulum inside its compiled loop, SB3 gymnasium's Pendulum-v1 on
PyTorch (the peers' virtualenv). Each run is its own process, in the order rgrad 1 seed,
SB3, rgrad 8 seeds in one program. Environment steps per second count every seed's steps
over the whole training call (rgrad's includes its compilation); rgrad's warm rate is its
loop's median over the log windows after the first (SB3 compiles nothing). Return: the deterministic
policy's mean return over 10 episodes at the end (rgrad: per seed, then mean and range).
"""

from __future__ import annotations

import os

import numpy as np

NAME = "sac"


def run(quick: bool = False) -> str:
    from experiments.bench import _procs as P

    steps = 2_000 if quick else 20_000
    main, peer = P.main_python(), P.peer_python("stable_baselines3")

    def rgrad(seeds):
        over = {"num_steps": steps, "num_seeds": seeds, "eval_every": steps,
                "checkpoint_every": steps, "log_every": steps // 4}
        r = P.measure(main, "train", {"config": "configs/pendulum.py", "overrides": over})
        r["returns"] = [m["eval_return"] for m in r["member_metrics"]]
        r["env_steps_per_s"] = steps * seeds / r["wall_s"]
        # Compiled: the loop's rate over its last log windows, compilation excluded.
        r["warm_env_steps_per_s"] = seeds * float(np.median(r["window_steps_per_s"][1:]))
        print(f"[bench]   rgrad {seeds} seed(s): {r['env_steps_per_s']:.0f} env steps/s, "
              f"load {r['load']:.1f}", flush=True)
        return r

    rows = [("rgrad, 1 seed", rgrad(1))]
    if peer:
        r = P.measure(peer, "torch_sac", {"steps": steps, "seed": 0, "hidden": [64, 64],
                                          "eval_episodes": 10})
        r["returns"] = [r["return"]]
        print(f"[bench]   SB3: {r['env_steps_per_s']:.0f} env steps/s", flush=True)
        rows.append(("Stable-Baselines3 SAC (PyTorch), 1 seed", r))
    else:
        rows.append(("Stable-Baselines3 SAC", None))
    rows.append(("rgrad, 8 seeds in one program", rgrad(8)))
    lines = [f"{steps} environment steps per seed; process wall includes interpreter start "
             f"and imports. {os.cpu_count()} cores.", "",
             "| implementation | env steps / s (all seeds) | same, compiled (warm) | training "
             "wall s | process s | return at the end (mean, range over seeds) | peak RSS MB "
             "| load |", "|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        if r is None:
            lines.append(f"| {name} | {P.PEER_HINT} | - | - | - | - | - | - |")
            continue
        ret = np.array(r["returns"])
        rng = f" ({ret.min():.0f} to {ret.max():.0f})" if len(ret) > 1 else ""
        warm = r.get("warm_env_steps_per_s")
        lines.append(f"| {name} | {r['env_steps_per_s']:.0f} | "
                     f"{'-' if warm is None else f'{warm:.0f}'} | {r['wall_s']:.1f} | "
                     f"{r['proc_s']:.1f} | {ret.mean():.0f}{rng} | {r['rss_mb']:.0f} | "
                     f"{r['load']:.1f} |")
    if rows[1][1] is not None:
        lines += ["", f"rgrad 1 seed / SB3 env steps per second: "
                  f"{rows[0][1]['env_steps_per_s'] / rows[1][1]['env_steps_per_s']:.2f}; "
                  f"rgrad 8 seeds / SB3: "
                  f"{rows[2][1]['env_steps_per_s'] / rows[1][1]['env_steps_per_s']:.2f}."]
    return "\n".join(lines)

"""Pendulum-v1: mean deterministic return (± std over seeds) against environment steps.

    python -m experiments.figures --only=pendulum_curves                # 6k steps, 3 seeds
    python -m experiments.figures --only=pendulum_curves --variant=full  # see below
Default: trains SAC (pathwise through the learned Q) and REINFORCE (score function) for 6k
environment steps, 3 seeds each, inside the figure's folder (rerunning re-plots them), a few
minutes on 2 cores so that `make figures` stays short. Expected: SAC above -400 by 6k steps
(the 20k-step run was at -195 +- 94 at 6k), REINFORCE near the random policy (about -1200).

The paper-budget version (``full``: 20k steps, 5 seeds, BENCHMARKS.md) re-plots the runs of
    python -m experiments.main --config=configs/pendulum.py --workdir=runs/pendulum_sac
    python -m experiments.main --config=configs/pendulum.py:reinforce --workdir=runs/pendulum_pg
(about 20 minutes together on 2 cores; the figure trains them itself if they are missing).
"""

import ml_collections

from configs import base, pendulum

VARIANTS = ("default", "full", "quick")


def budget(variant: str, env_steps: int, num_seeds: int) -> dict:
    """Overrides giving configs/pendulum.py:variant ``env_steps`` environment steps per seed."""
    c = pendulum.get_config(variant)
    # SAC: one env step per loop step and env; REINFORCE: num_envs episodes of 200 steps.
    steps = env_steps // (c.num_envs * (200 if c.algo == "reinforce" else 1))
    every = c.log_every * max(1, steps // (6 * c.log_every))
    return {"num_seeds": num_seeds, "num_steps": steps, "checkpoint_every": every,
            "eval_every": every}


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS, exclusive={"runs": ("full", "quick")})
    c = ml_collections.ConfigDict()
    c.module = "pendulum_curves"
    # (name, experiment config, overrides, run dir relative to the repo; "" = in the figure's
    # folder), and the runs' legend labels.
    c.runs = (("default", "configs/pendulum.py:default", budget("default", 6000, 3), ""),
              ("reinforce", "configs/pendulum.py:reinforce", budget("reinforce", 6000, 3), ""))
    if "full" in variant:
        c.runs = (("default", "configs/pendulum.py:default", {}, "runs/pendulum_sac"),
                  ("reinforce", "configs/pendulum.py:reinforce", {}, "runs/pendulum_pg"))
    if "quick" in variant:  # trained inside the figure's folder
        c.runs = (("quick", "configs/pendulum.py:quick", {}, ""),
                  ("quick_reinforce", "configs/pendulum.py:quick_reinforce", {}, ""))
    c.labels = ("SAC (pathwise through learned Q)", "REINFORCE (score function)")
    return c

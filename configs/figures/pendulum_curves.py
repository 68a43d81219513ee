"""Pendulum-v1: mean deterministic return (± std over seeds) against environment steps.

    python -m experiments.figures --only=pendulum_curves               # 6k steps, 3 seeds
    python -m experiments.figures --only=pendulum_curves --config=full  # see below
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


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "pendulum_curves"
    # (label, configs/pendulum.py variant, run dir relative to the repo; "" = in the figure's
    # folder). env_steps / num_seeds override the variant's budget (0 = keep it).
    c.runs = (("SAC (pathwise through learned Q)", "default", ""),
              ("REINFORCE (score function)", "reinforce", ""))
    c.env_steps = 6000
    c.num_seeds = 3
    if arg == "full":
        c.runs = (("SAC (pathwise through learned Q)", "default", "runs/pendulum_sac"),
                  ("REINFORCE (score function)", "reinforce", "runs/pendulum_pg"))
        c.env_steps = 0
        c.num_seeds = 0
    if arg == "quick":  # trained inside the figure's folder
        c.runs = (("SAC (pathwise through learned Q)", "quick", ""),
                  ("REINFORCE (score function)", "quick_reinforce", ""))
        c.env_steps = 0
        c.num_seeds = 0
    return c

"""Pendulum-v1: mean deterministic return (± std over 5 seeds) against environment steps.

    python -m experiments.main --config=configs/pendulum.py --workdir=runs/pendulum_sac
    python -m experiments.main --config=configs/pendulum.py:reinforce --workdir=runs/pendulum_pg
    python -m experiments.figures --only=pendulum_curves
The figure resumes (i.e. just re-evaluates) the finished runs under runs/; run the two training
commands first (about 20 minutes together on 2 cores) or the figure trains them itself.
"""

import ml_collections


def get_config(arg=None):
    c = ml_collections.ConfigDict()
    c.module = "pendulum_curves"
    c.runs = (("SAC (pathwise through learned Q)", "default", "runs/pendulum_sac"),
              ("REINFORCE (score function)", "reinforce", "runs/pendulum_pg"))
    if arg == "quick":  # trained inside the figure's folder
        c.runs = (("SAC (pathwise through learned Q)", "quick", ""),
                  ("REINFORCE (score function)", "quick_reinforce", ""))
    return c

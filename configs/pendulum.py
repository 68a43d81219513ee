"""Pendulum-v1 (gymnax): SAC (pathwise through a learned Q) vs REINFORCE (score function).

Launch:
    python -m experiments.main --config=configs/pendulum.py --workdir=runs/pendulum_sac
    python -m experiments.main --config=configs/pendulum.py:reinforce --workdir=runs/pendulum_pg
Variants (``--config=configs/pendulum.py:VARIANT``):
    default    SAC as in the Stable-Baselines3 zoo's Pendulum-v1 entry (lr 1e-3, batch 256,
               gamma 0.99, tau 0.005, learned temperature, 100 random warm-up steps, one
               gradient step per environment step) with a smaller 64-64 MLP to fit a shared
               CPU; 20k environment steps, 5 seeds in one program. The zoo reports
               -157 +- 89 after 20k steps; expected here: mean deterministic return above
               -200 by 20k steps (see BENCHMARKS.md). About 15-25 minutes on 2 CPU cores.
    reinforce  the score-function policy gradient, same actor, same 20k environment steps
               (25 updates of 4 episodes each), 5 seeds: stays near the random policy's
               return (about -1200). About a minute.
    quick      400 SAC steps, 2 seeds: the smoke test (seconds).
    quick_reinforce  (= ``reinforce,quick``) 3 REINFORCE updates, 2 seeds: the smoke test
               (seconds).
"""

import ml_collections

from configs import base

VARIANTS = ("default", "reinforce", "quick", "quick_reinforce")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS, aliases={"quick_reinforce": ("reinforce", "quick")})
    c = base.get_config()
    c.experiment = "pendulum"
    c.variant = str(variant)
    c.algo = "sac"
    c.num_seeds = 5
    c.num_envs = 1  # environments per seed, stepped together by Task.batch
    c.num_steps = 20_000  # loop steps; environment steps = num_steps * num_envs for SAC
    c.batch_size = 256
    c.log_every = 500
    c.eval_every = 1000
    c.checkpoint_every = 2000
    c.artifacts = False
    c.optim.lr = 1e-3

    c.model = ml_collections.ConfigDict()
    c.model.hidden = (64, 64)

    c.sac = ml_collections.ConfigDict()
    c.sac.buffer_size = 20_000
    c.sac.gamma = 0.99
    c.sac.tau = 0.005
    c.sac.init_alpha = 1.0
    c.sac.learning_starts = 100

    c.eval = ml_collections.ConfigDict()
    c.eval.num_episodes = 10

    if "reinforce" in variant:
        c.algo = "reinforce"
        c.num_envs = 4  # episodes per update
        c.num_steps = 25  # 25 * 4 * 200 = 20k environment steps
        c.log_every = 1
        c.eval_every = 5
        c.checkpoint_every = 5
        c.optim.lr = 3e-3
    if "quick" in variant and "reinforce" not in variant:
        c.num_seeds = 2
        c.num_steps = 400
        c.batch_size = 64
        c.log_every = 100
        c.eval_every = 200
        c.checkpoint_every = 200
        c.sac.buffer_size = 1000
        c.eval.num_episodes = 2
    if "quick" in variant and "reinforce" in variant:  # quick_reinforce
        c.num_seeds = 2
        c.num_envs = 2
        c.num_steps = 3
        c.log_every = 1
        c.eval_every = 3
        c.checkpoint_every = 3
        c.eval.num_episodes = 2
    return c

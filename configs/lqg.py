"""LQG: policy-gradient training of a stochastic linear controller vs the Riccati optimum.

Launch:
    python -m experiments.main --config=configs/lqg.py --workdir=runs/lqg_pathwise
    python -m experiments.main --config=configs/lqg.py:score_function --workdir=runs/lqg_sf
Variants (``--config=configs/lqg.py:VARIANT``):
    default         pathwise gradients, 16 rollouts per step, Adam 0.03 with cosine decay,
                    500 steps (8000 rollouts), 4 seeds in one program. Expected: the logged
                    ``riccati_gap`` (exact expected cost / Riccati optimum - 1) falls below
                    0.001 (0.1%) and ends near 1e-5. Seconds on a 2-core CPU.
    score_function  the same with the score-function estimator (cost-to-go, leave-one-out
                    baseline): the same 8000 rollouts leave a gap of order 10%.
    quick           100 pathwise steps, 1 seed: the smoke test.
Problem: experiments/lqg.py:problem() (n=4, m=2, horizon 30, exploration sigma 0.3).
"""

from configs import base

VARIANTS = ("default", "score_function", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "lqg"
    c.variant = variant
    c.estimator = "pathwise"
    c.horizon = 30
    c.sigma = 0.3
    c.num_seeds = 4
    c.num_steps = 1000
    c.batch_size = 16
    c.log_every = 10
    c.eval_every = 250
    c.checkpoint_every = 1000
    c.artifacts = False
    c.optim.lr = 0.3
    c.optim.schedule = "cosine"
    if variant == "score_function":
        c.estimator = "score_function"
    if variant == "quick":
        c.num_seeds = 1
        c.num_steps = 100
        c.eval_every = 50
        c.checkpoint_every = 50
    return c

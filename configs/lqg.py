"""LQG: policy-gradient training of a stochastic linear controller vs the Riccati optimum.

Launch:
    python -m experiments.main --config=configs/lqg.py --workdir=runs/lqg_pathwise
    python -m experiments.main --config=configs/lqg.py:score_function --workdir=runs/lqg_sf
Variants (``--config=configs/lqg.py:VARIANT``):
    default         pathwise gradients, 16 rollouts per step, Adam 0.3 with cosine decay,
                    1000 steps (16000 rollouts), 4 seeds in one program. Expected: the logged
                    ``riccati_gap`` (exact expected cost / Riccati optimum - 1) falls below
                    0.001 (0.1%) and ends near 2e-4. About a minute on a 2-core CPU.
    score_function  the same with the score-function estimator (cost-to-go, leave-one-out
                    baseline), lr 0.03: the same 16000 rollouts leave a gap of about 36%.
    score_function_b256  score function with 256 rollouts per step (256000 rollouts), lr 0.1:
                    gap about 5%.
    quick           100 steps, 1 seed: the smoke test; combines with a score-function
                    variant (``score_function,quick``).
Problem: experiments/tasks/lqg.py:problem() (n=4, m=2, horizon 30, exploration sigma 0.3).
"""

from configs import base

VARIANTS = ("default", "score_function", "score_function_b256", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS, exclusive={"estimator": VARIANTS[1:3]})
    c = base.get_config()
    c.experiment = "lqg"
    c.variant = str(variant)
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
    if "score_function" in variant:
        c.estimator = "score_function"
        c.optim.lr = 0.03  # best of 0.03/0.1/0.3 (0.3 diverges)
    if "score_function_b256" in variant:
        c.estimator = "score_function"
        c.batch_size = 256
        c.optim.lr = 0.1  # best of 0.03/0.1/0.3
    if "quick" in variant:
        c.num_seeds = 1
        c.num_steps = 100
        c.eval_every = 50
        c.checkpoint_every = 50
    return c

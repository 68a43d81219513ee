"""Fixed vs learned noise schedule on the 2-D ring: loss variance, bound, samples.

    python -m experiments.figures --only=diffusion_schedules

Trains the toy diffusion model (configs/diffusion.py:toy model) with the DDPM linear, the
cosine, the gamma-linear and the learned (VDM) schedule on the same budget, then plots the
schedules, the variance of the one-draw diffusion-loss estimate and the bound (with standard
errors, against the true entropy), and samples over the true density.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def run_overrides(c, schedule: str) -> dict:
    """Overrides of configs/diffusion.py:toy for one schedule on the figure's budget."""
    return {"schedule": schedule, "num_steps": c.num_steps, "log_every": c.num_steps,
            "eval_every": c.num_steps, "checkpoint_every": c.num_steps,
            "optim.warmup_steps": min(100, c.num_steps // 10), "model.hidden": c.hidden,
            "model.depth": c.depth,
            "eval.num_examples": 0,  # only the final evaluation
            "eval.final_num_examples": c.eval_examples, "eval.draws": c.draws,
            "eval.num_samples": c.num_samples, "eval.sample_steps": c.sample_steps,
            "artifacts": False}


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "diffusion_schedules"
    schedules = ("ddpm_linear", "cosine", "linear", "learned")
    c.num_steps = 1000
    c.hidden = 64
    c.depth = 2
    c.eval_examples = 2048
    c.draws = 8
    c.num_samples = 500
    c.sample_steps = 100
    if "quick" in variant:
        schedules = ("ddpm_linear", "linear", "learned")
        c.num_steps = 300
        c.hidden = 32
        c.depth = 1
        c.eval_examples = 512
        c.draws = 8
        c.num_samples = 256
        c.sample_steps = 50
    # (name, experiment config, overrides): one run per noise schedule.
    c.runs = tuple((s, "configs/diffusion.py:toy", run_overrides(c, s)) for s in schedules)
    return c

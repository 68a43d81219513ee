"""Procedural texture: recover (omega, phi, sigma) of a jittered sinusoid by pathwise gradients.

Launch:
    python -m experiments.main --config=configs/texture.py --workdir=runs/texture
Target: a 96x96 render with omega = (0.35, 0.20) rad/pixel, phi = 1.0, sigma = 2.0 pixels;
start: omega = (0.25, 0.28), phi = 0, sigma = 0.8. Expected: omega and sigma within a few
percent, phi within 0.1 rad, in about a minute on a 2-core CPU
(measured: omega error 0.10%, sigma 1.2%, phi -0.046 rad; 53 s).
Variants: ``default``; ``quick`` (a 48x48 target, 150 steps: the smoke test).
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "texture"
    c.variant = str(variant)
    c.size = 96
    c.max_lag = 3
    c.blur_width = 2.0  # pixels
    c.phase_weight = 0.1
    c.num_samples = 4
    c.data_seed = 0
    c.num_steps = 600
    c.log_every = 100
    c.eval_every = 200
    c.checkpoint_every = 200
    c.optim.lr = 0.02
    c.optim.schedule = "cosine"
    c.target = ml_collections.ConfigDict()
    c.target.omega = (0.35, 0.20)
    c.target.phi = 1.0
    c.target.sigma = 2.0
    c.init = ml_collections.ConfigDict()
    c.init.omega = (0.25, 0.28)
    c.init.phi = 0.0
    c.init.sigma = 0.8
    if "quick" in variant:
        c.size = 48
        c.num_steps = 150
        c.log_every = 50
        c.eval_every = 150
        c.checkpoint_every = 150
    return c

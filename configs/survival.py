"""Log-normal AFT model on the Rossi recidivism data by Monte Carlo (imputation) gradients.

Launch:
    python -m experiments.main --config=configs/survival.py --workdir=runs/survival
Reproduces lifelines' ``LogNormalAFTFitter`` maximum-likelihood fit of ``load_rossi()``
(log-likelihood -683.6 on 432 subjects, e.g. fin 0.343, prio -0.066, log sigma 0.258): the
final evaluation reports ``max_z_vs_lifelines``, the largest coefficient difference in
lifelines standard errors (expected < 0.1). About 20 seconds on a 2-core CPU.
Variants: ``default``; ``quick`` (200 steps, the smoke test).
"""

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "survival"
    c.variant = str(variant)
    c.estimator = "imputation"  # Fisher's identity at imputed censored log-times
    c.num_steps = 3000
    c.log_every = 250
    c.eval_every = 1000
    c.checkpoint_every = 1000
    c.optim.lr = 0.05
    c.optim.schedule = "cosine"  # the decay averages out the imputation noise
    c.compare_lifelines = True
    if "quick" in variant:
        c.num_steps = 200
        c.log_every = 100
        c.eval_every = 200
        c.checkpoint_every = 200
    return c

"""Gaussian mixture fitted by energy distance with a hybrid pathwise / score-function gradient.

Launch:
    python -m experiments.main --config=configs/mixture.py --workdir=runs/mixture
    python -m experiments.main --config=configs/mixture.py:iris --workdir=runs/mixture_iris
Pure score-function comparison: --config.estimator=score_function.
Variants (``--config=configs/mixture.py:VARIANT``):
    default  synthetic 2-D mixture with known truth (3 components, weights .5/.3/.2, 2000
             points), 128 pairs of model draws per step, Adam 3e-2 cosine-decayed, 3000
             steps. Reports the fitted weights/means/scales against the truth (max abs errors)
             and the gradient variance of the hybrid and pure score-function estimators.
             About a minute on 2 CPUs.
    iris     iris petal length and width (150 points, ships with scikit-learn), 3 components,
             compared with scikit-learn's GaussianMixture (EM, diagonal covariances).
    quick    300 steps of the synthetic problem: the smoke test (seconds); ``iris,quick``
             the same budget on iris.
"""

from configs import base

VARIANTS = ("default", "iris", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "mixture"
    c.variant = str(variant)
    c.dataset = "synthetic"  # synthetic | iris
    c.estimator = "hybrid"  # hybrid | score_function
    c.baseline = "rloo"  # of the score-function terms: the mean of the other pairs
    c.num_components = 3
    c.num_pairs = 128
    c.num_steps = 3000
    c.batch_size = 1  # unused: full batch
    c.log_every = 250
    c.eval_every = 1500
    c.checkpoint_every = 1500
    c.optim.lr = 3e-2
    c.optim.schedule = "cosine"

    c.synthetic = base.ml_collections.ConfigDict()
    c.synthetic.weights = (0.5, 0.3, 0.2)
    c.synthetic.means = ((-2.0, 0.0), (2.0, 1.0), (0.0, 3.0))
    c.synthetic.scales = ((0.5, 0.8), (0.7, 0.4), (0.6, 0.6))
    c.synthetic.num_points = 2000
    c.synthetic.data_seed = 0

    c.eval = base.ml_collections.ConfigDict()
    c.eval.grad_draws = 64

    if "iris" in variant:
        c.dataset = "iris"
    if "quick" in variant:
        c.num_steps = 300
        c.log_every = 100
        c.eval_every = 300
        c.checkpoint_every = 300
        c.num_pairs = 64
        c.synthetic.num_points = 500
        c.eval.grad_draws = 32
    return c

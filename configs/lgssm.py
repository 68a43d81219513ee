"""Linear-Gaussian sequential latent model by BPTT through a reparameterized latent path.

Launch:
    python -m experiments.main --config=configs/lgssm.py --workdir=runs/lgssm
Reproduces: the learned (a, b, s, r) converge to the generating (0.8, 0.5, 0.5, 0.5) within a
few Fisher standard errors (1 / sqrt(N T) data), and the ELBO of the structured Gaussian q
(a Gauss-Markov chain per sequence, containing the exact posterior) closes to the exact Kalman
log-likelihood. Variants: ``default`` (64 sequences x 100 steps, 4000 full-batch Adam steps,
lr 3e-2 cosine; about a minute on 2 CPU cores), ``quick`` (16 x 50, 1500 steps: the test).
Measured (default, seed 0): a, b, s, r = 0.794, 0.516, 0.522, 0.502 (Fisher SEs 0.010, 0.025,
0.014, 0.012; exact MLE 0.797, 0.509, 0.516, 0.506), ELBO gap 0.06 nats per sequence.
"""

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "lgssm"
    c.variant = str(variant)
    c.num_steps = 4000
    c.batch_size = 1  # unused: the task trains on all sequences every step
    c.log_every = 250
    c.eval_every = 1000
    c.checkpoint_every = 1000
    c.optim.lr = 3e-2
    c.optim.schedule = "cosine"
    c.num_samples = 4  # paths per sequence in the training ELBO

    c.truth = base.ml_collections.ConfigDict({"a": 0.8, "b": 0.5, "s": 0.5, "r": 0.5})
    c.init = base.ml_collections.ConfigDict({"a": 0.0, "b": 0.0, "s": 1.0, "r": 1.0})
    c.data = base.ml_collections.ConfigDict({"seed": 123, "num_sequences": 64, "length": 100})
    c.eval = base.ml_collections.ConfigDict({"num_samples": 64, "final_num_samples": 1024})
    if "quick" in variant:
        c.num_steps = 1500
        c.log_every = c.eval_every = c.checkpoint_every = 500
        c.data.num_sequences = 16
        c.data.length = 50
        c.eval.final_num_samples = 64
    return c

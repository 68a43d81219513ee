"""Stochastic RNN (VRNN) on binarized MNIST read row by row (28 steps of 28 pixels).

Launch:
    python -m experiments.main --config=configs/srnn.py --workdir=runs/srnn
Variants (``--config=configs/srnn.py:VARIANT``):
    default  GRU 128, per-step MLPs 128 tanh, 16-d latent per row; Larochelle's binarized
             MNIST, batch 100, Adam 1e-3, 3 epochs (1500 steps). Reports the test ELBO (all 10k
             test digits) and the k=100 importance-weighted NLL (a fixed random 1000 of them);
             writes samples.png. Measured 2026-11-23: -ELBO 105.2, NLL 101.6 nats; 4.8 minutes
             wall on the shared 2-core CPU under load (8 steps/s), evaluation included.
             BENCHMARKS.md.
    quick    a small model, 200 steps on 2048 digits: the smoke test.
"""

from configs import base
from configs import vae as vae_config

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = vae_config.get_config("quick" if "quick" in variant else "default")
    c.experiment = "srnn"
    c.variant = str(variant)
    c.data.name = "binarized_mnist"
    c.data.binarize = "static"
    c.num_epochs = 3
    c.batch_size = 100
    c.log_every = 250
    c.checkpoint_every = 500
    c.model.activation = "tanh"
    c.model.enc_hidden = (128,)  # the prior / encoder / decoder MLPs
    c.model.rnn_hidden = 128
    c.model.latent = 16
    c.eval.final_num_samples = 100
    c.eval_every = 1500
    c.eval.num_samples = 10  # the in-training check; the final report uses k=100
    if "quick" in variant:
        c.num_epochs = 0
        c.eval.num_samples = c.eval.final_num_samples = 20  # one compile of the bounds
        c.eval_every = c.num_steps
        c.batch_size = 32
        c.log_every = 50
        c.checkpoint_every = 100
        c.model.enc_hidden = (32,)
        c.model.rnn_hidden = 32
        c.model.latent = 4
    return c

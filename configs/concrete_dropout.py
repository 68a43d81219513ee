"""MNIST MLP with learned (Concrete) dropout rates, Gal, Hron & Kendall (2017).

Launch:
    python -m experiments.main --config=configs/concrete_dropout.py --workdir=runs/concrete_dropout
Variants (``--config=configs/concrete_dropout.py:VARIANT``):
    default  784-512-512-10 ReLU, a ConcreteDropout layer before every Dense layer (tau 0.1,
             initial dropout rate 0.1), length scale 1e-2 (weight regularizer l^2/N), dropout
             regularizer 2/N, batch 128, Adam 1e-3, 5 epochs. Reports test accuracy (weight
             scaling and 10-sample MC dropout) and the learned dropout rate per layer; the paper
             finds the input layer's rate lower than the hidden layers'. A few minutes on 2 CPUs.
    quick    a small network, 200 steps on 2048 digits: the smoke test (seconds).
"""

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "concrete_dropout"
    c.variant = str(variant)
    c.num_epochs = 5
    c.batch_size = 128
    c.log_every = 100
    c.eval_every = 500
    c.checkpoint_every = 500
    c.data.max_train = 0

    c.model = base.ml_collections.ConfigDict()
    c.model.hidden = (512, 512)
    c.model.temperature = 0.1
    c.model.init_keep = 0.9
    c.length_scale = 1e-2
    c.dropout_reg_scale = 2.0

    c.eval = base.ml_collections.ConfigDict()
    c.eval.num_examples = 0  # 0 = all 10000
    c.eval.mc_samples = 10

    if "quick" in variant:
        c.num_epochs = 0
        c.num_steps = 200
        c.batch_size = 32
        c.log_every = 50
        c.eval_every = 200
        c.checkpoint_every = 200
        c.data.max_train = 2048
        c.model.hidden = (64,)
        c.eval.num_examples = 500
        c.eval.mc_samples = 2
    return c

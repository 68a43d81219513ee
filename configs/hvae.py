"""Two-stochastic-layer VAE (z2 -> z1 -> x) on statically binarized MNIST.

Launch:
    python -m experiments.main --config=configs/hvae.py --workdir=runs/hvae
    python -m experiments.main --config=configs/hvae.py:vae1 --workdir=runs/hvae_vae1
Variants (``--config=configs/hvae.py:VARIANT``):
    default  the IWAE paper's two-layer model: x -> 100-100 tanh -> z1 (100) -> 50-50 tanh ->
             z2 (50), mirrored decoder; Larochelle's binarized MNIST, batch 100, Adam 1e-3
             (eps 1e-4), ELBO with one sample, ``num_epochs`` epochs (default 10, a CPU
             budget; the paper trains 3280 epochs and reports 85.33 nats for this VAE).
             Test -ELBO on all 10k test digits; test NLL from the k=5000 importance-weighted
             bound on a fixed random subset of 1000 test digits
             (``LatentImageTask.eval_order``; the first 1000 are not representative).
             BENCHMARKS.md: measured numbers, runtime.
    vae1     the one-layer VAE of the same paper (784-200-200-50 tanh,
             experiments/tasks/vae.py) on the same data, optimizer and budget, for
             comparison (no KL warm-up: the one-layer task ignores ``kl_warmup_steps``).
    quick    a few hundred steps of a small two-layer model on 2048 digits (seconds);
             ``vae1,quick`` the one-layer model at that size.
Evaluation logs the variance of one-sample gradient estimates of the lower (x -> z1) and
upper (z1 -> z2) encoder parameters (gradvar_*; two-layer model only).
"""

from configs import base
from configs import vae as vae_config

VARIANTS = ("default", "vae1", "quick")  # the order they apply in


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = vae_config.get_config("quick" if "quick" in variant else "default")
    c.experiment = "vae" if "vae1" in variant else "hvae"
    c.variant = str(variant)
    c.data.name = "binarized_mnist"
    c.data.binarize = "static"
    c.batch_size = 100
    c.optim.eps = 1e-4
    c.log_every = 250
    c.eval_every = 2500
    c.checkpoint_every = 2500
    c.model.activation = "tanh"
    c.model.enc_hidden = (100, 100)
    c.model.dec_hidden = (100, 100)  # the one-layer VAE's; the HVAE mirrors its encoders
    c.model.latent = 100
    c.model.enc2_hidden = (50, 50)
    c.model.latent2 = 50
    c.kl_warmup_steps = 5000  # 10 epochs; 0 for none
    c.eval.grad_var_examples = 100
    c.eval.grad_var_draws = 100
    if "vae1" in variant:
        c.model.enc_hidden = (200, 200)
        c.model.dec_hidden = (200, 200)
        c.model.latent = 50
    if "quick" in variant:  # last: either model at smoke-test size
        c.batch_size = 32
        c.log_every = 50
        c.eval_every = c.checkpoint_every = 100
        c.model.enc_hidden = (64,)
        c.model.latent = 16
        c.model.enc2_hidden = (32,)
        c.model.latent2 = 8
        c.kl_warmup_steps = 100
        c.eval.num_samples = c.eval.final_num_samples = 20  # one compile of the bounds
        c.eval_every = c.num_steps
        c.eval.grad_var_examples = 16
        c.eval.grad_var_draws = 16
    return c

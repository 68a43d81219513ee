"""Diffusion models (DDPM, VDM) through the reparameterized forward process.

Launch:
    python -m experiments.main --config=configs/diffusion.py --workdir=runs/diff_toy
    python -m experiments.main --config=configs/diffusion.py:mnist --workdir=runs/diff_mnist
Variants (``--config=configs/diffusion.py:VARIANT``; ``quick`` combines with ``mnist``):
    toy          8-Gaussian ring in 2-D, VDM bound, learned schedule, MLP 3x128, 5000 steps,
                 batch 256. Measured 2026-11-23: bound 0.367 +- 0.051 nats on 4096 test
                 points (the ring's entropy there is 0.311), 98.0 % of 2000 ancestral samples
                 within 3 std of a mode (data 98.8 %); 137 s user CPU.
    quick        the toy with 150 steps and a small MLP: the smoke test (40 s CPU, 3.4 nats).
    mnist        MNIST 8-bit, VDM discretized decoder, learned schedule, batch 128, 5000 steps,
                 Adam 5e-4 warmup-cosine (the schedule's Adam at the same rate); denoiser: a
                 residual MLP 2x512, EDM-style preconditioned, plus a per-pixel MLP path (see
                 rgrad/denoisers.py:Denoiser and
                 `python -m experiments.bench --only=diffusion_denoiser` for why).
                 Final bound on all 10000 test digits.
                 Measured 2026-11-23: 2.599 +- 0.011 bits/dim (endpoints gamma -9.81 / 10.13),
                 digit-like samples; the same run with --config.schedule=cosine: 2.990 +- 0.013.
                 ~22 min wall on 2 shared cores (3.7 steps/s).
    mnist_quick  = ``mnist,quick``: MNIST, a small MLP, 100 steps on 2048 digits: the smoke
                 test (~50 s CPU); its bound beats the untrained (linear-MMSE) denoiser's by
                 ~1 bpd.
    denoiser     the denoiser bench's runs
                 (`python -m experiments.bench --only=diffusion_denoiser`; no quick form):
                 MNIST, the residual MLP 2x512 trained on DDPM's
                 eps-MSE per pixel (objective eps_mse, gamma ~ U over DDPM's endpoints),
                 batch 128, Adam 1e-3, 600 steps; reports the eps-MSE at fixed noise levels
                 (eval.gammas) on 512 test digits instead of the bound.
Schedules: --config.schedule=ddpm_linear|cosine|linear|learned (fixed ones: x_t is a constant
for the denoiser's parameters); --config.objective=simple is DDPM's eps-MSE (fixed schedules);
--config.schedule_grad=bound trains the learned shape on the bound instead of its variance.
"""

import ml_collections

from configs import base

VARIANTS = ("toy", "mnist", "denoiser", "quick", "mnist_quick")  # the order they apply in


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS, aliases={"mnist_quick": ("mnist", "quick")},
                             exclusive={"data": ("mnist", "denoiser"),
                                        "budget": ("denoiser", "quick")})
    c = base.get_config()
    c.experiment = "diffusion"
    c.variant = str(variant)
    c.schedule = "learned"
    c.schedule_grad = "variance"
    c.schedule_lr_mult = 10.0  # the schedule's own Adam runs at this multiple of optim.lr
    c.objective = "vlb"
    c.num_steps = 5000
    c.batch_size = 256
    c.log_every = 250
    c.eval_every = 2500
    c.checkpoint_every = 2500
    c.optim.lr = 1e-3
    c.optim.schedule = "warmup_cosine"
    c.optim.warmup_steps = 100
    c.optim.grad_clip = 1.0

    c.data.name = "gmm"
    c.data.max_train = 0

    c.model = ml_collections.ConfigDict()
    c.model.hidden = 128
    c.model.depth = 3
    c.model.schedule_hidden = 256
    c.model.precondition = False  # eps_hat = c_skip z + c_out F(c_in z) (Denoiser docstring)
    c.model.pixel_hidden = 0  # width of the per-coordinate MLP path (0: none)

    c.eval = ml_collections.ConfigDict()
    c.eval.num_examples = 1024
    c.eval.final_num_examples = 4096
    c.eval.draws = 16  # (t, eps) draws per example: the bound's mean and the estimate's variance
    c.eval.num_samples = 2000
    c.eval.sample_steps = 200
    c.eval.gammas = ()  # fixed noise levels: eps-MSE per dimension at each (eps_mse_gamma<g>)
    c.eval.gamma_examples = 512

    if "mnist" in variant:
        c.data.name = "mnist"
        c.num_steps = 5000
        c.batch_size = 128
        c.log_every = 250
        c.eval_every = 2500
        c.checkpoint_every = 500
        c.optim.lr = 5e-4
        c.optim.warmup_steps = 200
        c.model.hidden = 512
        c.model.depth = 2
        c.model.schedule_hidden = 256
        c.model.precondition = True
        c.model.pixel_hidden = 32
        # At 10x the endpoints moved inwards faster than the denoiser learned (gamma_min
        # -9.2 -> -5.9 by step 1500, measured with the un-preconditioned MLP).
        c.schedule_lr_mult = 1.0
        c.eval.num_examples = 512  # periodic: a fixed random subset of the test digits
        c.eval.final_num_examples = 10000  # final: all of MNIST's test set
        c.eval.draws = 2
        c.eval.num_samples = 0
        c.eval.sample_steps = 500
    if "denoiser" in variant:
        c.data.name = "mnist"
        c.schedule = "linear"  # gamma uniform between DDPM's endpoints
        c.objective = "eps_mse"
        c.num_steps = 600
        c.batch_size = 128
        c.log_every = 100
        c.eval_every = c.checkpoint_every = 600
        c.optim.schedule = "constant"
        c.optim.warmup_steps = 0
        c.model.hidden = 512
        c.model.depth = 2
        c.eval.num_examples = c.eval.final_num_examples = 0  # no bound, only eval.gammas
        c.eval.gammas = (-9.0, -6.0, -2.0, 0.0, 2.0, 9.0)
        c.artifacts = False
    if "quick" in variant and "mnist" in variant:  # last; mnist_quick
        c.num_steps = 100
        c.batch_size = 32
        c.log_every = 50
        c.eval_every = 100
        c.checkpoint_every = 100
        c.optim.lr = 1e-3
        c.optim.warmup_steps = 10
        c.data.max_train = 2048
        c.model.hidden = 128
        c.model.depth = 1
        c.model.schedule_hidden = 16
        c.eval.num_examples = 32
        c.eval.final_num_examples = 32
        c.eval.draws = 2
        c.eval.sample_steps = 20
    elif "quick" in variant:
        c.num_steps = 150
        c.log_every = 50
        c.eval_every = 150
        c.checkpoint_every = 150
        c.optim.warmup_steps = 10
        c.model.hidden = 32
        c.model.depth = 1
        c.model.schedule_hidden = 16
        c.eval.num_examples = 0  # only the final evaluation
        c.eval.final_num_examples = 256
        c.eval.draws = 4
        c.eval.num_samples = 256
        c.eval.sample_steps = 50
    return c

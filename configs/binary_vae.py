"""Bernoulli VAE (200 binary latents) on dynamically binarized MNIST: the REBAR / RELAX / ARM /
DisARM benchmark, in the setup of Dong, Mnih & Tucker (2020, DisARM), as their published code
runs it (google-research/disarm/binary, single stochastic layer).

Launch one estimator (any registered estimator serving Bernoulli latents on the ELBO):
    python -m experiments.main --config=configs/binary_vae.py \
        --config.estimator=score_function --config.baseline=rloo --config.num_samples=2 \
        --workdir=runs/bvae_linear_rloo
Every estimator serving Bernoulli latents (registry-driven, :func:`registry_sweep`):
    python -m experiments.sweep --config=configs/binary_vae.py --workdir=runs/bvae
Constructor options of an estimator go in ``estimator_options`` (Python:
``run.run("configs/binary_vae.py", {"estimator_options": {"num_rao_samples": 10}})``).

Variants (``--config=configs/binary_vae.py:VARIANT``):
    linear     encoder 784-200 and decoder 200-784 logits, no hidden layer.
    nonlinear  784-200-200-200 encoder, 200-200-200-784 decoder, LeakyReLU(0.3) hidden layers.
    quick      a small linear model (32 latents), 200 steps on 1024 digits: the smoke test;
               ``nonlinear,quick`` the same with the nonlinear model's hidden layers.
Common to linear/nonlinear (as in the DisARM code): dynamically binarized MNIST, the first
50000 training digits (their validation split is the last 10000), batch 50, Adam 1e-4
(encoder and decoder), the prior's logits learned by SGD at 1e-2, 1M steps, one pair of
evaluations per step (ARM/DisARM: ``num_samples=1`` antithetic pair; RLOO: 2 samples), the
single-sample ELBO estimate log p(x|b) + log p(b) - log q(b|x) as the estimator's f
(``kl='sample'``; ``kl='exact'`` sums the KL exactly instead), demeaned inputs and the
decoder's bias initialised at the data mean (the README's ``--demean_input
--initialize_with_bias``). Fashion-MNIST: ``--config.data.name=fashion_mnist``.

What the papers report (DisARM, Table 1: train ELBO after 1M steps, mean of 5 runs, one pair
of evaluations, dynamically binarized MNIST). We could not read the table from any source
available to us; the values below are recalled, NOT confirmed, and must be checked against
the paper before being quoted:
    linear:    REINFORCE LOO -116.57, ARM -117.66, DisARM -116.30   (unconfirmed)
    nonlinear: REINFORCE LOO -102.45, ARM -107.32, DisARM -102.56   (unconfirmed)
Figure 5 of the paper shows the same runs' train ELBO, 100-sample test bound and encoder
gradient variance against steps (RELAX included).

Runtime (linear, 1 seed, measured on the shared 2-core CPU at load 5-15, training time from
the runs' TensorBoard event times): 4-6 ms/step for the estimators with one or two decoder
passes per example (score function, RLOO, NVIL, ARM, DisARM, the relaxations), 9-13 ms/step
for REBAR/RELAX, about 0.5 s/step for IndeCateR (2 x 200 decoder passes per example). The
paper's 1M steps therefore take 1-2 h per estimator (IndeCateR: days); the runs we made are
listed in configs/figures/discrete_vae_curves.py. ``num_seeds`` > 1 vmaps seeds in one
program (cost ~linear in seeds on a CPU).
"""

from configs import base

VARIANTS = ("linear", "nonlinear", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "binary_vae"
    c.variant = str(variant)
    c.num_steps = 1_000_000
    c.batch_size = 50
    c.log_every = 1000
    c.eval_every = 20_000
    c.checkpoint_every = 20_000
    c.optim.lr = 1e-4
    c.optim.prior_lr = 1e-2  # SGD on the prior's logits; 0 = config.optim for them too

    c.data.name = "mnist"  # mnist | fashion_mnist | binarized_mnist (static)
    c.data.binarize = "dynamic"  # dynamic (per step) | static (once)
    c.data.max_train = 50_000

    c.model = base.ml_collections.ConfigDict()
    c.model.hidden = ()  # linear; nonlinear: (200, 200)
    c.model.num_latent = 200
    c.model.slope = 0.3  # LeakyReLU negative slope (Keras' default, the DisARM code's)
    c.model.demean_input = True  # encoder sees x - mean, decoder 2b - 1 (--demean_input)
    c.model.init_bias_with_mean = True  # decoder bias = logit(mean) (--initialize_with_bias)

    c.estimator = "score_function"  # any registered estimator serving Bernoulli latents
    c.baseline = "none"  # score_function: moving_average | rloo | none
    c.baseline_decay = 0.99
    c.num_samples = 1  # draws per example (antithetic pairs for arm/disarm)
    c.tau = 1.0  # temperature of relaxed / REBAR-type estimators; a vmappable hparam
    c.estimator_options = base.ml_collections.ConfigDict()  # constructor options, by name
    c.kl = "sample"  # sample (the papers') | exact

    c.eval = base.ml_collections.ConfigDict()
    c.eval.num_train_examples = 1000  # fixed, once-binarized training digits (train ELBO)
    c.eval.num_examples = 1000  # test digits for the ELBO and the k-sample bound
    c.eval.num_samples = 100  # k of the importance-weighted bound (the paper's 100)
    c.eval.final_num_examples = 10_000
    c.eval.final_num_samples = 100
    c.eval.grad_batch = 50  # fixed test digits for the gradient variance (one batch)
    c.eval.grad_draws = 16
    c.eval.map_batch = 50

    if "nonlinear" in variant:
        c.model.hidden = (200, 200)
    if "quick" in variant:  # last: either model at smoke-test size
        c.num_steps = 200
        c.batch_size = 32
        c.log_every = 50
        c.eval_every = 100
        c.checkpoint_every = 100
        c.optim.lr = 1e-3
        c.data.max_train = 1024
        c.model.num_latent = 32
        c.eval.num_train_examples = 64
        c.eval.num_examples = c.eval.final_num_examples = 64
        c.eval.num_samples = c.eval.final_num_samples = 4
        c.eval.grad_batch = 16
        c.eval.grad_draws = 8
        c.eval.map_batch = 32
    return c


def registry_sweep(add, kind: str, skip: tuple[str, ...] = ()) -> None:
    """One point per registered estimator serving ``kind`` latents on the ELBO (the registry
    at sweep time, so estimators added later join without an edit here).

    Each uses its minimum number of draws; the score function runs with a moving-average and
    with a leave-one-out (2 draws) baseline. ``skip``: names added by the caller.
    """
    import inspect

    from rgrad import estimators

    for name, cls in sorted(estimators.ESTIMATORS.items()):
        if name in skip or kind not in cls.kinds or "mean" not in cls.objectives:
            continue
        if "baseline" in inspect.signature(cls.__init__).parameters:
            add(estimator=name, baseline="moving_average")
            add(estimator=name, baseline="rloo", num_samples=2)
        else:
            add(estimator=name, num_samples=max(1, cls.min_samples))


def sweep(add, arg=None):
    """Every estimator serving Bernoulli latents (see :func:`registry_sweep`)."""
    del arg
    add(estimator="score_function")  # no baseline: the variance the others are measured by
    registry_sweep(add, "bernoulli")

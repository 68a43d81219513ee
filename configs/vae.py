"""VAE on binarized MNIST through the shared loop.

Launch (the default is what `make run` runs):
    python -m experiments.main --config=configs/vae.py --workdir=runs/vae
Variants (``--config=configs/vae.py:VARIANT``; ``quick`` combines with a model variant,
``:iwae,quick`` or ``:variant=iwae,quick=1`` being the iwae model at smoke-test size):
    python -m experiments.main --config=configs/vae.py:iwae,quick --workdir=runs/vae_iwae_quick
    default  pytorch/examples model 784-400-20 ReLU, MNIST dynamically binarized, batch 128,
             Adam 1e-3, 10 epochs. Expected (measured, seed 0): negative test ELBO 102.8 and
             test NLL 97.0 nats (k=5000, 1000 random test digits); about 3-4 minutes on a
             2-core laptop CPU, two thirds of it training.
    quick    a few hundred steps of a small model on 2048 digits: the smoke test (seconds).
    flax     the flax example: 784-500-20 ReLU, static binarization, batch 128, 10 epochs,
             lr 1e-3. Its README reports a test negative ELBO of about 104. About 3 minutes.
    iwae     Burda et al. (2016) Table 1, one stochastic layer: 784-200-200-50 tanh, MNIST
             dynamically binarized, batch 20, Adam(eps=1e-4), 3^i-epoch stages (3280 epochs),
             NLL from the k=5000 bound on all 10k test digits. Published VAE: 86.76 nats;
             ours: 86.83 (-ELBO 91.10). 9.84M steps, about 4 h at 640-700 steps/s on an idle
             2-core CPU: run it in resumable pieces (rerun the same command; across checkouts
             `make snapshot` and `make resume`, see the README). The trained model is
             committed as snapshots/vae_iwae: `make resume` restores it and recomputes the
             final evaluation (3 min).
    iwae_k50 as iwae with the importance-weighted bound, k=50 (published IWAE: 84.78).
             Each step decodes 1000 samples: 42-50 steps/s on a 2-core CPU, so the
             9.84M steps take ~60 h there; run it on an accelerator.
             The two objectives side by side at a short budget: see sweep() below.
Estimators: --config.estimator=score_function --config.baseline=none|moving_average|rloo.
    --config.estimator=dreg (Tucker et al. 2018) or stl (Roeder et al. 2017): the pathwise
    gradient without the score term of log q. With the IWAE bound (``:iwae_k50``, or
    --config.objective=iwae --config.num_samples=K) dreg is unbiased with a lower-variance
    encoder gradient, stl is biased; with the ELBO both are STL (kl_weight must be 1).
"""

from configs import base

VARIANTS = ("default", "flax", "iwae", "iwae_k50", "quick")  # the order they apply in
MODELS = ("flax", "iwae", "iwae_k50")  # one of them; quick combines with each


def parse(arg):
    return base.parse_arg(arg, VARIANTS, exclusive={"model": MODELS})


def get_config(arg=None):
    variant = parse(arg)
    c = base.get_config()
    c.experiment = "vae"
    c.variant = str(variant)
    c.num_epochs = 10
    c.batch_size = 128
    c.log_every = 100
    c.eval_every = 1000
    c.checkpoint_every = 1000

    c.data.name = "mnist"
    c.data.binarize = "dynamic"  # dynamic | static (ignored for binarized_mnist)
    c.data.max_train = 0  # 0 = all

    c.model = base.ml_collections.ConfigDict()
    c.model.enc_hidden = (400,)
    c.model.dec_hidden = (400,)
    c.model.latent = 20
    c.model.activation = "relu"

    c.objective = "elbo"  # elbo | iwae
    c.num_samples = 1  # samples per example in the training objective
    c.estimator = "pathwise"  # pathwise | score_function | stl | dreg
    c.baseline = "none"  # none | moving_average | rloo (score_function only)
    c.baseline_decay = 0.99
    c.kl_weight = 1.0

    c.eval = base.ml_collections.ConfigDict()
    c.eval.num_samples = 100  # k of the importance-weighted NLL during training
    c.eval.num_examples = 1000
    c.eval.final_num_samples = 5000
    c.eval.final_num_examples = 1000
    c.eval.map_batch = 10

    if "flax" in variant:
        c.data.binarize = "static"
        c.data.name = "binarized_mnist"
        c.model.enc_hidden = (500,)
        c.model.dec_hidden = (500,)
    if "iwae" in variant or "iwae_k50" in variant:
        c.num_epochs = 3280
        c.batch_size = 20
        c.model.enc_hidden = (200, 200)
        c.model.dec_hidden = (200, 200)
        c.model.latent = 50
        c.model.activation = "tanh"
        c.optim.eps = 1e-4
        c.optim.schedule = "iwae"  # the task's own (rgrad.vae.iwae_schedule)
        c.log_every = 1000
        c.eval_every = 30000  # ~10 epochs
        c.checkpoint_every = 30000
        c.eval.final_num_examples = 10000
    if "iwae_k50" in variant:
        c.objective = "iwae"
        c.num_samples = 50
    if "quick" in variant:  # last: any model at smoke-test size
        c.num_epochs = 0
        c.num_steps = 200
        c.batch_size = 32
        c.log_every = 50
        c.eval_every = 200
        c.checkpoint_every = 100
        c.data.max_train = 2048
        c.model.enc_hidden = (64,)
        c.model.dec_hidden = (64,)
        c.model.latent = 8
        c.eval.num_samples = c.eval.final_num_samples = 50  # one compile of the bounds
        c.eval.num_examples = c.eval.final_num_examples = 100
    return c


def sweep(add, arg=None):
    """The estimator comparison; for the ``iwae`` variants, the IWAE paper's two objectives.

    Estimators, pathwise vs score-function with each baseline:
        python -m experiments.sweep --config=configs/vae.py:quick --workdir=runs/vae_estimators
    Burda et al. (2016) Table 1's one-stochastic-layer rows, VAE (ELBO) vs IWAE (k=50), here
    at the first four lr stages (40 epochs; drop the override for the paper's 3280):
        python -m experiments.sweep --config=configs/vae.py:iwae --config.num_epochs=40 \
            --workdir=runs/vae_table1_e40
    """
    variant = parse(arg)
    if "iwae" in variant or "iwae_k50" in variant:
        add(objective="elbo", num_samples=1)
        add(objective="iwae", num_samples=50)
        return
    add(estimator="pathwise")
    for baseline in ("none", "moving_average"):
        add(estimator="score_function", baseline=baseline)
    add(estimator="score_function", baseline="rloo", num_samples=2)

"""Categorical VAE on static binarized MNIST (Jang, Gu & Poole 2017, Table 1 setup).

Launch one estimator:
    python -m experiments.main --config=configs/categorical_vae.py \
        --config.estimator=gumbel_softmax --workdir=runs/cvae_gs
The estimator comparison (every registered estimator serving categorical latents on the ELBO:
Gumbel-Softmax, straight-through GS, the score function with a moving-average and with a
leave-one-out baseline, and the issue-19 estimators as they are registered), one workdir
each, tabulated:
    python -m experiments.sweep --config=configs/categorical_vae.py --workdir=runs/cvae
Any estimator whose ``kinds`` include "categorical" runs (--config.estimator=NAME); its
constructor options go in ``estimator_options`` (Python: run.run(CONFIG,
{"estimator_options": {"num_rao_samples": 10}})).
Variants (``--config=configs/categorical_vae.py:VARIANT``):
    default  20 categorical latents x 10 classes, 784-512-256 ReLU encoder, mirrored decoder,
             batch 100, Adam 1e-3, tau annealed max(0.5, exp(-1e-5 t)) every 500 steps,
             50000 steps (100 epochs). The paper's Table 1 (arXiv 1611.01144, confirmed from
             its text): Gumbel-Softmax 101.5, ST Gumbel-Softmax 107.8, score function 110.6,
             negative multi-sample bounds (m = 1000) on the test set; our final evaluation
             reports the same bound as ``test_neg_bound_k1000`` beside the ELBO. The paper
             trains with SGD + momentum 0.9 at a validated learning rate and does not state
             the batch size or the number of steps; we use Adam 1e-3, batch 100.
             Too long for a 2-core CPU in one go (about 10 steps/s when idle): run it in
             resumable pieces, or shorten with --config.num_steps (BENCHMARKS.md states what
             we ran).
    quick    a small model, 200 steps on 2048 digits: the smoke test (seconds).
Temperature: --config.tau (initial; vmappable: --config.vmap_sweep="tau=0.5,1.0,2.0"),
--config.tau_schedule=constant|anneal, --config.anneal_rate, --config.anneal_every.
"""

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = base.get_config()
    c.experiment = "categorical_vae"
    c.variant = str(variant)
    c.num_steps = 50_000
    c.batch_size = 100
    c.log_every = 500
    c.eval_every = 5000
    c.checkpoint_every = 5000

    c.data.max_train = 0  # 0 = all 50000 training digits

    c.model = base.ml_collections.ConfigDict()
    c.model.enc_hidden = (512, 256)
    c.model.dec_hidden = (256, 512)
    c.model.num_latent = 20
    c.model.num_classes = 10
    c.model.activation = "relu"

    c.estimator = "gumbel_softmax"  # any registered estimator serving categorical latents
    c.baseline = "none"  # score_function: moving_average | rloo | none
    c.baseline_decay = 0.99
    c.num_samples = 1  # samples per example in the training objective (rloo: >= 2)
    c.estimator_options = base.ml_collections.ConfigDict()  # constructor options, by name

    c.tau = 1.0  # initial (or constant) temperature; a vmappable hparam
    c.tau_schedule = "anneal"  # constant | anneal
    c.tau_min = 0.5
    c.anneal_rate = 1e-5
    c.anneal_every = 500

    c.eval = base.ml_collections.ConfigDict()
    c.eval.num_examples = 1000
    c.eval.num_samples = 10  # hard samples per test digit for the ELBO
    c.eval.final_num_examples = 10000
    c.eval.final_num_samples = 10
    # Jang et al. (2017) Table 1 reports the multi-sample (importance-weighted) bound with
    # m = 1000 on the test set: the final evaluation adds it (test_neg_bound_k1000); 0: off.
    c.eval.final_bound_samples = 1000
    c.eval.grad_batch = 100  # fixed test digits for the gradient-variance measurement
    c.eval.grad_draws = 16  # independent estimator draws on them
    c.eval.map_batch = 50

    if "quick" in variant:
        c.num_steps = 200
        c.batch_size = 32
        c.log_every = 50
        c.eval_every = 100
        c.checkpoint_every = 100
        c.data.max_train = 2048
        c.model.enc_hidden = (64,)
        c.model.dec_hidden = (64,)
        c.anneal_rate = 1e-3
        c.anneal_every = 50
        c.eval.num_examples = c.eval.final_num_examples = 100  # one compile of the bounds
        c.eval.num_samples = c.eval.final_num_samples = 2
        c.eval.final_bound_samples = 20
        c.eval.grad_batch = 16
        c.eval.grad_draws = 8
    return c


def sweep(add, arg=None):
    """The estimator comparison of Jang et al. (2017) Table 1, plus a leave-one-out baseline,
    then every other registered estimator serving categorical latents.

    The RLOO point uses 2 samples per example (twice the decoder passes of the others); the
    others use their minimum number of samples (see configs/binary_vae.py:registry_sweep).
    """
    del arg
    from configs import binary_vae

    add(estimator="gumbel_softmax")
    add(estimator="st_gumbel_softmax")
    add(estimator="score_function", baseline="moving_average")
    add(estimator="score_function", baseline="rloo", num_samples=2)
    binary_vae.registry_sweep(add, "categorical",
                              skip=("gumbel_softmax", "st_gumbel_softmax", "score_function"))

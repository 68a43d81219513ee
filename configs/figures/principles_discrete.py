"""Principles 7-8: discrete variables, and the Gumbel-Softmax temperature trade-off.

    python -m experiments.figures --only=principles_discrete
Panels: (a) Bernoulli z = 1[u < p]: the pathwise gradient through the step is 0, the true
gradient (exact enumeration) is not; (b) the same for a categorical drawn by Gumbel-max;
(c, d) bias and variance of the Gumbel-Softmax pathwise gradient against tau, against the
exact gradient by enumeration; (e, f) SGD on a small categorical objective with fixed taus
and an annealed tau on the same budget (exact discrete loss by enumeration, seeds vmapped):
f(z) = ||z - train_target||^2 over K = 10 categories, whose relaxed optimum at large tau sits
inside the simplex (biased) while small tau makes early steps noisy. Measured: annealing
tau 1 -> 0.05 ends with a gap ~0.02, below every fixed tau of the grid (best fixed: tau 3,
~0.03, then tau 0.3-0.5, ~0.04). On an easier target, (0.6, 0.4, 0, 0) with a constant lr,
fixed tau 0.3 matched or beat annealing (BENCHMARKS.md). About 20 s on 2 cores.
"""

import ml_collections

from configs import base

VARIANTS = ("default", "quick")


def get_config(arg=None):
    variant = base.parse_arg(arg, VARIANTS)
    c = ml_collections.ConfigDict()
    c.module = "principles_discrete"
    c.seed = 0
    c.num_samples = 20000  # (a)-(d): samples per point
    c.target = (0.6, 0.4, 0.0, 0.0)  # f(z) = ||z - target||^2, K = 4 categories
    c.logits = (0.5, 0.0, -0.5, 0.2)  # where (b)-(d) evaluate the gradient
    c.log10_tau = (-2.0, 1.0)
    c.num_tau = 13
    # (e, f): SGD from zero logits, one relaxed sample per step; (tau_start, tau_end) per
    # schedule, geometric in between (equal ends = fixed tau).
    c.train_target = (0.5, 0.3, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    c.schedules = ((0.1, 0.1), (0.3, 0.3), (0.5, 0.5), (1.0, 1.0), (3.0, 3.0), (1.0, 0.05))
    c.num_steps = 200
    c.lr = 2.0  # decays linearly to 0 over num_steps
    c.num_seeds = 1024
    if "quick" in variant:
        c.num_samples = 5000
        c.num_tau = 7
    return c

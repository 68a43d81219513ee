"""Stochastic (logistic-normal) vs deterministic attention over MNIST rows, from trained runs.

Each run in ``config.runs`` (a variant of ``configs/stoch_attention.py`` with its attention
and kl_weight) is trained (or, when finished, restored: the shared loop resumes at the last
step and only re-evaluates) in its run dir under the repository, or in the figure's folder.
Panels: one test digit; its attention over the rows, w = softmax(mu) and ``num_samples``
draws w = softmax(mu + L eps); the attention averaged over test digits; and test accuracy
and attention entropy per run.
"""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np

from experiments.figures.common import FigureResult, save_csv, train_runs
from experiments.tasks import stoch_attention as sa
from rgrad import plotting  # noqa: F401  (sets the Agg backend)


def attention_draws(task, params, x, key, n):
    """w = softmax(mu) [M, T] and n draws softmax(mu + L eps) [n, M, T] for digits x [M, 784]."""
    w_mean = jax.vmap(lambda xi: task.model.apply(params, xi)[1])(x)
    keys = jax.random.split(key, n * x.shape[0]).reshape(n, x.shape[0])
    w = jax.vmap(lambda ks: jax.vmap(lambda xi, k: task.model.apply(params, xi, k)[1])(x, ks))(
        keys)
    return np.asarray(w_mean), np.asarray(w)


def entropy(w):  # [..., T] -> [...]
    return -np.sum(w * np.log(w + 1e-12), -1)


def make(config, outdir) -> FigureResult:
    import matplotlib.pyplot as plt

    outdir = pathlib.Path(outdir)
    key = jax.random.key(config.seed)
    res, cols = [], {"row": np.arange(sa.T)}
    runs = train_runs(config.runs, outdir)
    for label, (tag, r) in zip(config.labels, runs.items(), strict=True):
        task, m, params = r.task, r.metrics[0], r.params
        x = jnp.asarray(task.test_x[:config.num_digits])
        w_mean, w = attention_draws(task, params, x, key, config.num_samples)
        res.append({"label": label, "tag": tag, "m": m, "w_mean": w_mean, "w": w,
                    "stochastic": r.config.attention == "stochastic", "steps": r.config.num_steps})
        cols[f"{tag}_mean_attention"] = w_mean.mean(0)
        cols[f"{tag}_digit{config.digit}_softmax_mu"] = w_mean[config.digit]

    fig, ax = plt.subplots(1, 4, figsize=(17, 4.2), gridspec_kw={"width_ratios": [1, 1.3, 1.3,
                                                                                   1.3]})
    ax[0].imshow(np.asarray(task.test_x[config.digit]).reshape(28, 28), cmap="gray_r")
    ax[0].set(title=f"test digit {config.digit} (label {int(task.test_y[config.digit])})",
              xlabel="column", ylabel="row t")
    rows = np.arange(sa.T)
    for i, r in enumerate(res):
        col = f"C{i}"
        if r["stochastic"]:
            for s in range(min(config.num_shown, config.num_samples)):
                ax[1].plot(r["w"][s, config.digit], rows, color=col, lw=0.6, alpha=0.3)
        ax[1].plot(r["w_mean"][config.digit], rows, color=col, lw=2.2,
                   label=f"{r['label']}: softmax(mu)")
        ax[2].plot(r["w_mean"].mean(0), rows, color=col, lw=2, label=r["label"])
    ax[1].set(xlabel="attention weight w_t (thin: draws softmax(mu + L eps))", ylabel="row t",
              title="attention over this digit's rows", xscale="log")
    ax[2].axvline(1 / sa.T, color="k", ls=":", label="uniform 1/28")
    ax[2].set(xlabel="mean attention softmax(mu) over test digits", ylabel="row t",
              title=f"average attention ({config.num_digits} test digits)")
    for a in ax[:3]:
        a.set_ylim(sa.T - 0.5, -0.5)
    for a in ax[1:3]:
        a.legend(fontsize=7)
    names = [r["label"].replace(", ", "\n") + f"\nH = {r['m']['attention_entropy']:.2f}"
             for r in res]
    pos = np.arange(len(res))
    acc = [r["m"]["test_acc_mean_attention"] for r in res]
    acc_pred = [r["m"].get("test_acc_predictive", np.nan) for r in res]
    ax[3].bar(pos - 0.2, acc, 0.4, color="0.3", label="w = softmax(mu)")
    ax[3].bar(pos + 0.2, acc_pred, 0.4, color="0.7", label="predictive (mean over w draws)")
    ax[3].set_xticks(pos, names, fontsize=7)
    ax[3].set(ylabel="test accuracy", ylim=(0, 1),
              title=f"accuracy; H = attention entropy (max {np.log(sa.T):.2f})")
    ax[3].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    png = outdir / "stoch_attention.png"
    fig.savefig(png, dpi=90)
    plt.close(fig)
    csv = save_csv(outdir / "stoch_attention.csv", cols)

    numbers = {}
    for r in res:
        t, m = r["tag"], r["m"]
        numbers |= {f"{t}_steps": float(r["steps"]),
                    f"{t}_test_acc": m["test_acc_mean_attention"],
                    f"{t}_entropy": float(np.mean(entropy(r["w_mean"]))),
                    f"{t}_max_simplex_error": float(np.max(np.abs(r["w"].sum(-1) - 1.0)))}
        if r["stochastic"]:
            numbers |= {f"{t}_test_acc_predictive": m["test_acc_predictive"],
                        f"{t}_test_kl": m["test_kl"],
                        f"{t}_sample_entropy": float(np.mean(entropy(r["w"]))),
                        # spread of the draws: mean over digits and rows of std_eps[w_t] / E[w_t]
                        f"{t}_relative_spread": float(np.mean(r["w"].std(0) / r["w"].mean(0)))}
    claim = ("Logistic-normal attention w = softmax(mu + L eps) learned by the reparameterized "
             "ELBO is a distribution over attention maps (draws spread around softmax(mu)); the "
             "ELBO's KL to the N(0, 3^2 I) prior pulls the attention towards uniform (higher "
             "entropy than deterministic attention) and costs accuracy after a short training; "
             "down-weighting the KL keeps a focused attention.")
    return FigureResult(claim, [png, csv], numbers)

"""Diffusion models: DDPM with fixed schedules and VDM with a learned one (issue #7).

The forward process is the reparameterization x_t = alpha_t x_0 + sigma_t eps
(:func:`rgrad.diffusion.q_sample`). The denoiser eps_theta(x_t, gamma_t) is a residual MLP
conditioned, as in VDM, on the normalised noise level gamma_t (not on t), so that every
schedule with the same endpoints has the same expected bound for the same denoiser.

* ``schedule``: ``ddpm_linear`` | ``cosine`` | ``linear`` (fixed; x_t is a constant for theta)
  or ``learned`` (VDM: the endpoints follow the bound, the shape the variance of the
  diffusion-loss estimate, ``schedule_grad='variance'``, or the bound, ``'bound'``). The
  schedule's parameters have their own Adam, at ``schedule_lr_mult`` times the learning rate
  and without the denoiser's gradient clipping (the variance gradient 2 L dL is large and would
  otherwise shrink the denoiser's clipped step).
* ``objective``: ``vlb`` (VDM's continuous-time bound) or ``simple`` (DDPM's
  E ||eps - eps_theta(x_t, t)||^2, fixed schedules only).
* ``data.name``: ``gmm`` (8 Gaussians on a ring; true density known) or ``mnist`` (8-bit
  pixels, VDM's discretized decoder, bound in bits per dimension).
"""

from __future__ import annotations

import functools
import pathlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from rgrad import data as rdata
from rgrad import diffusion as dm
from rgrad import plotting
from rgrad.task import Task

FIXED = {"ddpm_linear": dm.ddpm_linear_gamma, "cosine": dm.cosine_gamma,
         "linear": dm.linear_gamma}


class Denoiser(nn.Module):
    """eps_theta(z_t, gamma_t): a residual MLP F with a sinusoidal embedding of the noise level.

    F sees the normalised gamma_t (:func:`rgrad.diffusion.normalise_gamma`, embedded like VDM's
    1000 c), not t. With ``data_rms > 0`` the output is preconditioned (EDM-style, for eps):
    eps_hat = c_skip z + c_out F(c_in z), with c_skip z = E[eps | z] and c_out^2 its residual
    variance when x has per-coordinate second moment ``data_rms``^2:

        v = alpha^2 rms^2 + sigma^2,  c_in = v^-1/2,  c_skip = sigma / v,  c_out = alpha rms v^-1/2.

    Without it, an MLP narrower than the data (512 < 784 on MNIST) cannot even pass the noise
    through at high noise levels, where eps_hat ~ z is nearly the answer. ``data_rms = 0``: the
    plain network, eps_hat = F(z).
    ``pixel_hidden > 0`` adds a per-coordinate path: one small MLP, shared by all coordinates,
    of each coordinate's z_i, the global network's output there and the noise embedding. At low
    noise eps is nearly an affine function of each z_i alone, slope 1/sigma; through the global
    MLP's 512-wide bottleneck that map cannot be represented for 784 pixels, per pixel it is
    one unit's work.
    """

    hidden: int
    depth: int
    out: int
    emb_dim: int = 32
    data_rms: float = 0.0
    pixel_hidden: int = 0

    @nn.compact
    def __call__(self, z, gamma):
        c = dm.normalise_gamma(gamma)
        half = self.emb_dim // 2
        freqs = jnp.exp(-np.log(10000.0) * jnp.arange(half) / half)
        emb = jnp.concatenate([jnp.sin(1000.0 * c * freqs), jnp.cos(1000.0 * c * freqs)])
        if self.data_rms:
            alpha, sigma = dm.alpha_sigma(gamma)
            v = alpha**2 * self.data_rms**2 + sigma**2
            c_in, c_skip, c_out = jax.lax.rsqrt(v), sigma / v, alpha * self.data_rms / jnp.sqrt(v)
        else:
            c_in, c_skip, c_out = 1.0, 0.0, 1.0
        e = nn.silu(nn.Dense(self.hidden)(emb))
        h = nn.Dense(self.hidden)(c_in * z)
        for _ in range(self.depth):
            r = nn.Dense(self.hidden)(nn.silu(nn.LayerNorm()(h))) + nn.Dense(self.hidden)(e)
            h = h + nn.Dense(self.hidden)(nn.silu(r))
        f = nn.Dense(self.out, kernel_init=nn.initializers.zeros)(nn.silu(nn.LayerNorm()(h)))
        if self.pixel_hidden:  # the same small MLP on every coordinate (a 1x1 convolution)
            p = nn.Dense(self.pixel_hidden)(jnp.stack([c_in * z, f], -1))
            p = p + nn.Dense(self.pixel_hidden)(emb)[None, :]
            p = nn.Dense(self.pixel_hidden)(nn.silu(p))
            f = f + nn.Dense(1, kernel_init=nn.initializers.zeros)(nn.silu(p))[:, 0]
        return c_skip * z + c_out * f


# ============================================================================================
# 2-D data: a mixture of 8 Gaussians on a ring, with its exact density.
# ============================================================================================
RING_K, RING_RADIUS, RING_STD = 8, 1.0, 0.1


def ring_means():
    a = 2 * np.pi * np.arange(RING_K) / RING_K
    return np.stack([np.cos(a), np.sin(a)], -1).astype(np.float32) * RING_RADIUS  # [K, 2]


def ring_sample(key, n):
    kc, kn = jax.random.split(key)
    c = jax.random.randint(kc, (n,), 0, RING_K)
    return jnp.asarray(ring_means())[c] + RING_STD * jax.random.normal(kn, (n, 2))


def ring_log_density(x):  # [..., 2] -> [...]
    means = jnp.asarray(ring_means()).reshape((1,) * (x.ndim - 1) + (RING_K, 2))
    d = x[..., None, :] - means  # [..., K, 2]
    lp = -0.5 * jnp.sum(d**2, -1) / RING_STD**2 - np.log(2 * np.pi * RING_STD**2)
    return jax.nn.logsumexp(lp, -1) - np.log(RING_K)


def in_mode_fraction(x):
    """Fraction of points within 3 component std of a ring mean (true data: 1 - e^-4.5)."""
    means = jnp.asarray(ring_means()).reshape((1, RING_K, 2))
    d2 = jnp.min(jnp.sum((x[:, None, :] - means) ** 2, -1), -1)
    return jnp.mean(d2 < (3 * RING_STD) ** 2)


class DiffusionTask(Task):
    """The task contract for DDPM / VDM (see module docstring)."""

    def __init__(self, config):
        super().__init__(config)
        m = config.model
        self.image = config.data.name == "mnist"
        self.dim = 784 if self.image else 2
        self.learned = config.schedule == "learned"
        self.sched = dm.LearnedGamma(m.schedule_hidden)
        if self.image:
            root = config.data.data_dir or None
            train, _ = rdata.load_with_fallback("mnist", "train", root, config.data.download)
            test, _ = rdata.load_with_fallback("mnist", "test", root, config.data.download)
            self.train_x = train.images[: config.data.max_train or None]
            # MNIST's test set is ordered (its first half from different writers than its
            # second): evaluations on a prefix use a fixed random permutation.
            self.test_x = test.images[np.random.default_rng(0).permutation(len(test.images))]
        else:
            self.test_x = np.asarray(ring_sample(jax.random.key(12345), 4096))
        rms = 0.0
        if m.precondition:  # root mean square of the data the diffusion acts on
            xs = (self.train_x[:10000] if self.image
                  else np.asarray(ring_sample(jax.random.key(1), 10000)))
            rms = float(np.sqrt(np.mean(np.asarray(jax.vmap(self.encode)(xs)[1]) ** 2)))
        self.denoiser = Denoiser(m.hidden, m.depth, self.dim, data_rms=rms,
                                 pixel_hidden=m.pixel_hidden)
        # Without XLA:CPU's YNNPACK fusions, which return garbage here (see dm.NO_YNN_FUSION).
        self._eval = jax.jit(self.eval_stats, static_argnums=(3, 4),
                             compiler_options=dm.NO_YNN_FUSION)
        self._sample = jax.jit(self.sample, static_argnums=(2, 3),
                               compiler_options=dm.NO_YNN_FUSION)

    # -- data ---------------------------------------------------------------------------------
    def dataset(self):
        return {"x": self.train_x} if self.image else None

    def batch(self, data, state, params, *, key, step):
        if self.image:
            return super().batch(data, state, params, key=key, step=step)
        return {"x": ring_sample(jax.random.fold_in(key, step), self.config.batch_size)}, state

    def encode(self, x):
        """(integer levels or None, the data vector the diffusion acts on); x [D]."""
        if self.image:
            return dm.encode_bytes(x)
        return None, x

    # -- model --------------------------------------------------------------------------------
    def init(self, key):
        kd, ks = jax.random.split(key)
        params = {"denoiser": self.denoiser.init(kd, jnp.zeros((self.dim,)), jnp.zeros(()))}
        if self.learned:
            params["schedule"] = self.sched.init(ks, jnp.zeros(()))
        return params, {}

    def gamma_fn(self, params):
        """t -> gamma(t) of one example (closes over the schedule's parameters)."""
        if self.learned:
            return functools.partial(self.sched.apply, params["schedule"])
        return functools.partial(FIXED[self.config.schedule], {})

    def eps_fn(self, params):
        """(x_t, gamma_t) -> eps_hat of one example."""
        return functools.partial(self.denoiser.apply, params["denoiser"])

    def optimizer(self, schedule):
        tx = super().optimizer(schedule)
        if not self.learned:
            return tx
        o = self.config.optim
        mult = self.config.schedule_lr_mult
        sched_tx = optax.adam(lambda step: mult * schedule(step), b1=o.b1, b2=o.b2, eps=o.eps)
        return optax.multi_transform(
            {"denoiser": tx, "schedule": sched_tx},
            lambda p: {k: jax.tree.map(lambda _: k, v) for k, v in p.items()})

    def schedule_terms(self, params, t):
        """(g0, g1, s, ds): gamma_t = g0 + (g1 - g0) s and gamma'(t) = (g1 - g0) ds."""
        if self.learned:
            p = params["schedule"]
            g0, g1 = self.sched.apply(p, method=dm.LearnedGamma.ends)
            s, ds = self.sched.apply(p, t, method=dm.LearnedGamma.shape)
            return g0, g1, s, ds
        fn = FIXED[self.config.schedule]
        g0, g1 = fn({}, 0.0), fn({}, 1.0)
        g, dg = jax.jvp(lambda u: fn({}, u), (t,), (jnp.ones_like(t),))
        return g0, g1, (g - g0) / (g1 - g0), dg / (g1 - g0)

    def xt(self, params, x, t, eps):
        """The reparameterized x_t of one example (x [D] in data space, t scalar, eps [D])."""
        _, xc = self.encode(x)
        g0, g1, s, _ = self.schedule_terms(params, t)
        return dm.q_sample(xc, g0 + (g1 - g0) * s, eps)

    def example_terms(self, params, x, t, key, objective="vlb", shape="own"):
        """(diffusion loss, prior + reconstruction) in nats for one example x [D] at time t.

        With ``objective='simple'`` the first term is DDPM's unweighted ||eps - eps_hat||^2.
        ``shape='linear'`` replaces the schedule between its endpoints by gamma linear in t:
        the denoiser sees gamma_t, so the expected bound is the same (VDM eq. 17) and only the
        estimator's variance changes.
        """
        k, xc = self.encode(x)
        g0, g1, s, ds = self.schedule_terms(params, t)
        if shape == "linear":
            s, ds = t, jnp.ones_like(t)
        eps_key, eps0_key = jax.random.split(key)
        eps = jax.random.normal(eps_key, xc.shape)

        def diff(den, ends, s, ds, consts):
            xc, eps = consts
            lo, hi = ends
            g_t, dg_t = lo + (hi - lo) * s, (hi - lo) * ds
            eps_fn = functools.partial(self.denoiser.apply, den)
            if objective == "simple":
                xt = dm.q_sample(xc, g_t, eps)
                return jnp.sum((eps - eps_fn(xt, g_t)) ** 2)
            return dm.diffusion_loss(eps_fn, xc, g_t, dg_t, eps)

        if self.learned and self.config.schedule_grad == "variance":
            diff = dm.variance_shape_grad(diff)
        l_diff = diff(params["denoiser"], (g0, g1), s, ds, (xc, eps))
        eps0 = jax.random.normal(eps0_key, xc.shape)
        recon = (dm.discrete_recon(k, xc, g0, eps0) if self.image
                 else dm.gaussian_recon(xc, g0, eps0))
        return l_diff, dm.prior_kl(xc, g1) + recon

    def loss(self, params, state, batch, *, key, step, hparams):
        del step, hparams
        x = batch["x"]
        n = x.shape[0]
        t_key, key = jax.random.split(key)
        t = dm.low_discrepancy_times(t_key, n)
        terms = functools.partial(self.example_terms, objective=self.config.objective)
        l_diff, rest = jax.vmap(terms, in_axes=(None, 0, 0, 0))(
            params, x, t, jax.random.split(key, n))
        bound = l_diff + rest
        if self.config.objective == "simple":
            loss = jnp.mean(l_diff)
            bound = rest  # the weighted bound is reported by evaluate()
        else:
            loss = jnp.mean(bound)
        metrics = {"bound_per_dim": jnp.mean(bound) / self.dim,
                   "diff_var": jnp.var(l_diff)}
        if self.learned:
            g0, g1 = self.sched.apply(params["schedule"], method=dm.LearnedGamma.ends)
            metrics.update(gamma_min=g0, gamma_max=g1)
        return loss, (metrics, state)

    # -- evaluation ---------------------------------------------------------------------------
    def vlb_estimates(self, params, x, key, draws, shape="own"):
        """Single-draw VLB estimates (nats) and their diffusion parts, t ~ U iid; [N, draws]."""
        n = x.shape[0]
        tk, kk = jax.random.split(key)
        t = jax.random.uniform(tk, (n, draws))
        keys = jax.random.split(kk, (n, draws))
        terms = functools.partial(self.example_terms, shape=shape)
        per = jax.vmap(terms, in_axes=(None, None, 0, 0))  # over draws
        l_diff, rest = jax.lax.map(lambda a: per(params, *a), (x, t, keys), batch_size=64)
        return l_diff + rest, l_diff

    def eval_stats(self, params, x, key, draws, num_samples):
        own, l_diff = self.vlb_estimates(params, x, key, draws)
        # The same bound through gamma linear between the model's own endpoints: the same
        # expectation for every schedule, and a comparable (low) standard error for all.
        lin, _ = self.vlb_estimates(params, x, jax.random.fold_in(key, 2), draws, "linear")
        out = {"bound": jnp.mean(lin),
               "bound_se": jnp.std(jnp.mean(lin, 1)) / np.sqrt(x.shape[0]),
               "own_bound": jnp.mean(own),
               "own_bound_se": jnp.std(jnp.mean(own, 1)) / np.sqrt(x.shape[0]),
               # Variance of the one-draw diffusion-loss estimate given x (VDM's target).
               "diff_var": jnp.mean(jnp.var(l_diff, 1, ddof=1)),
               "bound_var": jnp.var(own)}
        if not self.image and num_samples:
            s = self.sample(params, jax.random.fold_in(key, 1), num_samples,
                            self.config.eval.sample_steps)
            out["sample_logp"] = jnp.mean(ring_log_density(s))
            out["sample_in_mode"] = in_mode_fraction(s)
            out["data_in_mode"] = in_mode_fraction(x)
            out["data_logp"] = jnp.mean(ring_log_density(x))
        return out

    def evaluate(self, params, state, *, key, final=False):
        e = self.config.eval
        n = e.final_num_examples if final else e.num_examples
        if not n:  # eval.num_examples = 0: no periodic evaluation (one compile fewer)
            return {}
        st = self._eval(params, jnp.asarray(self.test_x[:n]), key, e.draws,
                        e.num_samples if final else 0)
        st = {k: float(v) for k, v in st.items()}
        scale = self.dim * np.log(2.0) if self.image else 1.0
        out = {("bpd" if self.image else "bound_nats"): st["bound"] / scale,
               ("bpd_se" if self.image else "bound_nats_se"): st["bound_se"] / scale,
               ("own_bpd" if self.image else "own_bound_nats"): st["own_bound"] / scale,
               ("own_bpd_se" if self.image else "own_bound_nats_se"): st["own_bound_se"] / scale,
               "diff_var": st["diff_var"], "bound_var": st["bound_var"]}
        if "sample_logp" in st:
            out.update({k: st[k] for k in ("sample_logp", "data_logp", "sample_in_mode",
                                           "data_in_mode")})
        if self.learned:
            g0, g1 = self.sched.apply(params["schedule"], method=dm.LearnedGamma.ends)
            out.update(gamma_min=float(g0), gamma_max=float(g1))
        return out

    def final_evaluate(self, params, state, *, key):
        return self.evaluate(params, state, key=key, final=True)

    def sample(self, params, key, n, steps):
        """n ancestral samples in data space ([n, D]; images in [0, 1])."""
        z0 = jax.vmap(lambda k: dm.ancestral_sample(self.eps_fn(params), self.gamma_fn(params),
                                                    k, (self.dim,), steps))(
            jax.random.split(key, n))
        g0 = self.gamma_fn(params)(0.0)
        if self.image:
            logits = jax.vmap(dm.discrete_decoder_logits, in_axes=(0, None))(z0, g0)
            return jnp.argmax(logits, -1) / 255.0
        return z0 / dm.alpha_sigma(g0)[0]

    def artifacts(self, params, state, *, key, workdir: pathlib.Path):
        e = self.config.eval
        if self.image:
            s = np.asarray(self._sample(params, key, 64, e.sample_steps))
            return [plotting.save_image_grid(s, workdir / "samples.png",
                                             title=f"{self.config.schedule} schedule samples")]
        s = np.asarray(self._sample(params, key, 2000, e.sample_steps))
        return [plot_ring_samples(s, workdir / "samples.png", self.config.schedule)]


def plot_ring_samples(samples, path, title, ax=None):
    """Scatter of 2-D samples over contours of the true density."""
    import matplotlib.pyplot as plt

    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(4, 4))
    g = np.linspace(-1.6, 1.6, 200)
    xx, yy = np.meshgrid(g, g)
    logp = np.asarray(ring_log_density(jnp.stack([xx, yy], -1)))
    ax.contour(xx, yy, np.exp(logp), levels=6, cmap="Blues")
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="C3", alpha=0.4, label="samples")
    ax.set(xlim=(-1.6, 1.6), ylim=(-1.6, 1.6), xlabel="x1", ylabel="x2", title=title)
    ax.legend(loc="upper right", fontsize=7)
    if own:
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return pathlib.Path(path) if path else None


def make_task(config) -> DiffusionTask:
    if config.schedule not in (*FIXED, "learned"):
        raise ValueError(f"config.schedule={config.schedule!r}; use one of "
                         f"{sorted(FIXED) + ['learned']}.")
    if config.objective not in ("vlb", "simple"):
        raise ValueError(f"config.objective={config.objective!r}; use 'vlb' or 'simple'.")
    if config.objective == "simple" and config.schedule == "learned":
        raise ValueError("objective='simple' needs a fixed schedule (it is not a bound).")
    if config.schedule_grad not in ("variance", "bound"):
        raise ValueError(f"config.schedule_grad={config.schedule_grad!r}; use variance|bound.")
    if config.data.name not in ("gmm", "mnist"):
        raise ValueError(f"config.data.name={config.data.name!r}; use 'gmm' or 'mnist'.")
    return DiffusionTask(config)

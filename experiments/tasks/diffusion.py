"""Diffusion models: DDPM with fixed schedules and VDM with a learned one (issue #7).

The forward process is the reparameterization x_t = alpha_t x_0 + sigma_t eps
(:func:`rgrad.diffusion.q_sample`). The denoiser eps_theta(x_t, gamma_t), a residual MLP
(:class:`rgrad.denoisers.Denoiser`), sees the noise level gamma_t (not t) as in VDM, so every
schedule with the same endpoints has the same expected bound for the same denoiser.

* ``schedule``: ``ddpm_linear`` | ``cosine`` | ``linear`` (fixed; x_t is a constant for theta)
  or ``learned`` (VDM: the endpoints follow the bound, the shape the variance of the
  diffusion-loss estimate, ``schedule_grad='variance'``, or the bound, ``'bound'``). The
  schedule's parameters have their own Adam, at ``schedule_lr_mult`` times the learning rate
  and without the denoiser's gradient clipping (the variance gradient 2 L dL is large and would
  otherwise shrink the denoiser's clipped step).
* ``objective``: ``vlb`` (VDM's continuous-time bound), ``simple`` (DDPM's
  E ||eps - eps_theta(x_t, t)||^2, fixed schedules only) or ``eps_mse`` (the same per
  dimension: the denoiser bench's, gamma ~ U(gamma_min, gamma_max) with ``schedule='linear'``);
  ``eval.gammas`` adds the eps-MSE per dimension at fixed noise levels, ``eps_mse_gamma<g>``.
* ``data.name``: ``gmm`` (8 Gaussians on a ring, :mod:`rgrad.ring_data`; true density known)
  or ``mnist`` (8-bit pixels, VDM's discretized decoder :mod:`rgrad.diffusion_decoder`, bound
  in bits per dimension).
"""

from __future__ import annotations

import functools
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import optax

from rgrad import data as rdata
from rgrad import diffusion as dm
from rgrad import plotting
from rgrad.denoisers import Denoiser
from rgrad.diffusion_decoder import discrete_decoder_logits, discrete_recon
from rgrad.ring_data import (  # noqa: F401  (re-exported: the schedules figure reads them)
    in_mode_fraction,
    plot_ring_samples,
    ring_log_density,
    ring_sample,
)
from rgrad.task import Task

FIXED = {"ddpm_linear": dm.ddpm_linear_gamma, "cosine": dm.cosine_gamma,
         "linear": dm.linear_gamma}


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

        With ``objective='simple'`` (or ``'eps_mse'``) the first term is ||eps - eps_hat||^2.
        ``shape='linear'`` makes gamma linear in t between the schedule's endpoints: the same
        expected bound (VDM eq. 17; the denoiser sees gamma_t), another estimator variance."""
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
            if objective in ("simple", "eps_mse"):
                xt = dm.q_sample(xc, g_t, eps)
                return jnp.sum((eps - eps_fn(xt, g_t)) ** 2)
            return dm.diffusion_loss(eps_fn, xc, g_t, dg_t, eps)

        if self.learned and self.config.schedule_grad == "variance":
            diff = dm.variance_shape_grad(diff)
        l_diff = diff(params["denoiser"], (g0, g1), s, ds, (xc, eps))
        eps0 = jax.random.normal(eps0_key, xc.shape)
        recon = (discrete_recon(k, xc, g0, eps0) if self.image
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
        if self.config.objective in ("simple", "eps_mse"):
            loss = jnp.mean(l_diff) / (self.dim if self.config.objective == "eps_mse" else 1)
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

    def bound_metrics(self, params, key, *, final: bool):
        """The bounds on ``eval.[final_]num_examples`` test points and their variances; pure.
        Per dimension in bits (images) or per example in nats (ring); ``{}`` for 0 examples."""
        e = self.config.eval
        n = e.final_num_examples if final else e.num_examples
        if not n:
            return {}
        st = self.eval_stats(params, jnp.asarray(self.test_x[:n]), key, e.draws,
                             e.num_samples if final else 0)
        scale = self.dim * np.log(2.0) if self.image else 1.0
        unit, own = ("bpd", "own_bpd") if self.image else ("bound_nats", "own_bound_nats")
        out = {unit: st["bound"] / scale, f"{unit}_se": st["bound_se"] / scale,
               own: st["own_bound"] / scale, f"{own}_se": st["own_bound_se"] / scale,
               "diff_var": st["diff_var"], "bound_var": st["bound_var"]}
        out.update({k: v for k, v in st.items() if k.startswith(("sample_", "data_"))})
        if self.learned:
            g0, g1 = self.sched.apply(params["schedule"], method=dm.LearnedGamma.ends)
            out.update(gamma_min=g0, gamma_max=g1)
        return out

    def fixed_gamma_mse(self, eps_fn, key):
        """Per-dimension eps-MSE of ``eps_fn`` (one example's (z, gamma) -> eps_hat) at each of
        ``eval.gammas`` on the first ``eval.gamma_examples`` test points, one shared eps draw."""
        e, out = self.config.eval, {}
        if not e.gammas:
            return out
        _, xc = jax.vmap(self.encode)(jnp.asarray(self.test_x[:e.gamma_examples]))
        eps = jax.random.normal(key, xc.shape)
        for g in e.gammas:
            a, s = dm.alpha_sigma(jnp.float32(g))
            eps_hat = jax.vmap(eps_fn, in_axes=(0, None))(a * xc + s * eps, jnp.float32(g))
            out[f"eps_mse_gamma{g:g}"] = jnp.mean((eps_hat - eps) ** 2)
        return out

    def evaluate(self, params, state, *, key, final=False):
        del state  # the bounds' key as before the fixed-gamma metrics were added
        return {**self.bound_metrics(params, key, final=final),
                **self.fixed_gamma_mse(self.eps_fn(params), jax.random.fold_in(key, 3))}

    def final_evaluate(self, params, state, *, key):
        return self.evaluate(params, state, key=key, final=True)

    def sample(self, params, key, n, steps):
        """n ancestral samples in data space ([n, D]; images in [0, 1])."""
        z0 = jax.vmap(lambda k: dm.ancestral_sample(self.eps_fn(params), self.gamma_fn(params),
                                                    k, (self.dim,), steps))(
            jax.random.split(key, n))
        g0 = self.gamma_fn(params)(0.0)
        if self.image:
            logits = jax.vmap(discrete_decoder_logits, in_axes=(0, None))(z0, g0)
            return jnp.argmax(logits, -1) / 255.0
        return z0 / dm.alpha_sigma(g0)[0]

    def artifacts(self, params, state, *, key, workdir: pathlib.Path):
        e = self.config.eval
        if self.image:
            s = np.asarray(self.sample(params, key, 64, e.sample_steps))
            return [plotting.save_image_grid(s, workdir / "samples.png",
                                             title=f"{self.config.schedule} schedule samples")]
        s = np.asarray(self.sample(params, key, 2000, e.sample_steps))
        return [plot_ring_samples(s, workdir / "samples.png", self.config.schedule)]


def make_task(config) -> DiffusionTask:
    for field, value, allowed in (
            ("schedule", config.schedule, (*FIXED, "learned")),
            ("objective", config.objective, ("vlb", "simple", "eps_mse")),
            ("schedule_grad", config.schedule_grad, ("variance", "bound")),
            ("data.name", config.data.name, ("gmm", "mnist"))):
        if value not in allowed:
            raise ValueError(f"config.{field}={value!r}; use one of {'|'.join(allowed)}.")
    if config.objective != "vlb" and config.schedule == "learned":
        raise ValueError(f"objective={config.objective!r} needs a fixed schedule (not a bound).")
    return DiffusionTask(config)

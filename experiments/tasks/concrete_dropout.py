"""MNIST MLP classifier with learned dropout rates (Concrete dropout, Gal, Hron & Kendall 2017).

Every Dense layer (input layer included) reads its inputs through an `rgrad.layers.
ConcreteDropout`, whose keep probability is trained by the pathwise gradient through relaxed
Bernoulli masks, against the KL regularizer of `rgrad.layers.concrete_dropout_regularizer`.
Evaluation reports the test accuracy of the deterministic network (weight scaling) and of the
MC-dropout average of ``eval.mc_samples`` stochastic passes, and the learned dropout rates.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from rgrad import data as rdata
from rgrad import layers
from rgrad.task import Task


class ConcreteMLP(nn.Module):
    hidden: tuple[int, ...]
    num_classes: int
    temperature: float
    init_keep: float

    @nn.compact
    def __call__(self, x, deterministic: bool):  # [784] -> logits [C]
        sizes = tuple(self.hidden) + (self.num_classes,)
        for i, h in enumerate(sizes):
            x = layers.ConcreteDropout(self.temperature, self.init_keep, name=f"drop{i}")(
                x, deterministic)
            x = nn.Dense(h, name=f"dense{i}")(x)
            if i < len(self.hidden):
                x = nn.relu(x)
        return x


class ConcreteDropoutTask(Task):
    """The task contract for the Concrete-dropout classifier (see module docstring)."""

    def __init__(self, config, arrays=None):
        """Load MNIST, or use ``arrays`` = (train_x, train_y, test_x, test_y)."""
        super().__init__(config)
        m = config.model
        self.model = ConcreteMLP(tuple(m.hidden), 10, m.temperature, m.init_keep)
        if arrays is None:
            d = config.data
            train, name = rdata.load_with_fallback("mnist", "train", d.data_dir or None,
                                                   d.download)
            test, _ = rdata.load_with_fallback(name, "test", d.data_dir or None, d.download)
            arrays = (train.images, train.labels, test.images, test.labels)
        n = config.data.max_train or None
        self.train = {"x": np.asarray(arrays[0][:n], np.float32),
                      "y": np.asarray(arrays[1][:n], np.int32)}
        self.test_x, self.test_y = np.asarray(arrays[2], np.float32), np.asarray(arrays[3])
        self.num_train = len(self.train["x"])

    def dataset(self):
        return self.train

    def init(self, key):
        return self.model.init(key, jnp.zeros((784,)), deterministic=True), {}

    def num_layers(self):
        return len(self.config.model.hidden) + 1

    def regularizer(self, params):
        c, p = self.config, params["params"]
        n = self.num_train
        return sum(layers.concrete_dropout_regularizer(
            p[f"drop{i}"]["keep_logit"], p[f"dense{i}"]["kernel"],
            weight_regularizer=c.length_scale**2 / n, dropout_regularizer=c.dropout_reg_scale / n)
            for i in range(self.num_layers()))

    def drop_rates(self, params):
        p = params["params"]
        return [1.0 - layers.keep_probability(p[f"drop{i}"]["keep_logit"])
                for i in range(self.num_layers())]

    def loss(self, params, state, batch, *, key, step, hparams):
        del step, hparams
        keys = jax.random.split(key, batch["x"].shape[0])

        def one(x, k):
            return self.model.apply(params, x, deterministic=False, rngs={"dropout": k})

        logits = jax.vmap(one)(batch["x"], keys)  # [B, 10]
        nll = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]))
        loss = nll + self.regularizer(params)
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
        metrics = {"nll": nll, "train_acc": acc}
        metrics.update({f"drop_rate{i}": r for i, r in enumerate(self.drop_rates(params))})
        return loss, (metrics, state)

    def evaluate(self, params, state, *, key):
        """Test accuracy (deterministic and MC-dropout) and the learned rates; pure."""
        del state
        n = self.config.eval.num_examples or None
        x, y = jnp.asarray(self.test_x[:n]), jnp.asarray(self.test_y[:n])  # [N, 784], [N]
        det = jax.vmap(lambda xi: self.model.apply(params, xi, deterministic=True))(x)
        keys = jax.random.split(key, self.config.eval.mc_samples)

        def mc(k):
            ks = jax.random.split(k, x.shape[0])
            logits = jax.vmap(lambda xi, ki: self.model.apply(
                params, xi, deterministic=False, rngs={"dropout": ki}))(x, ks)
            return jax.nn.softmax(logits, -1)

        probs = jnp.mean(jax.lax.map(mc, keys), axis=0)  # [N, 10]
        out = {"test_acc": jnp.mean(jnp.argmax(det, -1) == y),
               "test_acc_mc": jnp.mean(jnp.argmax(probs, -1) == y)}
        out.update({f"drop_rate{i}": r for i, r in enumerate(self.drop_rates(params))})
        return out

def make_task(config, arrays=None) -> ConcreteDropoutTask:
    return ConcreteDropoutTask(config, arrays)

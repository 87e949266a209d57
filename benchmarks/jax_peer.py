"""The JAX peer of eoscheck's GD engine: what a researcher writes in an afternoon.

Batched full-batch GD on the logistic loss for K stepsizes, float64, ``jit`` + ``vmap`` over the
stepsizes + ``lax.scan`` over the steps, recording only the loss L(w_t), t = 0..T:

* primal: m = Z w, w ← w + (η/n) Zᵀσ(−m)                (two GEMVs per stepsize, 4nd flops);
* gram:   m ← m + (η/n) K σ(−m), K = ZZᵀ, w = Zᵀc      (one n×n GEMV, 2n² flops).

vmap turns the per-stepsize GEMVs into one GEMM per step.  Needs ``jax`` (the optional
``bench`` extra), never imported by eoscheck itself.
"""

from __future__ import annotations

import numpy as np


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax


def make_runner(Z: np.ndarray, etas: np.ndarray, steps: int, form: str):
    """A zero-argument function running GD for every η and returning the (K, T+1) losses (numpy)."""
    jax = _jax()
    jnp = jax.numpy
    Zj = jnp.asarray(Z, dtype=jnp.float64)
    n = Z.shape[0]
    eta = jnp.asarray(etas, dtype=jnp.float64)
    if form == "gram":
        Kmat = Zj @ Zj.T

        def one(e):
            def step(m, _):
                loss = jnp.mean(jnp.logaddexp(0.0, -m))
                return m + (e / n) * (Kmat @ jax.nn.sigmoid(-m)), loss
            m_T, losses = jax.lax.scan(step, jnp.zeros(n), None, length=steps)
            return jnp.concatenate([losses, jnp.mean(jnp.logaddexp(0.0, -m_T))[None]])
    elif form == "primal":
        def one(e):
            def step(w, _):
                m = Zj @ w
                loss = jnp.mean(jnp.logaddexp(0.0, -m))
                return w + (e / n) * (Zj.T @ jax.nn.sigmoid(-m)), loss
            w_T, losses = jax.lax.scan(step, jnp.zeros(Z.shape[1]), None, length=steps)
            return jnp.concatenate([losses, jnp.mean(jnp.logaddexp(0.0, -(Zj @ w_T)))[None]])
    else:
        raise ValueError(form)
    fn = jax.jit(jax.vmap(one))

    def run():
        return np.asarray(fn(eta).block_until_ready())
    return run


def gemm_gflops(k: int, n: int, p: int, reps: int = 3, chain: int = 50) -> float:
    """GFLOP/s of XLA's float64 dot (k×n)·(n×p), ``chain`` products in a row inside one jit call
    (best of ``reps``): the machine's float64 GEMM rate as XLA reaches it."""
    import time

    jax = _jax()
    rng = np.random.default_rng(0)
    B = jax.numpy.asarray(rng.standard_normal((n, p)))
    A = jax.numpy.asarray(rng.standard_normal((k, n)))
    if n != p:
        raise ValueError("the chained product needs a square right factor")
    f = jax.jit(lambda a: jax.lax.fori_loop(0, chain, lambda i, x: (x @ B) * 1e-3, a))
    f(A).block_until_ready()
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        f(A).block_until_ready()
        best = min(best, time.perf_counter() - t)
    return chain * 2.0 * k * n * p / best / 1e9


def versions() -> dict:
    jax = _jax()
    import jaxlib

    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "jax_devices": [str(d) for d in jax.devices()]}

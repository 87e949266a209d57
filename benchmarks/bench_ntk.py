"""The two-layer NTK network's GD (Theorem 6): eoscheck's compiled engine, its torch engine and a JAX peer, side by side.

    python benchmarks/bench_ntk.py --out benchmarks/results/ntk_cpu.json

Problems: ``small`` (synthetic n = 8, d = 4, width 64, six η, 4000 steps: the size of the ``thm6.*`` claims' runs)
and ``report`` (digits 0/8, 100 a class, d = 64, width 1024, the report's six η, 200 steps: §6's problem).  Each
engine runs ``run_ntk`` (eoscheck: every record, on one torch thread as the report runs it; the compiled engine on one
thread) or the JAX peer (``jit`` + ``vmap`` over η + ``lax.scan`` over the steps, float64, the loss alone recorded, on
XLA's default threads: every core; ``--single-thread`` pins the process to one CPU), alternated, best of ``--repeat``;
the fixed cost of a run (inputs, theory side, compilation) is taken out by a run of 10 steps timed the same way.
Rates are stepsize-steps per second; the ratios are to the torch engine and to JAX.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np


def _jax_ntk(X, y, a, W0, etas, steps):
    """GD on f(x; W) = Σₛ aₛ relu(xᵀwₛ)/√m, logistic loss, all η at once: a function returning the (K, T) losses."""
    import jax

    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy
    Xj, yj, aj, W0j = (jnp.asarray(v, dtype=jnp.float64) for v in (X, y, a, W0))
    rt = math.sqrt(W0.shape[0])

    def loss(W):
        m = yj * (jax.nn.relu(Xj @ W.T) @ aj) / rt
        return jnp.mean(jnp.logaddexp(0.0, -m))

    vg = jax.value_and_grad(loss)

    def one(e):
        def step(W, _):
            L, g = vg(W)
            return W - e * g, L
        return jax.lax.scan(step, W0j, None, length=steps)[1]

    fn = jax.jit(jax.vmap(one))
    eta = jnp.asarray(etas, dtype=jnp.float64)
    return lambda: np.asarray(fn(eta).block_until_ready())


def _problem(name: str):
    from eoscheck import synthetic
    from eoscheck.report.context import load_dataset

    if name == "small":
        return synthetic(8, 4, 0.1, seed=0), 64, [0.25, 1.0, 4.0, 16.0, 64.0, 256.0], 4000
    return load_dataset("digits08-normalized:n_per_class=100"), 1024, [0.5, 2.0, 8.0, 32.0, 128.0, 512.0], 200


def _seconds(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(name: str, repeat: int) -> dict:
    from eoscheck.networks import init_weights, output_signs, run_ntk
    from eoscheck.resources import single_torch_thread

    data, width, etas, steps = _problem(name)
    K = len(etas)
    runs = {}
    with single_torch_thread():
        for backend in ("numba", "torch"):
            for T in (10, steps):
                run_ntk(data, "logistic", etas, T, width=width, backend=backend)      # warm (compiled, loaded)

        def eos(backend, T):
            return lambda: run_ntk(data, "logistic", etas, T, width=width, backend=backend)

        a, W0 = output_signs(width), init_weights(width, data.d)
        jax_run = {T: _jax_ntk(data.X, data.y, a, W0, etas, T) for T in (10, steps)}
        for f in jax_run.values():
            f()                                                                           # compiled
        times = {k: {10: [], steps: []} for k in ("numba", "torch", "jax")}
        for _ in range(repeat):                   # alternated: the host's drift hits every engine alike
            for T in (10, steps):
                times["numba"][T].append(_seconds(eos("numba", T)))
                times["torch"][T].append(_seconds(eos("torch", T)))
                times["jax"][T].append(_seconds(jax_run[T]))
    for k, v in times.items():
        per_step = (min(v[steps]) - min(v[10])) / (steps - 10)
        runs[k] = {"seconds_10_steps": v[10], f"seconds_{steps}_steps": v[steps], "ms_per_step": 1e3 * per_step,
                   "stepsize_steps_per_s": K / per_step}
    # the same losses: eoscheck's two engines and JAX's (autodiff, another summation order) at the last step
    L = {b: run_ntk(data, "logistic", etas, steps, width=width, backend=b).records["loss"][:, steps - 1]
         for b in ("numba", "torch")}
    L["jax"] = jax_run[steps]()[:, -1]
    rel = {f"{x}_vs_{y}": float(np.max(np.abs(L[x] - L[y]) / np.abs(L[y]))) for x, y in
           (("numba", "torch"), ("numba", "jax"))}
    return {"problem": {"n": data.n, "d": data.d, "width": width, "etas": etas, "steps": steps}, "engines": runs,
            "numba_over_torch": runs["numba"]["stepsize_steps_per_s"] / runs["torch"]["stepsize_steps_per_s"],
            "numba_over_jax": runs["numba"]["stepsize_steps_per_s"] / runs["jax"]["stepsize_steps_per_s"],
            "last_loss_max_relative_difference": rel}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--problems", default="small,report")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--single-thread", action="store_true", help="pin the process to one CPU (JAX's XLA then runs on one "
                   "core too; by default it uses every core, eoscheck's NTK engine one)")
    p.add_argument("--out")
    args = p.parse_args(argv)
    if args.single_thread:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from bench_gd import machine  # lscpu's model, BLAS and kernel, versions, the eoscheck commit

    result = {"machine": machine(), "loadavg_before": os.getloadavg()}
    for name in args.problems.split(","):
        result[name] = measure(name, args.repeat)
        print(name, json.dumps({k: v for k, v in result[name].items() if k != "engines"}),
              {k: round(v["ms_per_step"], 4) for k, v in result[name]["engines"].items()})
    result["loadavg_after"] = os.getloadavg()
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

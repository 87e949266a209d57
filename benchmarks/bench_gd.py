"""eoscheck's GD engine side by side with a JAX peer (issue 16), all numbers from one run.

    python benchmarks/bench_gd.py [--quick] [--single-thread] [--out FILE.json]
    python benchmarks/bench_gd.py --device cuda [--out FILE.json]     (benchmarks/run_gpu.sh)
    python benchmarks/bench_gd.py --from-json benchmarks/results/FILE.json   (reprint the table)

CPU sections, each timed side by side (repetitions interleaved, best of ``reps``):
  main   synthetic(1000, 784, 0.05), 32 log-spaced η in [0.1, 100], 2000 steps: ``run_gd`` with
         default options (every step recorded, all 12 records, the exact trackers) against the
         JAX peer (benchmarks/jax_peer.py: jit + vmap + lax.scan, float64, gram and primal forms,
         recording only the loss), in stepsize-steps per second; the share of the roofline
         (measured float64 GEMM peak / min(4nd, 2n²) flops per stepsize-step); and, in the same
         rotation, the engine's products alone (same library, panels and threads, no elementwise
         work, no records, no waits): the ceiling of a step built on them, as a rate and a ratio
         to JAX;
  tiny   n = 20, d = 5, one η, 10⁴ steps;   tall   n = 10⁴, d = 100, 16 η, 500 steps;
  busy   the main problem (fewer steps) while another process spins on one core
         (``python -c "while True: pass"``): the engine with its default threads, with 1 and
         with 2 threads, as ratios to the 1-thread run in the same conditions.
``--single-thread`` pins the whole process to one CPU (``sched_setaffinity``) and sets XLA's
single-thread flags, so both sides run on one core (the flags alone left XLA on 2 threads: 1.5–1.9
CPU-seconds per second measured); one core each compares the code per core.
Roofline: the float64 GEMM peak is measured in the same run, for numpy's BLAS and for MKL through
torch (2000³, the two libraries the engine calls; the roofline takes the faster) — at the start and
again inside the main problem's rotation (the share against the latter is printed first) — and for XLA's own dot
on the main problem's gram product (32×1000)·(1000×1000) (on the AMD machine of 2026-12-02 XLA's
AVX-512 code ran it ~2.7× faster than OpenBLAS's Haswell kernels).
Recorded beside the numbers: the eoscheck commit, lscpu's model, numpy's BLAS and its kernel (threadpoolctl),
OPENBLAS_CORETYPE, numba/jax versions, the load average at the start and the end.
GPU (``--device cuda``): the engine (torch backend) on n = 10⁵, d = 784, 64 η against the
GPU's float64 GEMM peak.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eoscheck.datasets import synthetic  # noqa: E402
from eoscheck.gd import run_gd  # noqa: E402


def machine() -> dict:
    import numba

    info = {"platform": platform.platform(), "python": sys.version.split()[0], "numpy": np.__version__,
            "numba": numba.__version__, "cpu_count": os.cpu_count(),
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
            "OPENBLAS_L2_SIZE": os.environ.get("OPENBLAS_L2_SIZE")}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("Model name", "Vendor ID", "CPU family", "Model", "Stepping", "CPU(s)",
                               "Thread(s) per core", "L1d cache", "L2 cache", "L3 cache", "Hypervisor vendor"):
                info[key.strip()] = val.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    import torch

    from eoscheck.gdnumpy import default_gemm
    from eoscheck.provenance import source

    # the engine's products run in MKL inside torch on Intel (threadpoolctl does not list that copy)
    info["torch"] = torch.__version__
    info["mkl"] = next((ln.strip(" -") for ln in torch.__config__.show().splitlines() if "Math Kernel Library" in ln),
                       None)
    info["engine_gemm"] = default_gemm()
    info["argv"] = sys.argv[1:]

    src = source()
    info["eoscheck"] = {"commit": src["commit"], "dirty": src["dirty"]}   # and whether the checkout had changes
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: v for k, v in d.items() if k in ("internal_api", "prefix", "num_threads",
                                                             "architecture", "version")} for d in threadpool_info()]
    except Exception:
        pass
    try:
        import jax_peer

        info.update(jax_peer.versions())
    except Exception as exc:  # the peer is optional
        info["jax"] = f"unavailable: {exc}"
    return info


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_ticks() -> list[int] | None:
    """All CPUs' ticks from /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal (None off Linux)."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:9]]
    return ticks + [0] * (8 - len(ticks))


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """The share of the CPU time between two :func:`cpu_ticks` readings that the hypervisor gave to other guests
    (the steal ticks over all eight kinds; guest time is counted in user already).  On a shared VM this is what
    moves a reading from one hour to the next (1–14 % in one hour on the AMD host, benchmarks/README.md)."""
    if before is None or after is None:
        return None
    delta = [b - a for a, b in zip(before, after)]
    total = sum(delta)
    return delta[7] / total if total > 0 else None


def schedule(keys: list, reps: int, seed: int = 0) -> list[list]:
    """The order of the contenders in each of ``reps`` repetitions: a permutation of ``keys`` drawn afresh each
    repetition (a seeded generator: the same schedule every run), so that no contender always runs right after the
    same other one.  A rotation (A B C D, B C D A, …) keeps the cycle, so each contender kept its predecessor: in
    the tiny problem eoscheck's default run always came right after JAX's primal run, whose worker threads may
    still be awake (a 3 ms eoscheck run there read 0.68× the same run one slot later, measured), and it read
    10–19 % below its 1-thread twin (the same configuration, which always followed it) in several readings."""
    rng = np.random.default_rng(seed)
    return [[keys[i] for i in rng.permutation(len(keys))] for _ in range(reps)]


def side_by_side(fns: dict, reps: int, settle: dict | None = None, times: dict | None = None) -> dict:
    """Best wall time of each function, repetitions interleaved so that a change of load hits every
    contender alike, in the orders of :func:`schedule` (none always right after the same other one).
    ``settle``: seconds to wait, untimed, after a contender (OpenBLAS's pool spins at a full CPU for
    ~120 ms after a 2-thread 2000³ product, measured, and would slow whichever contender came next).
    ``times``: a dict to receive every repetition's time of each function (in the order they ran)."""
    runs: dict = {k: [] for k in fns}
    for order in schedule(list(fns), reps):
        for k in order:
            t = time.perf_counter()
            fns[k]()
            runs[k].append(time.perf_counter() - t)
            time.sleep((settle or {}).get(k, 0.0))   # untimed: let k's thread pool go quiet
    if times is not None:
        times.update(runs)
    return {k: min(v) for k, v in runs.items()}


def gemm_product(size: int, threads: int, lib: str):
    """One size³ float64 product on ``threads`` threads, as a callable: ``lib`` "numpy" (numpy's BLAS)
    or "mkl" (through torch; None without MKL) — the two libraries the engine calls."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    if lib == "numpy":
        from threadpoolctl import ThreadpoolController

        C = np.empty((size, size))
        ctl = ThreadpoolController()   # scanned once: a scan (1.6–3.4 ms) inside the timing would lower the peak

        def f():
            with ctl.limit(limits=threads, user_api="blas"):
                np.matmul(A, B, out=C)
        return f
    import torch

    if not torch.backends.mkl.is_available():
        return None
    At, Bt, Ct = torch.from_numpy(A), torch.from_numpy(B), torch.empty(size, size, dtype=torch.float64)

    def g():
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            torch.matmul(At, Bt, out=Ct)
        finally:
            torch.set_num_threads(old)
    return g


def gemm_peak(size: int, threads: int, lib: str = "numpy", reps: int = 3) -> float | None:
    """GFLOP/s of :func:`gemm_product` (best of ``reps``; None without the library)."""
    f = gemm_product(size, threads, lib)
    if f is None:
        return None
    f()
    return 2.0 * size**3 / side_by_side({"g": f}, reps, settle={"g": 0.3})["g"] / 1e9


def products_only(data, etas, steps: int):
    """A run of the engine's products alone (``FusedBlock.products_only``: the gram form's GEMMs on the
    panels and threads a default run uses, nothing else): the ceiling of any step built on them."""
    from eoscheck.fastgd import build_block, choose_method
    from eoscheck.gdinputs import resolve_device
    from eoscheck.losses import get_loss
    from eoscheck.resources import blas_single_thread, single_torch_thread

    method = choose_method(data.n, data.d, True)
    with blas_single_thread(), single_torch_thread("cpu"):   # as run_fast builds it
        blk, info = build_block(data, get_loss("logistic"), etas, None, None, method=method, backend="auto",
                                device=resolve_device("cpu"), threads=1 if SINGLE else len(os.sched_getaffinity(0)))

    def f():
        with blas_single_thread(), single_torch_thread("cpu"):
            blk.products_only(steps, info["threads"])
    return f


def problem(name: str, n: int, d: int, K: int, steps: int, reps: int, jax_ok: bool, ceiling: bool = False) -> dict:
    """eoscheck (default options, and 1 thread) against the JAX peer's gram and primal forms; with
    ``ceiling``, also the engine's products alone (:func:`products_only`)."""
    data = synthetic(n, d, 0.05, seed=0)
    etas = np.geomspace(0.1, 100, K) if K > 1 else np.array([1.0])
    fns, out = {}, {"n": n, "d": d, "K": K, "steps": steps}
    res = {}

    def eos(label, **kw):
        if SINGLE:
            kw.setdefault("threads", 1)

        def f():
            res[label] = run_gd(data, "logistic", etas, steps, **kw)
        return f
    run_gd(data, "logistic", etas, 3)  # compile / warm up
    fns["eoscheck"] = eos("eoscheck")
    if not SINGLE:
        fns["eoscheck_1thread"] = eos("eoscheck_1thread", threads=1)
    peaks = []
    if ceiling:
        fns["products_only"] = products_only(data, etas, steps)
        # the roofline's GEMM peak, measured in the same rotation as the runs (a peak measured
        # minutes apart read 131 and 159 GFLOP/s on this host within the hour)
        cpus = 1 if SINGLE else len(os.sched_getaffinity(0))
        for lib in ("numpy", "mkl"):
            g = gemm_product(2000, cpus, lib)
            if g is not None:
                g()
                peaks.append(f"gemm2000_{lib}")
                fns[peaks[-1]] = g
    losses = {}
    if jax_ok:
        import jax_peer

        # a form whose flops exceed the other's threefold is skipped (the tall problem's gram form:
        # 2n² = 2·10⁸ against 4nd = 4·10⁶ flops per stepsize-step); "best of JAX" is the other one
        forms = [f for f in ("gram", "primal")
                 if {"gram": 2 * n * n, "primal": 4 * n * d}[f] <= 3 * min(2 * n * n, 4 * n * d)]
        out["jax_forms"] = forms
        for form in forms:
            runner = jax_peer.make_runner(data.Z, etas, steps, form)
            runner()  # compile

            def f(r=runner, form=form):
                losses[form] = r()
            fns[f"jax_{form}"] = f
    out["load_before"] = load()
    ticks = cpu_ticks()
    times: dict = {}
    best = side_by_side(fns, reps, settle={k: 0.3 for k in peaks}, times=times)
    out["steal_share"] = steal_share(ticks, cpu_ticks())
    out["load_after"] = load()
    out["seconds"] = best
    out["reps"] = reps
    out["median_seconds"] = {k: float(np.median(v)) for k, v in times.items()}
    out["rate"] = {k: K * steps / v for k, v in best.items() if k not in peaks}   # stepsize-steps per second
    if peaks:
        out["interleaved_gemm_peak_gflops"] = {k: 2.0 * 2000**3 / best[k] / 1e9 for k in peaks}
    out["engine"] = res["eoscheck"].provenance["engine"]
    if losses:
        ref = res["eoscheck"].loss
        out["max_rel_loss_diff_vs_jax"] = float(max(np.max(np.abs(v - ref) / ref) for v in losses.values()))
        jb = max(out["rate"][f"jax_{f}"] for f in forms)
        out["ratio_vs_best_jax"] = out["rate"]["eoscheck"] / jb
        # the same ratio on the median repetition of each side (the best of a few ~5 ms runs is itself noisy)
        med = out["median_seconds"]
        out["ratio_vs_best_jax_median"] = min(med[f"jax_{f}"] for f in forms) / med["eoscheck"]
        if ceiling:   # the most a step on these products could gain on JAX
            out["products_only_ratio_vs_best_jax"] = out["rate"]["products_only"] / jb
    if ceiling:
        out["share_of_products_only"] = out["rate"]["eoscheck"] / out["rate"]["products_only"]
    out["flops_per_stepsize_step"] = float(min(4 * n * d, 2 * n * n))
    print(f"[{name}] " + ", ".join(f"{k} {v:,.0f}/s" for k, v in out["rate"].items())
          + (f"; ratio vs best JAX {out.get('ratio_vs_best_jax', float('nan')):.2f}"
             f" (median repetitions {out.get('ratio_vs_best_jax_median', float('nan')):.2f})") + f"; load {out['load_after']}"
          + f"; steal {_percent(out['steal_share'])}", flush=True)
    return out


def busy_section(steps: int, reps: int) -> dict:
    """The main problem while a competitor process spins on one core."""
    data = synthetic(1000, 784, 0.05, seed=0)
    etas = np.geomspace(0.1, 100, 32)
    run_gd(data, "logistic", etas, 3)
    info = {}

    def f(**kw):
        def g():
            info[kw.get("threads", "auto")] = run_gd(data, "logistic", etas, steps, **kw).provenance["engine"]
        return g
    comp = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        before = load()
        ticks = cpu_ticks()
        best = side_by_side({"default": f(), "threads_1": f(threads=1), "threads_2": f(threads=2)}, reps)
        stolen = steal_share(ticks, cpu_ticks())
        after = load()
    finally:
        comp.kill()
        comp.wait()
    out = {"steps": steps, "seconds": best, "load_before": before, "load_after": after, "steal_share": stolen,
           "default_threads": info["auto"]["threads"],
           "ratio_default_to_1thread": best["threads_1"] / best["default"],
           "ratio_2threads_to_1thread": best["threads_1"] / best["threads_2"]}
    print(f"[busy] default ({out['default_threads']} threads) / 1 thread speed: {out['ratio_default_to_1thread']:.2f}; "
          f"2 threads / 1 thread: {out['ratio_2threads_to_1thread']:.2f}; load {after}", flush=True)
    return out


SINGLE = False


def cpu(args) -> dict:
    ticks = cpu_ticks()
    res = {"machine": machine(), "load_start": load(), "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "single_thread": SINGLE, "XLA_FLAGS": os.environ.get("XLA_FLAGS")}
    jax_ok = "unavailable" not in str(res["machine"].get("jax", ""))
    q = args.quick
    cpus = len(os.sched_getaffinity(0))
    res["cpus_used"] = cpus
    res["gemm_peak_gflops"] = {"1": gemm_peak(2000, 1), str(cpus): gemm_peak(2000, cpus)}
    mkl = {"1": gemm_peak(2000, 1, "mkl"), str(cpus): gemm_peak(2000, cpus, "mkl")}
    if mkl["1"] is not None:
        res["mkl_gemm_peak_gflops"] = mkl
    if jax_ok:
        import jax_peer

        res["xla_gemm_gflops"] = jax_peer.gemm_gflops(32, 1000, 1000)
    res["main"] = problem("main", 1000, 784, 32, 200 if q else 2000, 2 if q else 3, jax_ok, ceiling=True)
    main = res["main"]
    # the roofline: the best float64 GEMM rate measured in this run among the libraries the engine calls
    peaks = [res["gemm_peak_gflops"]] + ([res["mkl_gemm_peak_gflops"]] if "mkl_gemm_peak_gflops" in res else [])
    peak = max(max(p.values()) for p in peaks)
    peak1 = max(p["1"] for p in peaks)
    fl = main["flops_per_stepsize_step"]
    used = main["engine"]["threads"]
    main["roofline_rate"] = peak * 1e9 / fl
    main["roofline_share"] = main["rate"]["eoscheck"] / main["roofline_rate"]
    if main.get("interleaved_gemm_peak_gflops"):   # the peak measured in the runs' own rotation
        ipeak = max(main["interleaved_gemm_peak_gflops"].values())
        main["roofline_rate_interleaved"] = ipeak * 1e9 / fl
        main["roofline_share_interleaved"] = main["rate"]["eoscheck"] / main["roofline_rate_interleaved"]
    main["roofline_share_1thread"] = main["rate"].get("eoscheck_1thread", main["rate"]["eoscheck"]) / (peak1 * 1e9 / fl)
    if "xla_gemm_gflops" in res:   # the machine's best measured float64 GEMM on this shape
        best = max(peak, res["xla_gemm_gflops"])
        main["roofline_rate_best_gemm"] = best * 1e9 / fl
        main["roofline_share_best_gemm"] = main["rate"]["eoscheck"] / main["roofline_rate_best_gemm"]
    main["threads_used"] = used
    # a tiny run takes ~5 ms and its times spread widely (on the AMD host a run's median time is ~1.6× its best, for
    # eoscheck and JAX alike): 15 repetitions (0.3 s) read the ratio between 0.83 and 1.57 within the hour, while
    # 3,529 alternated pairs over 60 s read it at 1.07–1.20 (best) and 1.15–1.22 (median) in every 5 s; 200
    # repetitions take ~6 s
    res["tiny"] = problem("tiny", 20, 5, 1, 2000 if q else 10_000, 5 if q else 200, jax_ok)
    res["tall"] = problem("tall", 10_000, 100, 16, 50 if q else 500, 2 if q else 3, jax_ok)
    if not SINGLE:
        res["busy"] = busy_section(100 if q else 400, 2)
    res["load_end"] = load()
    res["steal_share"] = steal_share(ticks, cpu_ticks())
    return res


def gpu(args) -> dict:
    import torch

    dev = torch.device("cuda")
    size = 8192
    A = torch.randn(size, size, dtype=torch.float64, device=dev)
    C = torch.empty_like(A)
    torch.matmul(A, A, out=C)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(3):
        torch.matmul(A, A, out=C)
    torch.cuda.synchronize()
    peak = 3 * 2.0 * size**3 / (time.perf_counter() - t) / 1e9
    data = synthetic(100_000, 784, 0.05, seed=0)
    etas = np.geomspace(0.1, 100, 64)
    steps = 50 if args.quick else 200
    run_gd(data, "logistic", etas, 3, device="cuda")
    t = time.perf_counter()
    tr = run_gd(data, "logistic", etas, steps, device="cuda")
    sec = time.perf_counter() - t
    fl = min(4 * 100_000 * 784, 2 * 100_000**2)
    rate = 64 * steps / sec
    out = {"gpu": torch.cuda.get_device_name(dev), "gemm_peak_gflops": peak, "engine": tr.provenance["engine"],
           "seconds": sec, "rate": rate, "roofline_share": rate * fl / (peak * 1e9), "machine": machine()}
    print(json.dumps(out, indent=1, default=str))
    return out


def _percent(share: float | None) -> str:
    """A share as a percentage, "–" where it was not measured (off Linux, or a JSON from before it was recorded)."""
    return "–" if share is None else f"{100 * share:.1f} %"


def report(res: dict) -> None:
    m = res["main"]
    print(f"machine: {res['machine'].get('Model name')} ({res['machine'].get('CPU(s)')} CPUs), "
          f"BLAS {[(b.get('prefix'), b.get('architecture')) for b in res['machine'].get('blas', [])]}, "
          f"OPENBLAS_CORETYPE={res['machine'].get('OPENBLAS_CORETYPE')}; load {res['load_start']} → {res['load_end']}; "
          f"steal {_percent(res.get('steal_share'))} of the CPU time (main {_percent(m.get('steal_share'))})")
    print(f"GEMM peak GFLOP/s: numpy BLAS {res['gemm_peak_gflops']}, MKL {res.get('mkl_gemm_peak_gflops')}, "
          f"XLA (32×1000)·(1000×1000) "
          f"{res.get('xla_gemm_gflops', float('nan')):.1f} on {res.get('cpus_used')} CPU(s)")
    for name in ("main", "tiny", "tall"):
        p = res[name]
        print(f"{name:5s} " + "  ".join(f"{k}={v:,.0f}" for k, v in p["rate"].items())
              + f"  eoscheck/best JAX = {p.get('ratio_vs_best_jax', float('nan')):.2f}"
              + (f" (median repetitions {p['ratio_vs_best_jax_median']:.2f})" if "ratio_vs_best_jax_median" in p else ""))
    print(f"single thread: {res.get('single_thread')}")
    if "roofline_share_interleaved" in m:
        print(f"main: roofline share {m['roofline_share_interleaved']:.0%} of the best library GEMM peak measured in the "
              f"runs' rotation ({max(m['interleaved_gemm_peak_gflops'].values()):.0f} GFLOP/s)")
    print(f"main: roofline share {m['roofline_share']:.0%} of the best library GEMM peak ({m['threads_used']} threads used; "
          f"1-thread run vs 1-thread peak {m['roofline_share_1thread']:.0%}); "
          f"{m.get('roofline_share_best_gemm', float('nan')):.0%} of the best measured GEMM (XLA's)")
    if "share_of_products_only" in m:
        print(f"main: the engine's products alone {m['rate']['products_only']:,.0f}/s "
              f"({m.get('products_only_ratio_vs_best_jax', float('nan')):.2f}× the best JAX: the ceiling of a step on "
              f"them); the whole engine runs at {m['share_of_products_only']:.0%} of it")
    b = res.get("busy")
    if b is None:
        return
    print(f"busy: default/1-thread speed {b['ratio_default_to_1thread']:.2f} (default chose {b['default_threads']}), "
          f"2-thread/1-thread {b['ratio_2threads_to_1thread']:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--from-json")
    ap.add_argument("--single-thread", action="store_true")
    args = ap.parse_args(argv)
    if args.single_thread:   # before jax is imported
        global SINGLE
        SINGLE = True
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})   # one core for every thread
        # (XLA has no thread-count flag of its own: the pinning to one CPU above is what holds it to one core)
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()
    if args.from_json:
        report(json.loads(Path(args.from_json).read_text()))
        return 0
    res = gpu(args) if args.device == "cuda" else cpu(args)
    if args.device != "cuda":
        report(res)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of eoscheck's batched GD engine (issue 8), all numbers from one run on one machine.

    python benchmarks/bench_gd.py [--quick] [--out FILE.json] [--skip-suites]
    python benchmarks/bench_gd.py --device cuda [--out FILE.json]

CPU sections:
  1. the float64 GEMM peak (a large square product, numpy/OpenBLAS and torch/MKL, best of both);
  2. linear logistic GD, n = 1000, d = 784 (synthetic separable), 32 stepsizes, 2000 steps:
     the engine (``run_gd``) vs a plain per-stepsize torch loop and a plain numpy loop (manual
     gradient), in stepsize-steps per second, with the engine's share of the roofline
     (GEMM peak / flops per stepsize-step of the cheaper form, min(4nd, 2n²));
  3. a small problem, n = 20, d = 5, 10⁴ steps, one stepsize: µs per step;
  4. the NTK network (width 1024, n = 1000, d = 784): steps per second;
  5. wall time of ``EOSCHECK_PROFILE=ci pytest -q properties/`` and ``eoscheck report --quick``.
GPU (``--device cuda``): the GPU's float64 GEMM peak and the engine on n = 10⁵, d = 784,
64 stepsizes: time per step and share of that peak (plus the reference engine, for scale).

Timings are the best of a few repetitions (the machine may be shared); the load average is
recorded next to them.  A plain loop's rate is that of its fastest stepsize.  Prints tabulate tables and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from tabulate import tabulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eoscheck.datasets import synthetic  # noqa: E402
from eoscheck.gd import run_gd  # noqa: E402


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def best_time(fn, reps: int = 3, sync=None) -> float:
    """Best wall time of ``reps`` calls (after one warm-up call inside the first rep's budget)."""
    best = float("inf")
    for _ in range(reps):
        if sync:
            sync()
        t = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, time.perf_counter() - t)
    return best


def machine() -> dict:
    info = {"platform": platform.platform(), "python": sys.version.split()[0], "numpy": np.__version__,
            "torch": torch.__version__, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        keep = ("Model name", "Vendor ID", "CPU(s)", "Thread(s) per core", "Core(s) per socket", "L1d cache",
                "L2 cache", "L3 cache", "Hypervisor vendor")
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in keep:
                info[key.strip()] = val.strip()
        flags = next((ln for ln in out.splitlines() if ln.startswith("Flags")), "")
        info["avx512f"] = "avx512f" in flags
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: v for k, v in d.items() if k in ("internal_api", "num_threads", "architecture",
                                                             "version")} for d in threadpool_info()]
    except Exception:
        pass
    info["mkl"] = torch.backends.mkl.is_available()
    return info


def load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def gemm_peak(device: str, size: int, reps: int = 3) -> dict:
    """GFLOP/s of a size³ float64 product: numpy (CPU only) and torch; ``peak`` is the better."""
    out = {"size": size}
    flops = 2.0 * size**3
    rng = np.random.default_rng(0)
    if device == "cpu":
        A, B = rng.standard_normal((size, size)), rng.standard_normal((size, size))
        C = np.empty((size, size))
        np.matmul(A, B, out=C)
        out["numpy_gflops"] = flops / best_time(lambda: np.matmul(A, B, out=C), reps) / 1e9
        At, Bt, Ct = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)
        torch.matmul(At, Bt, out=Ct)
        out["torch_gflops"] = flops / best_time(lambda: torch.matmul(At, Bt, out=Ct), reps) / 1e9
        out["peak_gflops"] = max(out["numpy_gflops"], out["torch_gflops"])
    else:
        dev = torch.device(device)
        At = torch.randn(size, size, dtype=torch.float64, device=dev)
        Bt = torch.randn(size, size, dtype=torch.float64, device=dev)
        Ct = torch.empty_like(At)
        torch.matmul(At, Bt, out=Ct)
        sync = torch.cuda.synchronize
        out["torch_gflops"] = flops / best_time(lambda: torch.matmul(At, Bt, out=Ct), reps, sync) / 1e9
        out["peak_gflops"] = out["torch_gflops"]
        out["gpu"] = torch.cuda.get_device_name(dev)
    return out


# --------------------------------------------------------------------------------------
# plain loops: one stepsize at a time, manual gradient (no autograd), loss recorded per step
# --------------------------------------------------------------------------------------


def torch_loop(Z: torch.Tensor, eta: float, steps: int) -> torch.Tensor:
    """GD on the logistic loss as a researcher would write it in torch."""
    n = Z.shape[0]
    w = torch.zeros(Z.shape[1], dtype=Z.dtype, device=Z.device)
    losses = torch.empty(steps + 1, dtype=Z.dtype, device=Z.device)
    for t in range(steps + 1):
        m = Z @ w
        losses[t] = torch.nn.functional.softplus(-m).mean()
        if t == steps:
            break
        grad = Z.T @ (-torch.sigmoid(-m)) / n          # (1/n) Σ ℓ′(mᵢ) zᵢ
        w = w - eta * grad
    return losses


def numpy_loop(Z: np.ndarray, eta: float, steps: int) -> np.ndarray:
    """The same in numpy."""
    from scipy.special import expit

    n = Z.shape[0]
    w = np.zeros(Z.shape[1])
    losses = np.empty(steps + 1)
    for t in range(steps + 1):
        m = Z @ w
        losses[t] = np.logaddexp(0.0, -m).mean()
        if t == steps:
            break
        grad = Z.T @ (-expit(-m)) / n
        w = w - eta * grad
    return losses


# --------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------


def linear_section(n: int, d: int, K: int, steps: int, peak: float, baseline_etas: int, reps: int,
                   device: str = "cpu", reference_steps: int = 50) -> dict:
    data = synthetic(n, d, 0.05, seed=0)
    w_star = np.asarray(data.meta["w_star"])  # known by construction: skip the max-margin solve
    etas = np.geomspace(0.1, 100.0, K)
    flops = min(4.0 * n * d, 2.0 * n * n)
    res = {"n": n, "d": d, "K": K, "steps": steps, "device": device, "flops_per_stepsize_step": flops,
           "roofline_stepsize_steps_per_s": peak * 1e9 / flops}
    sync = torch.cuda.synchronize if device != "cpu" else None

    def engine(method="auto", T=steps, ks=etas):
        return run_gd(data, "logistic", ks, T, w_star=w_star, device=device, method=method)

    engine(T=10)  # warm-up (imports, allocations)
    traj = None
    rows = {}
    short = max(1, steps // 10)
    for method in ("auto",) + (("primal", "gram") if device == "cpu" else ()):
        holder = {}
        t = best_time(lambda: holder.setdefault("tr", engine(method)), reps, sync)
        t_short = best_time(lambda: engine(method, short), reps, sync)
        traj = holder["tr"] if method == "auto" else traj
        rows[method] = {"time_s": t, "stepsize_steps_per_s": K * steps / t,
                        "marginal_ms_per_step": (t - t_short) / (steps - short) * 1e3,
                        "setup_s": t - steps * (t - t_short) / (steps - short),
                        "engine": holder["tr"].provenance["engine"]}
    res["engine"] = rows["auto"]
    res["engine_variants"] = {m: rows[m] for m in rows if m != "auto"}
    # CPU: the whole call (setup included, conservative); GPU: the marginal cost of a step, since
    # the setup there is dominated by hashing and copying the 627 MB data set, not by GD
    if device == "cpu":
        rate = rows["auto"]["stepsize_steps_per_s"]
        res["time_per_step_ms"] = rows["auto"]["time_s"] / steps * 1e3
    else:
        res["time_per_step_ms"] = rows["auto"]["marginal_ms_per_step"]
        rate = K / (res["time_per_step_ms"] / 1e3)
    res["rate_used"] = rate
    res["engine_gflops"] = rate * flops / 1e9
    res["share_of_roofline"] = rate / res["roofline_stepsize_steps_per_s"]
    if device == "cpu":
        # the same run recording ~512 log-spaced steps (the trackers stay exact)
        t = best_time(lambda: run_gd(data, "logistic", etas, steps, w_star=w_star, grid="log"), reps)
        res["engine_log_grid"] = {"stepsize_steps_per_s": K * steps / t,
                                  "share_of_roofline": K * steps / t / res["roofline_stepsize_steps_per_s"]}
        res["thin_gemm_ceiling"] = thin_gemm_ceiling(data, K, res["roofline_stepsize_steps_per_s"], reps)

    # the reference engine (per-step torch, every record), a few steps for scale
    t = best_time(lambda: engine("reference", reference_steps), 1, sync)
    res["reference_engine"] = {"steps": reference_steps, "stepsize_steps_per_s": K * reference_steps / t}

    # plain loops, one stepsize at a time; each loop is timed on its own and the fastest one sets
    # the baseline rate (the cost of a loop does not depend on η; the best time favours the baseline)
    sub = etas[np.linspace(0, K - 1, min(baseline_etas, K)).round().astype(int)]
    Zt = torch.as_tensor(data.Z, device=device)
    base = {}
    for threads in sorted({torch.get_num_threads(), 1}, reverse=True):
        old = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            t = min(best_time(lambda: torch_loop(Zt, float(e), steps), 1, sync) for e in sub)
        finally:
            torch.set_num_threads(old)
        base[f"torch_loop_{threads}thr"] = steps / t
    res["torch_loop"] = {"stepsize_steps_per_s": max(base.values()), "variants": base,
                         "etas_measured": len(sub)}
    if device == "cpu":
        Z = np.ascontiguousarray(data.Z)
        t = min(best_time(lambda: numpy_loop(Z, float(e), steps), 1) for e in sub)
        res["numpy_loop"] = {"stepsize_steps_per_s": steps / t, "etas_measured": len(sub)}
        # the plain loops compute the same GD: their losses match the engine's
        ref_loss = numpy_loop(Z, float(etas[0]), min(steps, 200))
        res["check_max_rel_diff_vs_numpy_loop"] = float(np.max(np.abs(traj.loss[0, :len(ref_loss)] - ref_loss)
                                                               / ref_loss))
    res["ratio_vs_torch_loop"] = rate / res["torch_loop"]["stepsize_steps_per_s"]
    if "numpy_loop" in res:
        res["ratio_vs_numpy_loop"] = rate / res["numpy_loop"]["stepsize_steps_per_s"]
    return res


def thin_gemm_ceiling(data, K: int, roofline: float, reps: int) -> dict:
    """The engine's GEMM alone: (K × n)·(n × n/2) on one thread, one per core, nothing else.

    An upper bound for the gram engine with its points split in two parts on two cores."""
    from threadpoolctl import threadpool_limits

    from eoscheck._fastgd import _torch_matmul, default_gemm

    n = data.n
    Kmat = data.Z @ data.Z.T
    half = np.ascontiguousarray(Kmat[:, : n // 2])
    S = np.random.default_rng(0).random((K, n))
    D = np.empty((K, n // 2))
    mm = _torch_matmul if default_gemm() == "mkl" else np.matmul
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1, "blas"):
            mm(S, half, out=D)
            t = best_time(lambda: [mm(S, half, out=D) for _ in range(200)], reps) / 200
    finally:
        torch.set_num_threads(old)
    rate = K / t
    return {"gemm_us": t * 1e6, "stepsize_steps_per_s": rate, "share_of_roofline": rate / roofline}


def small_section(steps: int, reps: int) -> dict:
    data = synthetic(20, 5, 0.1, seed=0)
    run_gd(data, "logistic", [1.0], 100)
    holder = {}
    t = best_time(lambda: holder.setdefault("tr", run_gd(data, "logistic", [1.0], steps)), reps)
    t_ref = best_time(lambda: run_gd(data, "logistic", [1.0], min(steps, 2000), method="reference"), 1)
    return {"n": 20, "d": 5, "K": 1, "steps": steps, "us_per_step": t / steps * 1e6,
            "engine": holder["tr"].provenance["engine"],
            "reference_us_per_step": t_ref / min(steps, 2000) * 1e6}


def ntk_section(steps: int) -> dict:
    try:
        from eoscheck.networks import run_ntk
    except ImportError as exc:
        return {"skipped": f"eoscheck.networks.run_ntk not available ({exc})"}
    data = synthetic(1000, 784, 0.05, seed=0)
    t = time.perf_counter()
    traj = run_ntk(data, "logistic", [1.0], steps, width=1024)
    total = time.perf_counter() - t
    train = float(traj.provenance.get("wall_time_s", total))
    return {"width": 1024, "n": 1000, "d": 784, "K": 1, "steps": steps, "steps_per_s": (steps + 1) / train,
            "train_time_s": train, "call_time_s": total}


def suite_section(timeout: int) -> dict:
    out = {}
    env = dict(os.environ, EOSCHECK_PROFILE="ci")
    props = ROOT / "properties"
    if props.is_dir() and any(props.glob("test_*.py")):
        t = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "properties/"],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
            tail = (r.stdout.strip().splitlines() or [""])[-1]
            out["ci_properties"] = {"wall_s": time.perf_counter() - t, "exit": r.returncode, "summary": tail}
        except subprocess.TimeoutExpired:
            out["ci_properties"] = {"wall_s": None, "summary": f"timed out after {timeout} s"}
    else:
        out["ci_properties"] = {"wall_s": None, "summary": "not available yet"}
    if (ROOT / "eoscheck" / "commands" / "report.py").is_file():
        tmp = tempfile.mkdtemp(prefix="eoscheck-bench-report-")
        t = time.perf_counter()
        try:
            r = subprocess.run([sys.executable, "-m", "eoscheck", "report", "--quick", "--out", tmp, "--no-cache",
                                "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
            tail = (r.stdout.strip().splitlines() or [""])[-1]
            out["report_quick"] = {"wall_s": time.perf_counter() - t, "exit": r.returncode, "summary": tail[:200]}
        except subprocess.TimeoutExpired:
            out["report_quick"] = {"wall_s": None, "summary": f"timed out after {timeout} s"}
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    else:
        out["report_quick"] = {"wall_s": None, "summary": "not available yet"}
    return out


# --------------------------------------------------------------------------------------
# printing
# --------------------------------------------------------------------------------------


def fmt(x, spec=",.0f"):
    return "—" if x is None else format(x, spec)


def print_cpu(res: dict) -> None:
    m, g, lin, sm, ntk, su = (res[k] for k in ("machine", "gemm", "linear", "small", "ntk", "suites"))
    print(f"\nmachine: {m.get('Model name', '?')}, {m.get('CPU(s)', '?')} CPUs, "
          f"L2 {m.get('L2 cache', '?')}, L3 {m.get('L3 cache', '?')}; load average {res['load_before']} → "
          f"{res['load_after']}")
    rows = [["1", "float64 GEMM peak", f"{g['size']}³: numpy {g['numpy_gflops']:.1f}, torch {g['torch_gflops']:.1f}",
             f"{g['peak_gflops']:.1f} GFLOP/s"]]
    eng = lin["engine"]["engine"]
    how = {"columns": "point parts in processes", "rows": "stepsize blocks in threads"}.get(eng.get("split"), "")
    tag = f"{eng['method']}, {eng['threads']} × {how}, {eng.get('gemm', '')}" if eng["threads"] > 1 else \
        f"{eng['method']}, {eng.get('gemm', '')}"
    rows += [
        ["2", f"engine ({tag})", f"n={lin['n']} d={lin['d']} K={lin['K']} T={lin['steps']}",
         f"{fmt(lin['engine']['stepsize_steps_per_s'])} stepsize-steps/s ({lin['time_per_step_ms']:.2f} ms/step)"],
    ]
    for name, v in lin["engine_variants"].items():
        rows.append(["2", f"engine, method={name}", "", f"{fmt(v['stepsize_steps_per_s'])} stepsize-steps/s"])
    rows += [
        ["2", "plain torch loop (per stepsize)", f"fastest of {lin['torch_loop']['etas_measured']} stepsizes",
         f"{fmt(lin['torch_loop']['stepsize_steps_per_s'])} stepsize-steps/s"],
        ["2", "plain numpy loop (per stepsize)", f"fastest of {lin['numpy_loop']['etas_measured']} stepsizes",
         f"{fmt(lin['numpy_loop']['stepsize_steps_per_s'])} stepsize-steps/s"],
        ["2", "reference engine (method='reference')", f"{lin['reference_engine']['steps']} steps",
         f"{fmt(lin['reference_engine']['stepsize_steps_per_s'])} stepsize-steps/s"],
        ["2", "engine / torch loop", "target ≥ 10×", f"{lin['ratio_vs_torch_loop']:.1f}×"],
        ["2", "engine / numpy loop", "", f"{lin['ratio_vs_numpy_loop']:.1f}×"],
        ["2", "roofline", f"peak / {lin['flops_per_stepsize_step']:.3g} flops",
         f"{fmt(lin['roofline_stepsize_steps_per_s'])} stepsize-steps/s"],
        ["2", "engine share of roofline", "target ≥ 60%",
         f"{100 * lin['share_of_roofline']:.0f}% ({lin['engine_gflops']:.1f} GFLOP/s)"],
        ["2", "engine, grid='log'", "~512 recorded steps",
         f"{fmt(lin['engine_log_grid']['stepsize_steps_per_s'])} stepsize-steps/s "
         f"({100 * lin['engine_log_grid']['share_of_roofline']:.0f}%)"],
        ["2", "its GEMMs alone (ceiling)", f"({lin['K']}×{lin['n']})·({lin['n']}×{lin['n'] // 2}) per core",
         f"{lin['thin_gemm_ceiling']['gemm_us']:.0f} µs = {fmt(lin['thin_gemm_ceiling']['stepsize_steps_per_s'])} "
         f"stepsize-steps/s ({100 * lin['thin_gemm_ceiling']['share_of_roofline']:.0f}%)"],
        ["3", "small problem", f"n=20 d=5 K=1 T={sm['steps']}; target ≤ 30 µs",
         f"{sm['us_per_step']:.1f} µs/step (reference {sm['reference_us_per_step']:.0f})"],
    ]
    if "skipped" in ntk:
        rows.append(["4", "NTK network m=1024 n=1000 d=784", "skipped", ntk["skipped"]])
    else:
        rows.append(["4", "NTK network m=1024 n=1000 d=784", f"T={ntk['steps']}", f"{ntk['steps_per_s']:.1f} steps/s"])
    for key, label in (("ci_properties", "EOSCHECK_PROFILE=ci pytest -q properties/"),
                       ("report_quick", "eoscheck report --quick")):
        v = su.get(key, {"wall_s": None, "summary": "skipped (--skip-suites)"})
        rows.append(["5", label, v.get("summary", "")[:60], "not available yet" if v["wall_s"] is None and
                     "not available" in v.get("summary", "") else fmt(v["wall_s"], ".1f") + " s"])
    print(tabulate(rows, headers=["#", "what", "setting", "result"]))


def print_gpu(res: dict) -> None:
    g, lin = res["gemm"], res["linear"]
    eng = lin["engine"]
    rows = [
        ["float64 GEMM peak", f"{g['gpu']}, {g['size']}³", f"{g['peak_gflops']:.0f} GFLOP/s"],
        [f"engine ({eng['engine']['method']}, torch)", f"n={lin['n']} d={lin['d']} K={lin['K']} T={lin['steps']}",
         f"{lin['time_per_step_ms']:.2f} ms/step (marginal), {fmt(lin['rate_used'])} stepsize-steps/s"],
        ["engine, whole call", f"setup {eng['setup_s']:.1f} s (hash, copy)", f"{eng['time_s']:.1f} s"],
        ["engine share of GPU float64 peak", f"{lin['flops_per_stepsize_step']:.3g} flops/stepsize-step",
         f"{100 * lin['share_of_roofline']:.0f}% ({lin['engine_gflops']:.0f} GFLOP/s)"],
        ["reference engine", f"{lin['reference_engine']['steps']} steps",
         f"{fmt(lin['reference_engine']['stepsize_steps_per_s'])} stepsize-steps/s"],
        ["plain torch loop (per stepsize)", f"fastest of {lin['torch_loop']['etas_measured']} stepsizes",
         f"{fmt(lin['torch_loop']['stepsize_steps_per_s'])} stepsize-steps/s"],
        ["engine / torch loop", "", f"{lin['ratio_vs_torch_loop']:.1f}×"],
    ]
    print(tabulate(rows, headers=["what", "setting", "result"]))


# --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    ap.add_argument("--out", help="write the results as JSON to this file")
    ap.add_argument("--quick", action="store_true", help="fewer steps and repetitions (a smoke run)")
    ap.add_argument("--skip-suites", action="store_true", help="do not time the property suite and the report")
    ap.add_argument("--suite-timeout", type=int, default=3600, help="seconds allowed per suite (default 3600)")
    ap.add_argument("--steps", type=int, help="GD steps of section 2 (default 2000; GPU 200)")
    ap.add_argument("--from-json", metavar="FILE", help="print the tables of a saved result and exit")
    args = ap.parse_args(argv)
    if args.from_json:
        res = json.loads(Path(args.from_json).read_text())
        (print_gpu if "gpu" in res["gemm"] else print_cpu)(res)
        return 0

    res = {"machine": machine(), "load_before": load(), "argv": sys.argv[1:],
           "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    quick = args.quick
    reps = 1 if quick else 5
    if args.device == "cpu":
        res["gemm"] = gemm_peak("cpu", 2000 if quick else 4000, reps)
        steps = args.steps or (200 if quick else 2000)
        res["linear"] = linear_section(1000, 784, 32, steps, res["gemm"]["peak_gflops"], 4 if quick else 32, reps)
        res["small"] = small_section(2000 if quick else 10_000, reps)
        res["ntk"] = ntk_section(5 if quick else 20)
        res["suites"] = {} if args.skip_suites else suite_section(args.suite_timeout)
        res["load_after"] = load()
        print_cpu(res)
    else:
        if not torch.cuda.is_available():
            print("--device cuda: torch sees no CUDA device", file=sys.stderr)
            return 2
        res["gemm"] = gemm_peak(args.device, 8192, 3)
        steps = args.steps or (50 if quick else 200)
        res["linear"] = linear_section(100_000, 784, 64, steps, res["gemm"]["peak_gflops"], 2, reps,
                                       device=args.device, reference_steps=20)
        res["load_after"] = load()
        print_gpu(res)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2, default=str))
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Metric core vs the per-sample loop of the paper's code, measured in one run.

Baseline (as the authors' code does it): for every input, the Jacobian by
``torch.autograd.functional.jacobian`` and a full ``torch.linalg.svd``; then tau1/tau2
from the stacked singular vectors. Ours: ``input_jacobians`` (d backward passes per batch)
and the d x d Gram eigendecomposition in ``adversarial_transferability``.

Case (c), the synthetic sweep workload (10 sources, N = 5000, n = 50, d = 10):
every Figure-2 quantity of ``synthetic.experiment.sweep_point`` (tau1, tau2, alpha, both
lambdas, G, the Theorem 2 / 3 bounds, the transferred losses) for 10 sources against one
target, by (i) a per-sample loop (per point: both Jacobians by
``torch.autograd.functional.jacobian``, a full SVD of each, and G from an SVD of
``J_T - A J_S`` per point), (ii) ``sweep_point`` as ``scripts/synthetic/sweep.py`` runs it
(closed-form batched Jacobians of the sigmoid MLPs, the d x d Gram routes with their
eigendecompositions spread over the threads, the target's Jacobians and singular
structure computed once for the 10 sources) and (iii) the matrix-free path
(``adversarial_transferability_matrix_free`` with G). The loop runs on
``--loop-sources`` of the 10 sources and is scaled to 10 (it is linear in them). All
three run in one process with glibc's freed memory kept in it
(``advtransfer.jobs.retain_freed_memory``, as the sweep script does).

Usage: python benchmarks/bench_tau.py [--repeats 3] [--threads 2] [--case all|ab|c]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from advtransfer.core import theory
from advtransfer.core.matrixfree import adversarial_transferability_matrix_free
from advtransfer.core.tau import adversarial_transferability, affine_map, input_jacobians
from advtransfer.jobs import retain_freed_memory
from advtransfer.synthetic import experiment
from advtransfer.synthetic.experiment import SigmoidMLP


def per_sample_loop(source: nn.Module, target: nn.Module, x: torch.Tensor) -> dict[str, float]:
    vs, vt, js_all, jt_all = [], [], [], []
    for xi in x:
        js = torch.autograd.functional.jacobian(lambda z: source(z.unsqueeze(0))[0], xi)
        jt = torch.autograd.functional.jacobian(lambda z: target(z.unsqueeze(0))[0], xi)
        js, jt = js.reshape(js.shape[0], -1), jt.reshape(jt.shape[0], -1)
        _, _, vh_s = torch.linalg.svd(js)
        _, _, vh_t = torch.linalg.svd(jt)
        vs.append(vh_s[0])
        vt.append(vh_t[0])
        js_all.append(js)
        jt_all.append(jt)
    vs, vt = torch.stack(vs), torch.stack(vt)
    js_all, jt_all = torch.stack(js_all), torch.stack(jt_all)
    tau1 = (vs * vt).sum(1).pow(2).mean()
    ds = (js_all @ vs.unsqueeze(-1)).squeeze(-1)
    dt = (jt_all @ vs.unsqueeze(-1)).squeeze(-1)
    a, _, _ = affine_map(ds, dt)
    tau2 = 1 - (dt - ds @ a.T).pow(2).sum(1).mean() / dt.pow(2).sum(1).mean()
    return {"tau1": float(tau1), "tau2": float(tau2)}


def metric_core(source: nn.Module, target: nn.Module, x: torch.Tensor) -> dict[str, float]:
    res = adversarial_transferability(input_jacobians(source, x), input_jacobians(target, x))
    return {"tau1": float(res["tau1"]), "tau2": float(res["tau2"])}


def small_cnn(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10),
    ).eval()


def timed(fn, repeats: int):
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


SWEEP_KEYS = ("tau1", "tau2", "alpha", "lambda_source", "lambda_target", "grad_diff",
              "thm2_bound", "thm2_bound_worst_case", "thm3_bound")


def sweep_loop(source, target, x, y, input_scale) -> dict[str, float]:
    """Every sweep quantity the per-sample way: Jacobian + SVD per point, then G per point."""
    js_all, jt_all, vs, vt, ss, st = [], [], [], [], [], []
    for xi in x:
        js = torch.autograd.functional.jacobian(lambda z: source(z.unsqueeze(0))[0], xi)
        jt = torch.autograd.functional.jacobian(lambda z: target(z.unsqueeze(0))[0], xi)
        _, s_s, vh_s = torch.linalg.svd(js)
        _, s_t, vh_t = torch.linalg.svd(jt)
        js_all.append(js), jt_all.append(jt), vs.append(vh_s[0]), vt.append(vh_t[0])
        ss.append(s_s[:2]), st.append(s_t[:2])
    js_all, jt_all = torch.stack(js_all), torch.stack(jt_all)
    vs, vt, ss, st = torch.stack(vs), torch.stack(vt), torch.stack(ss), torch.stack(st)
    tau1_ps = (vs * vt).sum(1).pow(2)
    ds = (js_all @ vs.unsqueeze(-1)).squeeze(-1)
    dt = (jt_all @ vs.unsqueeze(-1)).squeeze(-1)
    a, _, _ = affine_map(ds, dt)
    tgt_sq = dt.pow(2).sum(1).mean()
    res = {
        "tau1": tau1_ps.mean(), "tau1_per_sample": tau1_ps,
        "tau2": 1 - (dt - ds @ a.T).pow(2).sum(1).mean() / tgt_sq,
        "alpha": tgt_sq / st[:, 0].pow(2).mean(), "A": a,
        "lambda_source_per_sample": ss[:, 1] / ss[:, 0],
        "lambda_target_per_sample": st[:, 1] / st[:, 0],
        "sigma1_source": ss[:, 0], "sigma1_target": st[:, 0],
    }
    res["lambda_source"] = res["lambda_source_per_sample"].max()
    res["lambda_target"] = res["lambda_target_per_sample"].max()
    g = torch.stack([torch.linalg.svd(jt - a @ js)[1][0] ** 2
                     for js, jt in zip(js_all, jt_all)]).mean()
    return _bounds(res, g, source, target, x, y, input_scale)


def _bounds(res, g, source, target, x, y, input_scale) -> dict[str, float]:
    with torch.no_grad():
        target_resid = target(x) - y
    c2 = input_scale**2
    beta = max(source.beta, target.beta) * c2
    out = {key: float(res[key]) for key in SWEEP_KEYS[:5]}
    out.update(grad_diff=float(g), thm2_bound=float(theory.theorem2_bound(res)),
               thm2_bound_worst_case=float(theory.theorem2_bound_worst_case(res)),
               thm3_bound=float(theory.theorem3_bound(target_resid, g * c2, res, beta)),
               transferred_loss=experiment.refit_last_layer_loss(source, x, y))
    return out


def sweep_matrix_free(source, target, x, y, input_scale) -> dict[str, float]:
    res = adversarial_transferability_matrix_free(source, target, x, batch_size=x.shape[0],
                                                  with_gradient_difference=True)
    out = _bounds(res, res["grad_diff"], source, target, x, y, input_scale)
    out["n_not_converged"] = int(res["n_not_converged"]) + int(res["n_not_converged_grad_diff"])
    return out


def case_c(args) -> None:
    """Case (c): the synthetic sweep workload, 10 sources, N = 5000, n = 50, d = 10."""
    data = experiment.make_rbf_data(n_samples=5000, input_dim=50, output_dim=10, seed=0)
    x, y = data.x, data.y
    torch.manual_seed(0)
    target = SigmoidMLP(50, 100, 10).double().eval()
    direction = experiment.random_direction(target, seed=1)
    sources = [experiment.perturbed(target, direction, t) for t in torch.linspace(0, 1, 10)]
    scale = experiment.input_scale_for(x)
    n_loop = max(1, min(args.loop_sources, len(sources)))
    start = time.perf_counter()
    loop = [sweep_loop(s, target, x, y, scale) for s in sources[:n_loop]]
    t_loop = (time.perf_counter() - start) * len(sources) / n_loop
    def batched_sweep():  # as scripts/synthetic/sweep.py: the target's terms once per sweep
        terms = experiment.target_terms(target, x)
        return [experiment.sweep_point(s, target, x, y, scale, terms=terms) for s in sources]

    t_core, core = timed(batched_sweep, args.repeats)
    t_mf, mf = timed(lambda: [sweep_matrix_free(s, target, x, y, scale) for s in sources], 1)
    diff_core = max(abs(a[k] - b[k]) / max(abs(a[k]), 1e-12) if k.startswith("thm") or
                    k == "grad_diff" else abs(a[k] - b[k])
                    for a, b in zip(loop, core) for k in SWEEP_KEYS)
    diff_mf = max(abs(a[k] - b[k]) / max(abs(a[k]), 1e-12) if k.startswith("thm") or
                  k == "grad_diff" else abs(a[k] - b[k])
                  for a, b in zip(core, mf) for k in SWEEP_KEYS)
    n_bad = sum(r["n_not_converged"] for r in mf)
    print(f"\ncase (c): synthetic sweep, 10 sources, N=5000, n=50, d=10, float64 "
          f"(loop timed on {n_loop} source(s), scaled to 10)")
    print(f"{'method':34s} {'time s':>9s} {'ratio':>8s} {'max diff':>9s}")
    print(f"{'per-sample Jacobian + SVD loop':34s} {t_loop:9.2f} {1.0:8.1f} {'-':>9s}")
    print(f"{'sweep_point (batched, Gram)':34s} {t_core:9.3f} {t_loop / t_core:8.1f} "
          f"{diff_core:9.1e}")
    print(f"{'matrix-free (+G), vs sweep_point':34s} {t_mf:9.3f} {t_loop / t_mf:8.1f} "
          f"{diff_mf:9.1e}  not converged: {n_bad}")
    print("max diff: |difference| of tau1/tau2/alpha/lambda, relative for G and the bounds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", choices=("all", "ab", "c"), default="all")
    parser.add_argument("--loop-sources", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if retain_freed_memory():  # as scripts/synthetic/sweep.py; the same for every method
        print("glibc: freed memory kept in the process (advtransfer.jobs.retain_freed_memory)")
    if args.case == "c":
        case_c(args)
        return
    cases = []
    torch.manual_seed(0)
    mlp_s, mlp_t = SigmoidMLP(30, 100, 10).eval(), SigmoidMLP(30, 100, 10).eval()
    cases.append(("synthetic MLP 30-100-10, N=1200", mlp_s, mlp_t, torch.randn(1200, 30)))
    cases.append(("CNN 1x8x8 -> 10, N=1000", small_cnn(1), small_cnn(2), torch.rand(1000, 1, 8, 8)))
    print(f"torch {torch.__version__}, {args.threads} threads, best of {args.repeats}")
    header = f"{'case':36s} {'loop s':>9s} {'core s':>9s} {'ratio':>7s} {'|dtau1|':>9s} {'|dtau2|':>9s}"
    print(header)
    print("-" * len(header))
    for name, s, t, x in cases:
        t_loop, loop = timed(lambda: per_sample_loop(s, t, x), max(1, args.repeats - 2))
        t_core, core = timed(lambda: metric_core(s, t, x), args.repeats)
        print(
            f"{name:36s} {t_loop:9.3f} {t_core:9.4f} {t_loop / t_core:7.1f} "
            f"{abs(loop['tau1'] - core['tau1']):9.2e} {abs(loop['tau2'] - core['tau2']):9.2e}"
        )
    if args.case == "all":
        case_c(args)


if __name__ == "__main__":
    main()

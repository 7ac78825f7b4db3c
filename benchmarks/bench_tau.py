"""Metric core vs the per-sample loop of the paper's code, measured in one run.

Baseline (as the authors' code does it): for every input, the Jacobian by
``torch.autograd.functional.jacobian`` and a full ``torch.linalg.svd``; then tau1/tau2
from the stacked singular vectors. Ours: ``input_jacobians`` (d backward passes per batch)
and the d x d Gram eigendecomposition in ``adversarial_transferability``.

Usage: python benchmarks/bench_tau.py [--repeats 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from advtransfer.core.tau import adversarial_transferability, affine_map, input_jacobians
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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


if __name__ == "__main__":
    main()

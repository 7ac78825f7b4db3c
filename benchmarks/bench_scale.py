"""Exact against matrix-free tau at scale: time, peak memory and agreement.

Every (case, method) runs in its own child process, so that its peak resident memory is
its own. The child builds its models and inputs and runs the same warm-up whatever the
method (a backward pass of each model and one matrix-free iteration on one point: lazy
imports, allocator pools), then resets the kernel's high-water mark (``5`` into
``/proc/self/clear_refs``, so ``VmHWM`` restarts at the current RSS) and reads the
baseline ``VmRSS``; after the computation ``VmHWM`` is the peak, and ``work = peak -
baseline`` is the memory the method itself needed (the ~0.9 GB of an imported torch and
the warm-up's own peak are in neither). Where the reset is refused the baseline is the
``VmHWM`` after the warm-up (an underestimate of small work).

Methods (float32, eval mode, same seeds so both see the same models and points):

* ``exact``: ``core.tau.input_jacobians`` (d backward passes per batch) for both models,
  then ``core.tau.adversarial_transferability``;
* ``matrix_free``: ``core.matrixfree.adversarial_transferability_matrix_free`` (defaults:
  block Krylov, block 2, tol 1e-4) with ``batch_size = --mf-batch`` (default 8; the
  library's default is 16): the matrix-free memory is one tiled batch of
  ``mf_batch * block`` rows of activations (kept for the VJP) plus the Krylov basis,
  whatever ``N`` and ``d``; the exact path's grows
  with ``N * d * n`` (both Jacobians plus a float64 block of ``top_singular``);
* ``matrix_free_b1`` (full run only): the same with ``block=1`` (single-vector Lanczos,
  fewer products; cannot see an exactly repeated sigma_1).

Cases: a ResNet-18 (CIFAR stem, 32x32) with a d-way head, d in {10, 100, 1000}, and a
small convolutional encoder-decoder with a 16x16 output map (d = 256); ``--quick`` uses
``resnet18w16_d1000``, the same ResNet-18 at a quarter of the width (16-32-64-128
channels) and the same 1000-way head, so that the exact path's 1000 backward passes per
model fit its time (its Jacobians, ``N x 1000 x 3072``, are as large as at full width).
``--cases a,b`` runs a subset of the plan (e.g. ``--cases resnet18_d1000``).

What is measured: ``time s`` is the computation alone (after model build and warm-up);
``peak MB`` the row's own peak RSS; ``work MB`` = peak RSS - RSS after model build and
warm-up (the increment: torch's ~0.9 GB import and the models are in neither path's
work); ``mem ratio`` = matrix-free work / exact work; ``speedup`` = exact time /
matrix-free time, both within one run.

Usage:
    python benchmarks/bench_scale.py [--quick] [--threads 2] [--mf-batch 8] [--cases ...]

``--quick`` (encdec16 at N = 4 and resnet18w16_d1000 at N = 16; about a minute on 2 idle
cores, at most 3 minutes) ends with exactly one line
``quick: speedup S memory_ratio M max_abs_diff D`` for its largest case (the narrow
ResNet-18, d = 1000): ``S`` = exact time / matrix-free time, ``M`` = matrix-free work /
exact work (peak RSS above the baseline), ``D`` = max |difference| of tau1, tau2, alpha,
lambda_S, lambda_T.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

KEYS = ("tau1", "tau2", "alpha", "lambda_source", "lambda_target")


def _status_mb(field: str) -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    return None


def vm_hwm_mb() -> float:
    """Peak resident set size of this process since start or the last reset, MB."""
    hwm = _status_mb("VmHWM")
    if hwm is not None:
        return hwm
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak_mb() -> float:
    """Reset ``VmHWM`` to the current RSS; return the baseline (MB) for ``peak - baseline``."""
    import gc

    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return vm_hwm_mb()  # no reset: the warm-up's peak is the baseline
    rss = _status_mb("VmRSS")
    return rss if rss is not None else vm_hwm_mb()


def narrow_resnet18(width: int, d: int):
    """ResNet-18, CIFAR stem, channels ``width * (1, 2, 4, 8)``, a d-way linear head."""
    from torch import nn

    from advtransfer.images.architectures import _BasicBlock

    layers = [nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    in_planes = width
    for mult, stride in ((1, 1), (2, 2), (4, 2), (8, 2)):
        layers += [_BasicBlock(in_planes, width * mult, stride),
                   _BasicBlock(width * mult, width * mult, 1)]
        in_planes = width * mult
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_planes, d)]
    return nn.Sequential(*layers)


def build_case(name: str, n_points: int, seed: int = 0):
    """``(source, target, x)`` for ``resnet18_d<d>``, ``resnet18w<width>_d<d>`` or ``encdec16``."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    if name.startswith("resnet18w"):
        width, d = name.removeprefix("resnet18w").split("_d")
        models = [narrow_resnet18(int(width), int(d)) for _ in range(2)]
    elif name.startswith("resnet18_d"):
        from advtransfer.images.architectures import build_model

        d = int(name.removeprefix("resnet18_d"))
        models = [build_model("resnet18_cifar", d, 3, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26])
                  for _ in range(2)]
    elif name == "encdec16":
        def encdec() -> nn.Module:
            return nn.Sequential(
                nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),      # 16x16
                nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),     # 8x8
                nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.ReLU(),  # 16x16
                nn.Conv2d(16, 1, 3, padding=1), nn.Flatten(),             # d = 256
            )

        models = [encdec() for _ in range(2)]
    else:
        raise ValueError(f"unknown case {name!r}")
    x = torch.rand(n_points, 3, 32, 32, generator=torch.Generator().manual_seed(seed + 1))
    return models[0].eval(), models[1].eval(), x


def child(case: str, method: str, n_points: int, threads: int, mf_batch: int) -> None:
    import torch

    torch.set_num_threads(threads)
    from advtransfer.core import tau
    from advtransfer.core.matrixfree import adversarial_transferability_matrix_free

    source, target, x = build_case(case, n_points)
    # warm-up, the same for every method: lazy imports (torch.func), allocator pools
    for model in (source, target):
        xw = x[:1].clone().requires_grad_(True)
        torch.autograd.grad(model(xw).sum(), xw)
    adversarial_transferability_matrix_free(source, target, x[:1], max_iters=1)
    setup = reset_peak_mb()
    start, cpu_start = time.perf_counter(), time.process_time()
    extra = {}
    if method == "exact":
        res = tau.adversarial_transferability(tau.input_jacobians(source, x),
                                              tau.input_jacobians(target, x))
    else:
        block = 1 if method == "matrix_free_b1" else None
        res = adversarial_transferability_matrix_free(source, target, x, block=block,
                                                      batch_size=mf_batch)
        extra = {"n_not_converged": int(res["n_not_converged"]),
                 "iters": float(torch.cat([res["iterations_source"],
                                           res["iterations_target"]]).float().mean())}
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak = vm_hwm_mb()
    out = {key: float(res[key]) for key in KEYS}
    out.update(seconds=seconds, cpu_s=cpu, setup_mb=setup, peak_mb=peak,
               work_mb=max(peak - setup, 0.0),
               d=int(res["delta_target"].shape[1]), **extra)
    print("RESULT " + json.dumps(out), flush=True)


def run_child(case: str, method: str, n_points: int, threads: int, mf_batch: int) -> dict:
    cmd = [sys.executable, __file__, "--child", case, method, str(n_points),
           "--threads", str(threads), "--mf-batch", str(mf_batch)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    raise RuntimeError(f"{case}/{method} failed:\n{proc.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mf-batch", type=int, default=8,
                        help="points per matrix-free batch (memory ~ mf_batch * block rows)")
    parser.add_argument("--cases", default="",
                        help="comma-separated subset of the plan's cases, e.g. resnet18_d1000")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "METHOD", "N"))
    args = parser.parse_args()
    if args.child:
        case, method, n_points = args.child
        child(case, method, int(n_points), args.threads, args.mf_batch)
        return
    if args.quick:
        plan = [("encdec16", 4), ("resnet18w16_d1000", 16)]
        methods = ("exact", "matrix_free")
    else:
        plan = [("encdec16", 32), ("resnet18_d10", 8), ("resnet18_d100", 8),
                ("resnet18_d1000", 8)]
        methods = ("exact", "matrix_free", "matrix_free_b1")
    if args.cases:
        plan = [(c, n) for c, n in plan if c in args.cases.split(",")]
    import torch

    print(f"torch {torch.__version__}, {args.threads} threads, float32, one process per row, "
          f"matrix-free batch {args.mf_batch}")
    print("peak MB = peak RSS of the row's process; work MB = peak RSS - RSS after the "
          "models, inputs and warm-up (mem ratio = matrix-free work / exact work)")
    header = (f"{'case':16s} {'N':>4s} {'d':>5s} {'method':15s} {'time s':>8s} {'cpu s':>8s} "
              f"{'speedup':>8s} "
              f"{'peak MB':>8s} {'work MB':>8s} {'mem ratio':>9s} {'max|diff|':>10s} "
              f"{'not conv':>8s} {'iters':>6s}")
    print(header)
    print("-" * len(header))
    last = None
    for case, n_points in plan:
        rows = {m: run_child(case, m, n_points, args.threads, args.mf_batch) for m in methods}
        ex = rows["exact"]
        for method, row in rows.items():
            if method == "exact":
                diff = speed = ratio = ""
            else:
                d = max(abs(row[k] - ex[k]) for k in KEYS)
                row["max_abs_diff"] = d
                row["speedup"] = ex["seconds"] / row["seconds"]
                row["memory_ratio"] = row["work_mb"] / max(ex["work_mb"], 1e-9)
                diff, speed = f"{d:10.2e}", f"{row['speedup']:8.2f}"
                ratio = f"{row['memory_ratio']:9.3f}"
            print(f"{case:16s} {n_points:4d} {row['d']:5d} {method:15s} {row['seconds']:8.2f} "
                  f"{row['cpu_s']:8.1f} "
                  f"{speed:>8s} {row['peak_mb']:8.0f} {row['work_mb']:8.0f} {ratio:>9s} "
                  f"{diff:>10s} {row.get('n_not_converged', '')!s:>8s} "
                  f"{(format(row['iters'], '.1f') if 'iters' in row else ''):>6s}", flush=True)
        last = rows["matrix_free"]
    if args.quick and last is not None:
        print(f"quick: speedup {last['speedup']:.2f} memory_ratio {last['memory_ratio']:.3f} "
              f"max_abs_diff {last['max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()

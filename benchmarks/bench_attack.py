"""PGD throughput and the wall time of the default distributions scenario, in one run.

Prints images per second of ``advtransfer.core.attacks.pgd_attack`` (10 steps, eps 0.1,
label-free CE) on the digits CNN (1x8x8) and on ResNet-18 with the CIFAR stem (3x32x32),
on the CPU and, where one is available, on a GPU; then runs the default `distributions`
scenario through Snakemake in a temporary directory and prints its wall time.

Usage: python benchmarks/bench_attack.py [--threads 2] [--skip-workflow]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

from advtransfer.core.attacks import pgd_attack
from advtransfer.images.architectures import build_model

REPO = Path(__file__).resolve().parents[1]


def throughput(arch: str, shape: tuple[int, ...], n: int, device: str, batch: int) -> float:
    torch.manual_seed(0)
    c = shape[0]
    model = build_model(arch, num_classes=4, in_channels=c, mean=[0.5] * c, std=[0.25] * c)
    model = model.to(device).eval()
    x = torch.rand(n, *shape, device=device)
    pgd_attack(model, x[:batch], eps=0.1, steps=2, batch_size=batch)  # warm-up
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    pgd_attack(model, x, eps=0.1, steps=10, batch_size=batch)
    if device == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - start)


def workflow_wall_time() -> float:
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["scenarios"] = ["distributions"]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.yaml").write_text(yaml.safe_dump(config))
        snakemake = str(Path(sys.executable).with_name("snakemake"))
        start = time.perf_counter()
        subprocess.run(
            [snakemake, "-s", str(REPO / "Snakefile"), "-d", tmp, "--cores", "2", "-q"],
            check=True, capture_output=True, env={**os.environ},
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-workflow", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, {args.threads} CPU threads; devices: {', '.join(devices)}")
    print(f"{'model':28s} {'device':6s} {'images/s':>10s}")
    for device in devices:
        gpu = device == "cuda"
        for arch, shape, n in (
            ("digits_cnn", (1, 8, 8), 4000 if gpu else 1000),
            ("resnet18_cifar", (3, 32, 32), 4000 if gpu else 64),
        ):
            rate = throughput(arch, shape, n, device, batch=500 if gpu else 64)
            print(f"{arch + ' ' + 'x'.join(map(str, shape)):28s} {device:6s} {rate:10.1f}")
    if not args.skip_workflow:
        print(f"default distributions scenario (Snakemake, 2 cores): {workflow_wall_time():.1f} s")


if __name__ == "__main__":
    main()

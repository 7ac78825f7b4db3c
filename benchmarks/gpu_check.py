"""CUDA against CPU for the numerical core, measured in one run on a machine with a GPU.

Every number is computed twice, on the CPU and on the first CUDA device, from the same
weights and inputs, and the script prints the differences and whether each is inside its
tolerance (float32 arithmetic in a different order, so exact equality is not expected):

* input Jacobians of the digits CNN and of ResNet-18 (CIFAR stem), relative error;
* tau1 / tau2 / alpha between two CNNs on the same points;
* PGD: the eps-ball and the [0, 1] box hold on CUDA, eps = 0 returns the input, the same
  seed repeats, and the cross adversarial loss agrees with the CPU's;
* training: a few epochs of the digits CNN reach similar validation accuracy;
* the ArcFace head keeps finite gradients at cos = +-1 on CUDA.

Exit status 1 when a check fails, 2 when no GPU is visible.

Usage: python benchmarks/gpu_check.py [--dry-run]
"""

from __future__ import annotations

import copy
import sys

import torch
import torch.nn.functional as F

from advtransfer.core.attacks import pgd_attack
from advtransfer.core.tau import adversarial_transferability, input_jacobians
from advtransfer.images.arcface import ArcFaceHead
from advtransfer.images.architectures import build_model
from advtransfer.images.datasets import load_digits_images
from advtransfer.images.training import train_classifier

FAILURES: list[str] = []


def report(name: str, value: float, limit: float) -> None:
    ok = value <= limit
    if not ok:
        FAILURES.append(name)
    print(f"{name:52s} {value:12.3e}  (limit {limit:.0e})  {'ok' if ok else 'FAIL'}")


def model(arch: str, channels: int, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build_model(arch, 10, channels, [0.5] * channels, [0.25] * channels).eval()


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def main() -> int:
    # --dry-run compares the CPU with itself: it checks this script, not a GPU
    if "--dry-run" in sys.argv:
        cuda = torch.device("cpu")
    elif not torch.cuda.is_available():
        print("no CUDA device visible; nothing to compare")
        return 2
    else:
        cuda = torch.device("cuda")
        print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    x_all, y_all = load_digits_images()
    x, y = torch.from_numpy(x_all[:256]), torch.from_numpy(y_all[:256])

    # Jacobians and tau
    for arch, shape in (("digits_cnn", (1, 8, 8)), ("resnet18_cifar", (3, 32, 32))):
        net = model(arch, shape[0], 0)
        xi = x[:32] if shape[0] == 1 else torch.rand(16, *shape, generator=torch.Generator().manual_seed(0))
        j_cpu = input_jacobians(net, xi)
        j_gpu = input_jacobians(copy.deepcopy(net).to(cuda), xi.to(cuda))
        report(f"input_jacobians {arch} float32 rel. error", rel(j_gpu, j_cpu), 1e-2)
        j_cpu = input_jacobians(net.double(), xi.double())
        j_gpu = input_jacobians(copy.deepcopy(net).to(cuda), xi.double().to(cuda))
        report(f"input_jacobians {arch} float64 rel. error", rel(j_gpu, j_cpu), 1e-10)
    src, ref = model("digits_cnn", 1, 1), model("digits_cnn", 1, 2)
    js, jt = input_jacobians(src, x[:128]), input_jacobians(ref, x[:128])
    t_cpu = adversarial_transferability(js.double(), jt.double())
    t_gpu = adversarial_transferability(js.double().to(cuda), jt.double().to(cuda))
    for key in ("tau1", "tau2", "alpha"):
        value_cpu = t_cpu[key].mean() if t_cpu[key].ndim else t_cpu[key]
        value_gpu = t_gpu[key].mean() if t_gpu[key].ndim else t_gpu[key]
        report(f"{key} |cuda - cpu| (cpu {float(value_cpu):.4f})", abs(float(value_gpu) - float(value_cpu)), 1e-8)

    # PGD
    eps = 0.1
    adv_cpu = pgd_attack(src, x, eps=eps, steps=10, seed=0)
    src_gpu, ref_gpu = copy.deepcopy(src).to(cuda), copy.deepcopy(ref).to(cuda)
    adv_gpu = pgd_attack(src_gpu, x.to(cuda), eps=eps, steps=10, seed=0)
    adv_again = pgd_attack(src_gpu, x.to(cuda), eps=eps, steps=10, seed=0)
    report("PGD cuda: max |x_adv - x| - eps", float((adv_gpu.cpu() - x).abs().max()) - eps, 1e-6)
    report("PGD cuda: distance outside [0, 1]", float((adv_gpu.clamp(0, 1) - adv_gpu).abs().max()), 0.0)
    report("PGD cuda: eps = 0 changes the input by", float((pgd_attack(src_gpu, x.to(cuda), eps=0.0, steps=10) - x.to(cuda)).abs().max()), 0.0)
    report("PGD cuda: same seed, max difference", float((adv_again - adv_gpu).abs().max()), 1e-6)
    with torch.no_grad():
        loss_cpu = F.cross_entropy(ref(adv_cpu), y)
        loss_gpu = F.cross_entropy(ref_gpu(adv_gpu), y.to(cuda))
    report(f"cross adversarial loss |cuda - cpu| (cpu {float(loss_cpu):.4f})", abs(float(loss_gpu) - float(loss_cpu)) / float(loss_cpu), 2e-2)

    # Training
    n = len(x_all)
    xt, yt = torch.from_numpy(x_all[: n // 2]), torch.from_numpy(y_all[: n // 2])
    xv, yv = torch.from_numpy(x_all[n // 2 :]), torch.from_numpy(y_all[n // 2 :])
    accs = {}
    for label, device in (("cpu", "cpu"), ("cuda", cuda)):
        net = model("digits_cnn", 1, 0)
        _, hist = train_classifier(net, (xt, yt), (xv, yv), epochs=4, batch_size=64, optimizer="adam",
                                   lr=0.003, seed=0, device=device, progress=False)
        accs[label] = hist["best_val_accuracy"]
    print(f"digits CNN, 4 epochs: val accuracy cpu {accs['cpu']:.4f}, cuda {accs['cuda']:.4f}")
    report("training val accuracy |cuda - cpu|", abs(accs["cuda"] - accs["cpu"]), 0.03)
    # uint8 images (paper-scale data sets) stay uint8 on the device, converted per batch
    # (digits are k / 16; as uint8 k they train as k / 255, the same for both runs)
    xt8, xv8 = (xt * 16).round().to(torch.uint8), (xv * 16).round().to(torch.uint8)
    accs8 = {}
    for label, images in (("uint8", (xt8, xv8)), ("float", (xt8.float() / 255, xv8.float() / 255))):
        net = model("digits_cnn", 1, 0)
        _, hist = train_classifier(net, (images[0], yt), (images[1], yv), epochs=2, batch_size=64,
                                   optimizer="adam", lr=0.003, seed=0, device=cuda, progress=False)
        accs8[label] = hist["val_accuracy"]
    report("uint8 vs float training on cuda, max |val acc diff|",
           max(abs(a - b) for a, b in zip(accs8["uint8"], accs8["float"], strict=True)), 0.01)

    # ArcFace at cos = +-1
    head = ArcFaceHead(4, 3, scale=64.0, margin=0.5).to(cuda)
    with torch.no_grad():
        head.weight.copy_(torch.eye(3, 4, device=cuda))
    feats = torch.tensor([[1.0, 0, 0, 0], [-1.0, 0, 0, 0]], device=cuda, requires_grad=True)
    F.cross_entropy(head(feats, torch.tensor([0, 0], device=cuda)), torch.tensor([0, 0], device=cuda)).backward()
    grads = torch.cat([feats.grad.flatten(), head.weight.grad.flatten()])
    report("ArcFace cuda: non-finite gradients at cos = +-1", float((~torch.isfinite(grads)).sum()), 0.0)

    print("all checks passed" if not FAILURES else f"FAILED: {', '.join(FAILURES)}")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())

"""The batched routes of the synthetic sweep give the same numbers as the plain ones.

Closed-form MLP Jacobians against autograd, the target's terms computed once against
per-call, the threaded batched eigendecomposition against ``torch.linalg.eigh`` (bit for
bit, also in a forked child), the finite check's fast path, and the kept-memory switch.
"""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch

from advtransfer.core import linalg, tau, theory
from advtransfer.core.checks import check_finite
from advtransfer.jobs import retain_freed_memory
from advtransfer.synthetic import experiment
from advtransfer.synthetic.experiment import SigmoidMLP


def sweep_setup(n: int = 600, seed: int = 0):
    data = experiment.make_rbf_data(n_samples=n, input_dim=12, output_dim=4, seed=seed)
    torch.manual_seed(seed)
    target = SigmoidMLP(12, 20, 4).double().eval()
    direction = experiment.random_direction(target, seed=seed + 1)
    source = experiment.perturbed(target, direction, 0.4)
    return data.x, data.y, source, target


def test_closed_form_jacobian_equals_autograd():
    x, _, source, _ = sweep_setup()
    closed = source.input_jacobian(x)
    assert closed.shape == (x.shape[0], 4, 12)
    assert torch.allclose(closed, tau.input_jacobians(source, x), rtol=0, atol=1e-14)


def test_target_terms_once_give_the_per_call_numbers():
    x, y, source, target = sweep_setup()
    scale = experiment.input_scale_for(x)
    terms = experiment.target_terms(target, x)
    once = experiment.sweep_point(source, target, x, y, scale, terms=terms)
    fresh = experiment.sweep_point(source, target, x, y, scale)
    assert once.keys() == fresh.keys()
    for key, value in fresh.items():
        assert once[key] == pytest.approx(value, rel=1e-12, abs=1e-15, nan_ok=True), key
    # the same as the generic metric core on autograd Jacobians
    res = tau.adversarial_transferability(tau.input_jacobians(source, x),
                                          tau.input_jacobians(target, x))
    for key in ("tau1", "tau2", "alpha", "lambda_source", "lambda_target"):
        assert once[key] == pytest.approx(float(res[key]), abs=1e-12), key


def test_terms_of_another_target_or_other_inputs_are_refused():
    x, y, source, target = sweep_setup()
    scale = experiment.input_scale_for(x)
    with pytest.raises(ValueError, match="target_terms"):
        experiment.sweep_point(source, target, x, y, scale,
                               terms=experiment.target_terms(source, x))
    with pytest.raises(ValueError, match="target_terms"):
        experiment.sweep_point(source, target, x, y, scale,
                               terms=experiment.target_terms(target, x[:-1]))


def test_target_top_must_belong_to_the_target_jacobians():
    x, _, source, target = sweep_setup()
    js, jt = source.input_jacobian(x), target.input_jacobian(x)
    given = tau.adversarial_transferability(js, jt, target_top=tau.top_singular(jt))
    plain = tau.adversarial_transferability(js, jt)
    for key in ("tau1", "tau2", "alpha", "lambda_target"):
        assert torch.equal(given[key], plain[key]), key
    with pytest.raises(ValueError, match="target_top"):
        tau.adversarial_transferability(js, jt, target_top=tau.top_singular(jt[:-1]))


@pytest.mark.parametrize("batch", [3, 2 * linalg.MIN_MATRICES_PER_THREAD + 7])
def test_symmetric_eig_is_eigh_bit_for_bit(batch):
    torch.manual_seed(batch)
    a = torch.randn(batch, 6, 9, dtype=torch.float64)
    gram = a @ a.transpose(1, 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        values, vectors = linalg.symmetric_eig(gram)
        only_values = linalg.symmetric_eig(gram, eigenvectors=False)
    finally:
        torch.set_num_threads(threads)
    ref_values, ref_vectors = torch.linalg.eigh(gram)
    assert torch.equal(values, ref_values) and torch.equal(vectors, ref_vectors)
    assert torch.equal(only_values, torch.linalg.eigvalsh(gram))


def _eig_in_child(queue):
    torch.set_num_threads(2)
    gram = torch.eye(4, dtype=torch.float64).expand(4 * linalg.MIN_MATRICES_PER_THREAD, 4, 4)
    queue.put(float(linalg.symmetric_eig(gram, eigenvectors=False).sum()))


def test_symmetric_eig_works_in_a_forked_child_after_the_parent_used_its_threads():
    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    torch.set_num_threads(2)
    gram = torch.eye(4, dtype=torch.float64).expand(4 * linalg.MIN_MATRICES_PER_THREAD, 4, 4)
    linalg.symmetric_eig(gram)  # the parent's thread pool now exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_eig_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    if child.is_alive():
        child.kill()
        pytest.fail("symmetric_eig hung in a forked child (a pool without threads was reused)")
    assert queue.get(timeout=5) == pytest.approx(16.0 * linalg.MIN_MATRICES_PER_THREAD)


def test_gradient_difference_default_chunk_equals_small_chunks():
    x, _, source, target = sweep_setup()
    js, jt = source.input_jacobian(x), target.input_jacobian(x)
    a = tau.adversarial_transferability(js, jt)["A"]
    assert float(theory.gradient_difference(js, jt, a)) == pytest.approx(
        float(theory.gradient_difference(js, jt, a, chunk=7)), rel=1e-13)


def test_check_finite_fast_path_keeps_the_exact_answer():
    big = torch.full((4,), 3e38, dtype=torch.float32)  # finite entries, the sum overflows
    assert check_finite(big, "big") is big
    with pytest.raises(ValueError, match=r"t contains 1 NaN .*first: nan at index \(1,\)"):
        check_finite(torch.tensor([1.0, float("nan"), 2.0, 3.0]), "t")
    with pytest.raises(ValueError, match="contains 2 NaN or infinite"):  # their sum is NaN
        check_finite(torch.tensor([float("inf"), -float("inf"), 0.0]), "opposite infinities")


def test_retain_freed_memory_changes_no_result():
    x, y, source, target = sweep_setup(n=200)
    scale = experiment.input_scale_for(x)
    before = experiment.sweep_point(source, target, x, y, scale)
    assert retain_freed_memory() in (True, False)
    after = experiment.sweep_point(source, target, x, y, scale)
    assert before.keys() == after.keys()
    assert all(np.isclose(before[k], after[k], rtol=0, atol=0, equal_nan=True) for k in before)

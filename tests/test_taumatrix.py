"""The tau task matrix (tasks.taumatrix) and its trees (tasks.tables)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from advtransfer.core import tau
from advtransfer.tasks import tables as tt
from advtransfer.tasks import taumatrix

TREE = {"method": "ward", "normalise_columns": True, "weighting": "size", "permutations": 5,
        "seed": 0}


class Dense(nn.Module):
    """Conv net with a dense output map (K channels at 6 x 6), logits or values."""

    def __init__(self, k: int, seed: int) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(),
                                 nn.Conv2d(4, k, 3, padding=1))

    def forward(self, x):
        return self.net(x)


def test_tau_matrix_table_matches_exact_pairs():
    models = {"seg": (Dense(3, 0), "ce"), "depth": (Dense(1, 1), "mse"),
              "normal": (Dense(2, 2), "l1")}
    x = torch.rand(5, 1, 6, 6, dtype=torch.float64)
    for m, _ in models.values():
        m.double()
    table = taumatrix.tau_matrix_table(models, x, tol=1e-10)
    tasks = list(models)
    assert list(table.columns) == ["measure", "target", *tasks]
    mats = tt.split_matrix_table(table, by="measure")
    assert list(mats) == ["tau1", "tau2", "alpha", "n_not_converged"]
    assert mats["n_not_converged"].to_numpy().sum() == 0
    jac = {}
    for name, (model, loss) in models.items():
        j = tau.input_jacobians(model, x)  # (N, K*36, 36): channel-major flattening
        if loss == "ce":  # centred over the class axis at every pixel
            k = j.shape[1] // 36
            j = j.reshape(5, k, 36, 36)
            j = (j - j.mean(1, keepdim=True)).reshape(5, k * 36, 36)
        jac[name] = j
    for t in tasks:
        for s in tasks:
            ex = tau.adversarial_transferability(jac[s], jac[t])
            for key in ("tau1", "tau2", "alpha"):
                assert mats[key].loc[t, s] == pytest.approx(float(ex[key]), abs=1e-7), (key, t, s)


def test_split_tau_table_sets_diagonal_to_row_max_and_feeds_the_trees():
    tasks = ["a1", "a2", "b1", "b2"]
    cats = {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
    block = np.array([[1.0, 0.8, 0.1, 0.2], [0.8, 1.0, 0.15, 0.1],
                      [0.1, 0.15, 1.0, 0.7], [0.2, 0.1, 0.7, 1.0]])
    parts = []
    for measure in ("tau1", "tau2", "alpha", "n_not_converged"):
        part = pd.DataFrame(block if measure != "n_not_converged" else np.zeros((4, 4)),
                            columns=tasks)
        part.insert(0, "target", tasks)
        part.insert(0, "measure", measure)
        parts.append(part)
    taus = tt.split_tau_table(pd.concat(parts, ignore_index=True))
    assert sorted(taus) == ["tau1", "tau2"]
    assert np.allclose(np.diag(taus["tau1"].to_numpy()), [0.8, 0.8, 0.7, 0.7])
    entropy, clusters = tt.agreement_tables({0.1: taus["tau2"]}, taus["tau1"], cats, TREE, taus)
    k2 = entropy[(entropy["k"] == 2) & (entropy["tree"] == "tau1")].set_index("reference")
    assert k2.loc["a_priori", "ari"] == pytest.approx(1.0)
    assert k2.loc["knowledge", "ari"] == pytest.approx(1.0)
    assert k2.loc["adversarial", "eps"] == 0.1
    assert set(clusters["tree"]) >= {"tau1", "tau2"}
    with pytest.raises(ValueError, match="no tau1"):
        tt.split_tau_table(pd.concat(parts[1:], ignore_index=True))

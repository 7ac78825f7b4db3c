"""Figure 2's caption is generated from the sweep table."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from advtransfer.synthetic import caption

T = np.round(np.linspace(0.0, 1.0, 11), 10)
ROOT = Path(__file__).resolve().parents[1]


def made_up_sweep(*, ind_tau2, ind_loss0=0.0036, ind_loss_scale=1.0, n_dir=2) -> pd.DataFrame:
    """A two-set sweep table with the given independent-set tau2 curve and refit losses."""
    rows = []
    curves = {
        "derived": {
            "tau1": 1.0 - 0.85 * T,
            "tau2": 1.0 - 0.55 * T**2,
            "alpha": 1.0 - 0.83 * T,
            "transferred_loss": 0.0035 + 0.125 * T**1.5,
            "grad_diff": 1.27 * T,
        },
        "independent": {
            "tau1": 0.089 - 0.02 * T,
            "tau2": np.asarray(ind_tau2, dtype=float),
            "alpha": 0.097 - 0.023 * T,
            "transferred_loss": (ind_loss0 + 0.128 * T**1.5) * ind_loss_scale,
            "grad_diff": 1.5 + 0.0 * T,
        },
    }
    for name, cols in curves.items():
        for k in range(n_dir):
            for i, t in enumerate(T):
                row = {"set": name, "direction": k, "t": t}
                row.update({c: float(v[i]) * (1 + 0.01 * k) for c, v in cols.items()})
                row["affine_transferred_loss"] = 3 * row["transferred_loss"]
                row["target_loss"] = 0.00374
                row["thm2_bound"] = 10 * row["grad_diff"] + 0.3
                row["thm2_ratio"] = row["thm2_bound"] / row["grad_diff"] if t > 0 or name != "derived" else np.nan
                row["g_transferred_loss"] = 0.1 + t
                row["thm3_bound"] = 1e7
                row["thm3_ratio"] = row["thm3_bound"] / row["g_transferred_loss"]
                row["prop2_lower"], row["first_order_cross_loss"], row["prop2_upper"] = 0.9, 1.0, 1.1
                rows.append(row)
    return pd.DataFrame(rows)


RISE_THEN_FALL = np.interp(T, [0.0, 0.3, 1.0], [0.07, 0.32, 0.11])
FALLING = 0.3 - 0.2 * T


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (1.0 - 0.85 * T, "x falls monotonically from 1 to 0.15 (-85 %)"),
        (0.0035 + 0.125 * T, "x rises monotonically from 0.0035 to 0.129 (37-fold)"),
        (
            RISE_THEN_FALL,
            "x rises from 0.07 to 0.32 up to t = 0.3, then falls to 0.11 at t = 1 (not monotone)",
        ),
        (
            np.interp(T, [0, 0.3, 1], [1.52, 1.48, 1.50]),
            "x stays within 3 % of 1.49: it falls from 1.52 to 1.48 up to t = 0.3",
        ),
        (np.full(11, 0.5), "x stays at 0.5 for every t"),
    ],
)
def test_describe_trend(values, expected):
    assert caption.describe_trend(T, values, "x").startswith(expected)


def test_describe_trend_many_turns_and_unsorted_t():
    values = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0], dtype=float)
    text = caption.describe_trend(T, values, "x")
    assert "changes direction 9 times" in text
    order = np.random.default_rng(0).permutation(11)
    assert caption.describe_trend(T[order], RISE_THEN_FALL[order], "x") == caption.describe_trend(
        T, RISE_THEN_FALL, "x"
    )


def test_findings_follow_the_numbers():
    a = caption.figure2_findings(made_up_sweep(ind_tau2=RISE_THEN_FALL))
    b = caption.figure2_findings(made_up_sweep(ind_tau2=FALLING))
    assert a != b
    independent_a = a.split("\n\n")[1]
    independent_b = b.split("\n\n")[1]
    assert "tau2 rises from 0.0704 to 0.322 up to t = 0.3, then falls to 0.111" in independent_a
    assert "tau2 falls monotonically from 0.301 to 0.1 (-67 %)" in independent_b
    # the derived-set paragraph does not depend on the independent set's tau2
    assert a.split("\n\n")[0] == b.split("\n\n")[0]
    assert "tau1 falls monotonically from 1 to 0.151" in a
    assert "Theorem 2's bound is at least G on 22 of 22 rows" in a
    assert "(median 10.4; 2 rows with G numerically 0 left out)" in a
    assert "Proposition 2 brackets the first-order cross loss on 22 of 22 rows" in a
    assert "The best affine map on outputs loses 3 to 3 (median 3) times" in a


def test_independent_set_sentence_adapts():
    same = caption.independent_set_sentence(made_up_sweep(ind_tau2=FALLING))
    assert "the refit loss equals the target's own loss to within 3 % (0.00362 vs 0.00374)" in same
    assert "although tau1 is 0.0894" in same
    assert "driven by t" in same

    # the independent source transfers 3x worse at t = 0: no equality, no 'driven by t'
    worse = caption.independent_set_sentence(
        made_up_sweep(ind_tau2=FALLING, ind_loss0=0.0036, ind_loss_scale=3.0)
    )
    assert "the refit loss is 2.9 times the target's own loss" in worse
    assert "driven by t" not in worse
    assert "differ by up to" in worse

    assert caption.independent_set_sentence(made_up_sweep(ind_tau2=FALLING).query("set == 'derived'")) == ""


def test_caption_renders_as_the_report_does():
    """Jinja (config placeholders of the head) then docutils, warnings as errors."""
    jinja2 = pytest.importorskip("jinja2")
    from docutils.core import publish_parts

    head = (ROOT / "report/synthetic_figure2.rst").read_text()
    text = caption.figure2_caption(made_up_sweep(ind_tau2=RISE_THEN_FALL), head=head)
    config = {"synthetic": {"data": {"n_samples": 1200, "input_dim": 30}, "target": {"hidden": 100},
                            "sweep": {"directions": 5}}}
    rendered = jinja2.Environment(trim_blocks=True, lstrip_blocks=True).from_string(text).render(
        snakemake=SimpleNamespace(config=config)
    )
    assert "1200 points" in rendered and "{{" not in rendered
    html = publish_parts(rendered, writer="html",
                         settings_overrides={"halt_level": 2, "report_level": 5})["body"]
    assert "tau2 rises from 0.0704 to 0.322" in html


def test_hand_written_head_makes_no_claim_about_the_data():
    head = (ROOT / "report/synthetic_figure2.rst").read_text().lower()
    for word in ("rise", "fall", "grow", "increase", "decrease", "above", "below", "stays",
                 "monoton", "holds"):
        assert not re.search(rf"\b{word}", head), word

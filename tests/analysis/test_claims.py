"""The claim rules of docs/reproduction.md (analysis/hpa_analysis/claims.py) on runs built here with
chosen cosines, drops and losses; probabilities are checked against sums of binomial coefficients
written out in this file, not against scipy's functions that the module calls."""
import itertools
import math
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "analysis"))

from hpa_analysis import claims  # noqa: E402
from hpa_analysis.runs import Reinit, Run  # noqa: E402


def cosines_with(non_positive, filters):
    """One epoch's cosines of one seed: `non_positive` of `filters` at -0.1, the rest at +0.1."""
    return np.array([-0.1] * non_positive + [0.1] * (filters - non_positive))


def make_run(counts, filters, drops=None, train_loss=None, train_accuracy=None, name="run", epochs=2,
             schedule="step"):
    """counts[l][s]: non-positive cosines of layer l in seed s at the last epoch (epoch 0: half).
    drops[l]: every seed's drop at reset to epoch 0 (a number, or a list per seed)."""
    seeds = len(counts[0])
    layers = len(counts)
    cosines = {}
    for l, (layer_counts, f) in enumerate(zip(counts, filters)):
        array = np.zeros((seeds, epochs + 1, f))
        for s in range(seeds):
            array[s, 0] = cosines_with(f // 2, f)
            for e in range(1, epochs + 1):
                array[s, e] = cosines_with(layer_counts[s], f)
        cosines[f"features.{l}"] = array
    neg = np.stack([(cosines[f"features.{l}"] <= 0).mean(axis=2) for l in range(layers)], axis=2)
    metrics = {"train_loss": np.full((seeds, epochs + 1), np.nan),
               "train_accuracy": np.full((seeds, epochs + 1), np.nan)}
    if train_loss is not None:
        metrics["train_loss"][:, 1:] = np.asarray(train_loss)[None, :]
    if train_accuracy is not None:
        metrics["train_accuracy"][:, epochs] = train_accuracy
    run = Run(path=f"/nowhere/{name}", name=name, arch="vgg11", dataset="cifar10", seeds=list(range(seeds)),
              epochs=epochs, layer_index=np.arange(1, layers + 1), layer_names=[f"features.{l}" for l in range(layers)],
              neg_fraction=neg, cosines=cosines, metrics=metrics, config=f"lr-schedule = {schedule}\n",
              dist_l2=np.ones((seeds, epochs + 1, layers)))
    if drops is not None:
        per_seed = np.array([[d if np.isscalar(d) else d[s] for d in drops] for s in range(seeds)])
        run.reinit = Reinit(epochs=np.array([0]), rerandomize=0, accuracy=np.zeros((seeds, layers, 1)),
                            baseline=np.ones(seeds), drop=per_seed[:, :, None])
    return run


def binomial_two_sided(k, n):
    """Exact two-sided binomial p against 1/2 (symmetric: twice the smaller tail, at most 1)."""
    tail = sum(math.comb(n, i) for i in range(0, min(k, n - k) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def test_biased_needs_every_seed_small_p_large_deviation_and_one_direction():
    # F = 16: 15 of 16 passes (p = 2 * 17 / 65536), 14 of 16 does not (p = 2 * 137 / 65536 > 1e-3).
    assert binomial_two_sided(15, 16) < 1e-3 < binomial_two_sided(14, 16)
    # F = 64, 45 of 64: deviation 0.203 but p > 1e-3; 47 of 64: both pass.
    assert binomial_two_sided(45, 64) > 1e-3 > binomial_two_sided(47, 64)
    # F = 256, 170 of 256: p tiny but deviation 0.164 < 0.2.
    assert binomial_two_sided(170, 256) < 1e-6
    run = make_run([[15, 16, 15], [14, 16, 16], [47, 50, 60], [45, 50, 60], [170, 170, 170], [1, 0, 15]],
                   [16, 16, 64, 64, 256, 16])
    rows = claims.layer_bias(run, 2)
    assert [row["biased"] for row in rows] == [True, False, True, False, False, False]
    assert rows[0]["direction"] == "negative" and rows[5]["direction"] == ""
    for row, counts, f in zip(rows, [[15, 16, 15]], [16]):
        assert row["binomial_p"] == pytest.approx([binomial_two_sided(c, f) for c in counts], rel=1e-9)
    positive = claims.layer_bias(make_run([[1, 0, 1]], [16]), 2)[0]
    assert positive["biased"] and positive["direction"] == "positive"


def test_a_layer_with_a_non_finite_cosine_is_never_biased():
    run = make_run([[16, 16, 16]], [16])
    run.cosines["features.0"][1, 2, 3] = np.nan
    assert not claims.layer_bias(run, 2)[0]["biased"]


def test_pooled_interval_is_clopper_pearson_inside_zero_one():
    run = make_run([[16, 16, 16], [0, 0, 0], [8, 9, 7]], [16, 16, 16])
    rows = claims.layer_bias(run, 2)
    for row in rows:
        low, high = row["ci95"]
        k, n = sum(row["non_positive"]), 48
        assert 0.0 <= low <= k / n <= high <= 1.0
        # The exact interval's defining tails: P(X >= k | low) = 0.025 and P(X <= k | high) = 0.025.
        if k > 0:
            assert sum(math.comb(n, i) * low ** i * (1 - low) ** (n - i) for i in range(k, n + 1)) == pytest.approx(0.025)
        else:
            assert low == 0.0
        if k < n:
            assert sum(math.comb(n, i) * high ** i * (1 - high) ** (n - i) for i in range(0, k + 1)) == pytest.approx(0.025)
        else:
            assert high == 1.0


def hypergeometric_upper_tail(a, layers, biased, critical):
    """P(at least a of the `biased` layers are critical) when `critical` of `layers` are critical at random."""
    total = math.comb(layers, biased)
    return sum(math.comb(critical, i) * math.comb(layers - critical, biased - i)
               for i in range(a, min(biased, critical) + 1)) / total


def test_fisher_one_sided_equals_the_hypergeometric_tail_and_its_smallest_p():
    # Layers 2..8 (layer 1 exempt): biased 2, 3, 4, 6; critical 2, 3, 4, 5.
    biased = [[16] * 3, [32] * 3, [64] * 3, [64] * 3, [64] * 3, [128] * 3, [64] * 3, [64] * 3]
    filters = [16, 32, 64, 64, 128, 128, 128, 128]
    drops = [0.5, 0.3, 0.2, 0.15, 0.12, 0.01, 0.02, 0.03]
    run = make_run(biased, filters, drops)
    test = claims.biased_critical_test(claims.layer_bias(run, 2), claims.layer_drops(run)[0])
    assert test["layers"] == [2, 3, 4, 5, 6, 7, 8]
    assert test["table"] == [[3, 1], [1, 2]]
    assert test["fisher_p"] == pytest.approx(hypergeometric_upper_tail(3, 7, 4, 4), rel=1e-12)
    assert test["smallest_p"] == pytest.approx(hypergeometric_upper_tail(4, 7, 4, 4), rel=1e-12)  # 1/35
    assert test["testable"]


def test_c3_perfect_agreement_reproduces_and_one_biased_layer_is_not_testable():
    filters = [16, 32, 64, 64, 128, 128, 128, 128]
    agree = make_run([[8] * 3, [32] * 3, [64] * 3, [60] * 3, [64] * 3, [64] * 3, [64] * 3, [64] * 3], filters,
                     [0.3, 0.3, 0.3, 0.3, 0.01, 0.01, 0.01, 0.01])
    claim = claims.claim_c3({"E1": agree})
    assert claim.verdict == claims.REPRODUCED, claim
    assert "p = 0.0286" in claim.number  # 1 / C(7, 3)
    single = make_run([[8] * 3, [32] * 3, [32] * 3, [32] * 3, [64] * 3, [64] * 3, [64] * 3, [64] * 3], filters,
                      [0.3, 0.3, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])
    claim = claims.claim_c3({"E1": single})
    assert claim.verdict == claims.NOT_TESTABLE and "1/7" not in claim.reason and "0.143" in claim.reason


def test_c1_needs_a_proper_prefix_of_critical_layers():
    filters = [16] * 8
    counts = [[8] * 3] * 8
    for drops, verdict in [([0.3, 0.3, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0], claims.REPRODUCED),
                           ([0.3, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0, 0.0], claims.NOT_REPRODUCED),
                           ([0.3] * 8, claims.NOT_REPRODUCED),
                           ([0.0] * 8, claims.NOT_REPRODUCED),
                           # the mean over seeds decides, not one seed
                           ([[0.05, 0.05, 0.23]] + [0.0] * 7, claims.REPRODUCED),
                           ([[0.02, 0.02, 0.23]] + [0.0] * 7, claims.NOT_REPRODUCED)]:
        assert claims.claim_c1({"E1": make_run(counts, filters, drops)}).verdict == verdict, drops


def test_c2_every_biased_layer_must_lean_negative():
    filters = [16] * 4
    assert claims.claim_c2({"E1": make_run([[8] * 3, [16] * 3, [8] * 3, [8] * 3], filters)}).verdict == claims.REPRODUCED
    assert claims.claim_c2({"E1": make_run([[8] * 3, [16] * 3, [0] * 3, [8] * 3], filters)}).verdict == claims.NOT_REPRODUCED
    # Layer 1 alone biased: exempt, so no claimed layer is biased.
    assert claims.claim_c2({"E1": make_run([[16] * 3, [8] * 3, [8] * 3, [8] * 3], filters)}).verdict == claims.NOT_REPRODUCED


def test_c4_loss_phases():
    loss = [2.30, 2.30, 2.29, 2.10, 1.0]      # flat to epoch 3 (>= 0.95 x 2.30 = 2.185), fallen at 5 (<= 1.15)
    run = make_run([[8] * 3] * 3, [16] * 3, train_loss=loss, epochs=5)
    curve, last_flat, fallen = claims.loss_phases(run)
    assert (last_flat, fallen) == (3, 5)
    assert list(curve[1:]) == pytest.approx(loss)


def test_c4_biased_while_flat_is_not_reproduced_and_no_fall_is_not_testable():
    filters = [16] * 3
    run = make_run([[8] * 3, [8] * 3, [16] * 3], filters, train_loss=[2.3, 2.3, 2.29, 2.0, 1.0], epochs=5)
    # layer 3 is biased at every epoch >= 1, including the last flat one
    assert claims.claim_c4({"E2": run}).verdict == claims.NOT_REPRODUCED
    # unbiased while flat, biased at the end: the cosines of epochs 1..3 set back to half
    for e in (1, 2, 3):
        run.cosines["features.2"][:, e] = cosines_with(8, 16)
    assert claims.claim_c4({"E2": run}).verdict == claims.REPRODUCED
    never = make_run([[8] * 3] * 3, filters, train_loss=[2.3, 2.3, 2.3, 2.25, 2.2], epochs=5)
    assert claims.claim_c4({"E2": never}).verdict == claims.NOT_TESTABLE


def test_c5_only_decides_when_learning_failed():
    filters = [16] * 3
    failed = make_run([[8] * 3] * 3, filters, train_accuracy=[0.1, 0.11, 0.2])
    assert claims.claim_c5({"E3": failed}).verdict == claims.REPRODUCED
    biased = make_run([[8] * 3, [8] * 3, [16] * 3], filters, train_accuracy=[0.1, 0.11, 0.12])
    assert claims.claim_c5({"E3": biased}).verdict == claims.NOT_REPRODUCED
    learned = make_run([[8] * 3] * 3, filters, train_accuracy=[0.1, 0.5, 0.12])
    assert claims.claim_c5({"E3": learned}).verdict == claims.NOT_TESTABLE
    one_seed_learned = make_run([[8] * 3] * 3, filters, train_accuracy=[0.1, 0.3, 0.1])  # mean 0.17: still learned
    assert claims.claim_c5({"E3": one_seed_learned}).verdict == claims.NOT_TESTABLE


def wilcoxon_less_by_enumeration(x, y):
    """P(W+ <= observed W+) over the 2^n equally likely sign patterns of the nonzero differences."""
    d = [a - b for a, b in zip(x, y) if a != b]
    ranks = {v: i + 1 for i, v in enumerate(sorted(abs(v) for v in d))}  # distinct |d| in the cases below
    observed = sum(ranks[abs(v)] for v in d if v > 0)
    patterns = list(itertools.product([0, 1], repeat=len(d)))
    return sum(sum(r for r, s in zip(sorted(ranks.values()), p) if s) <= observed for p in patterns) / len(patterns)


def test_wilcoxon_one_sided_equals_the_enumeration():
    for x, y in [([0.1, 0.2, 0.05, 0.3, 0.01, 0.07, 0.4], [0.2, 0.5, 0.06, 0.33, 0.2, 0.0, 0.9]),
                 ([0.3, 0.2, 0.1], [0.1, 0.25, 0.4]),
                 ([0.0] * 7, [0.01, 0.03, 0.07, 0.15, 0.31, 0.63, 1.27])]:
        assert claims.wilcoxon_less(x, y) == pytest.approx(wilcoxon_less_by_enumeration(x, y), rel=1e-9)
    assert claims.wilcoxon_less([0.1, 0.2], [0.1, 0.2]) == 1.0


def test_c6_c7_c8_compare_two_runs():
    filters = [64] * 8
    strong = [[32] * 3] + [[60, 62, 61]] * 7
    weak = [[32] * 3] + [[40, 44, 36]] * 7
    assert claims.claim_c6({"E4": make_run(weak, filters, name="s"),
                            "E4-clean": make_run(strong, filters, name="c")}).verdict == claims.REPRODUCED
    assert claims.claim_c6({"E4": make_run(strong, filters, name="s"),
                            "E4-clean": make_run(weak, filters, name="c")}).verdict == claims.NOT_REPRODUCED
    assert claims.claim_c6({"E4": make_run(weak, filters)}).verdict == claims.NOT_RUN
    # C7: seeds' sd per layer (distinct values so the ranks are distinct).
    tight = [[32] * 3] + [[60, 60 + i % 2, 61] for i in range(7)]
    loose = [[32] * 3] + [[40 + i, 50, 60] for i in range(7)]
    assert claims.claim_c7({"E1": make_run(tight, filters, name="a"),
                            "E5": make_run(loose, filters, name="b")}).verdict == claims.REPRODUCED
    # C8: same critical count, smaller drops with the smooth schedule.
    step_drops = [0.5, 0.4, 0.3, 0.2, 0.05, 0.04, 0.03, 0.02]
    smooth_drops = [0.4, 0.3, 0.2, 0.15, 0.04, 0.03, 0.02, 0.01]
    assert claims.claim_c8({"E1": make_run(strong, filters, step_drops, name="a"),
                            "E5": make_run(strong, filters, smooth_drops, name="b")}).verdict == claims.REPRODUCED
    more = [0.4, 0.3, 0.2, 0.15, 0.14, 0.13, 0.12, 0.01]  # 7 critical against 4
    assert claims.claim_c8({"E1": make_run(strong, filters, step_drops, name="a"),
                            "E5": make_run(strong, filters, more, name="b")}).verdict == claims.NOT_REPRODUCED


def test_unfinished_runs_and_grids_decide_nothing():
    filters = [16] * 3
    run = make_run([[8] * 3] * 3, filters, [0.3, 0.0, 0.0])
    run.cosines["features.0"][:, 2] = np.nan  # epoch 2 not written yet
    run.neg_fraction[:, 2, :] = np.nan
    claim = claims.claim_c1({"E1": run})
    assert claim.verdict == claims.NOT_RUN and "epoch 1 of 2" in claim.reason
    grid = make_run([[8] * 3] * 3, filters, [0.3, 0.0, 0.0])
    grid.reinit.drop[1, 2, 0] = np.nan
    claim = claims.claim_c3({"E1": grid})
    assert claim.verdict == claims.NOT_RUN and "unfinished" in claim.reason

"""The reproduction's claim table (docs/reproduction.md): each of the paper's claims decided by the
test fixed there before the runs, from the runs given a role (E1 step schedule with its grid, E2
random labels, E3 N(0, 0.01) init, E4 shuffled pixels and E4-clean its control, E5 smooth schedule
with its grid), with the per-layer tables, the biased x critical tables and the distance from init
beside n_l (E0)."""
import json
import os
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from .figures import config_value
from .runs import completed_epochs
from .statistics import layer_counts

ROLES = ("E1", "E2", "E3", "E4", "E4-clean", "E5")

# The definitions of docs/reproduction.md.
BIAS_P = 1e-3            # binomial p below this in every seed ...
BIAS_DEVIATION = 0.2     # ... and |n_l - 0.5| at least this, same sign in every seed
CRITICAL_DROP = 0.10     # mean relative drop at reset to epoch 0
SIGNIFICANCE = 0.05
FLAT_LOSS = 0.95         # E2: training loss >= this x epoch 1's: flat
FALLEN_LOSS = 0.5        # E2: <= this x epoch 1's: fallen
FAILED_ACCURACY = 0.2    # E3: final training accuracy <= this in every seed: learning failed
FIRST_CLAIMED_LAYER = 2  # layer 1 is exempt from the bias claims (the paper's section 3.2, A.7)

REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE, NOT_RUN = "reproduced", "not reproduced", "not testable here", "not run"


@dataclass
class Claim:
    id: str
    paper: str
    claim: str
    number: str = ""
    verdict: str = NOT_RUN
    reason: str = ""


def _layers(indices):
    return ", ".join(str(int(i)) for i in indices) if len(indices) else "none"


def final_epoch(run):
    epochs = completed_epochs(run)
    return int(epochs[-1]) if len(epochs) else None


def is_complete(run):
    return final_epoch(run) == run.epochs


def layer_bias(run, epoch):
    """Per layer at `epoch`: statistics.layer_counts with the pooled n_l and whether the layer is biased
    by the definition (every seed)."""
    rows = []
    for l, name in enumerate(run.layer_names):
        row = layer_counts(run, l, epoch)
        deviation = np.asarray(row["n_l"]) - 0.5
        finite = bool(np.isfinite(run.cosines[name][:, epoch, :]).all())
        biased = (finite and all(p < BIAS_P for p in row["binomial_p"])
                  and bool(np.all(np.abs(deviation) >= BIAS_DEVIATION - 1e-12))
                  and (bool(np.all(deviation > 0)) or bool(np.all(deviation < 0))))
        row["pooled"] = float(np.mean(row["n_l"]))  # every seed has the same F
        row["biased"] = bool(biased)
        row["direction"] = "negative" if biased and deviation[0] > 0 else ("positive" if biased else "")
        rows.append(row)
    return rows


def layer_drops(run, reset_epoch=0):
    """Per layer: relative drops at reset to `reset_epoch` per seed and their mean, and whether the
    layer is critical; None (with the reason) when the grid has no such column or is unfinished."""
    if run.reinit is None:
        return None, "no re-initialization grid (reinit.h5)"
    epochs = [int(e) for e in run.reinit.epochs]
    if reset_epoch not in epochs:
        return None, f"the grid has no reset to epoch {reset_epoch}"
    drop = run.reinit.drop[:, :, epochs.index(reset_epoch)]   # [S, L]
    if np.isnan(drop).any():
        return None, "the grid is unfinished"
    mean = drop.mean(axis=0)
    return {"per_seed": drop.tolist(), "mean": [float(d) for d in mean],
            "critical": [bool(d >= CRITICAL_DROP) for d in mean]}, ""


def biased_critical_test(bias_rows, drops):
    """Fisher's exact test (one-sided: association greater than chance) on layers >= 2, the smallest
    p its margins allow, and Spearman's rho between |mean n_l - 0.5| and the mean drop."""
    claimed = [i for i, row in enumerate(bias_rows) if row["layer"] >= FIRST_CLAIMED_LAYER]
    biased = np.array([bias_rows[i]["biased"] for i in claimed])
    critical = np.array([drops["critical"][i] for i in claimed])
    table = [[int(np.sum(biased & critical)), int(np.sum(biased & ~critical))],
             [int(np.sum(~biased & critical)), int(np.sum(~biased & ~critical))]]
    p = float(stats.fisher_exact(table, alternative="greater")[1])
    layers, num_biased, num_critical = len(claimed), int(biased.sum()), int(critical.sum())
    most = min(num_biased, num_critical)  # the most extreme table the margins allow
    smallest_p = float(stats.hypergeom.sf(most - 1, layers, num_critical, num_biased))
    bias = [abs(np.mean(bias_rows[i]["n_l"]) - 0.5) for i in claimed]
    drop = [drops["mean"][i] for i in claimed]
    rho, rho_p = (float("nan"), float("nan"))
    if len(set(bias)) > 1 and len(set(drop)) > 1:
        result = stats.spearmanr(bias, drop)
        rho, rho_p = float(result.correlation), float(result.pvalue)
    return {"layers": [bias_rows[i]["layer"] for i in claimed], "table": table, "fisher_p": p,
            "smallest_p": smallest_p, "testable": smallest_p < SIGNIFICANCE, "spearman_rho": rho, "spearman_p": rho_p}


def wilcoxon_less(x, y):
    """One-sided Wilcoxon signed-rank p of x < y over pairs (1 when every pair is equal)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if np.all(x == y):
        return 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.wilcoxon(x, y, alternative="less").pvalue)


def _claimed(rows):
    return [row for row in rows if row["layer"] >= FIRST_CLAIMED_LAYER]


def _unfinished(run):
    return f"{run.name} has reached epoch {final_epoch(run)} of {run.epochs}"


def _finished(claim, runs, roles, grid=False):
    """[(run, drops)] for `roles` when each run exists and reached its last epoch (and, with `grid`, has
    finished drops at reset to epoch 0); else None, with the claim's reason saying what is missing."""
    found = []
    for role in roles:
        run = runs.get(role)
        if run is None:
            claim.reason = f"no {role} run" if len(roles) == 1 else f"needs {' and '.join(roles)}"
            return None
        if not is_complete(run):
            claim.reason = _unfinished(run)
            return None
        drops, why = layer_drops(run) if grid else (None, "")
        if grid and drops is None:
            claim.reason = f"{run.name}: {why}"
            return None
        found.append((run, drops))
    return found


def _wilcoxon_verdict(claim, p):
    claim.verdict = REPRODUCED if p < SIGNIFICANCE else NOT_REPRODUCED
    claim.reason = f"one-sided Wilcoxon p {'<' if p < SIGNIFICANCE else '≥'} {SIGNIFICANCE}"


# Each claim: (id, the paper's figure, its claim), decided from the runs by role.
def claim_c1(runs):
    claim = Claim("C1", "Fig. 2, §3.3", "only the early layers are critical")
    found = _finished(claim, runs, ["E1"], grid=True)
    if found is None:
        return claim
    (run, drops), = found
    critical = [int(run.layer_index[i]) for i, c in enumerate(drops["critical"]) if c]
    layers = len(run.layer_names)
    prefix = len(critical) > 0 and critical == list(range(1, len(critical) + 1)) and len(critical) < layers
    claim.number = f"critical layers: {_layers(critical)} of 1–{layers}"
    claim.verdict = REPRODUCED if prefix else NOT_REPRODUCED
    claim.reason = ("the critical layers are layers 1.." + str(len(critical)) if prefix else
                    "the critical layers are not a proper prefix of the layers")
    return claim


def claim_c2(runs):
    claim = Claim("C2", "Fig. 7, §3.2", "trained layers are biased, towards negative projections")
    found = _finished(claim, runs, ["E1"])
    if found is None:
        return claim
    (run, _), = found
    rows = _claimed(layer_bias(run, final_epoch(run)))
    biased = [row for row in rows if row["biased"]]
    negative = [row for row in biased if row["direction"] == "negative"]
    claim.number = (f"biased at epoch {final_epoch(run)}: layers {_layers([r['layer'] for r in biased])} "
                    f"(negative: {_layers([r['layer'] for r in negative])}) of {rows[0]['layer']}–{rows[-1]['layer']}")
    ok = len(biased) > 0 and len(negative) == len(biased)
    claim.verdict = REPRODUCED if ok else NOT_REPRODUCED
    claim.reason = ("every biased layer leans negative" if ok else
                    "no layer of 2..L is biased" if not biased else "a biased layer leans positive")
    return claim


def claim_c3(runs):
    claim = Claim("C3", "Figs 2, 7, §3.3", "the biased layers are the critical ones")
    found = _finished(claim, runs, ["E1"], grid=True)
    if found is None:
        return claim
    (run, drops), = found
    test = biased_critical_test(layer_bias(run, final_epoch(run)), drops)
    (a, b), (c, d) = test["table"]
    claim.number = (f"biased & critical {a}, biased only {b}, critical only {c}, neither {d}; one-sided Fisher "
                    f"p = {test['fisher_p']:.3g}; Spearman ρ = {test['spearman_rho']:.2f}")
    if not test["testable"]:
        claim.verdict = NOT_TESTABLE
        claim.reason = (f"with {a + b} biased and {a + c} critical of {len(test['layers'])} layers the smallest "
                        f"possible p is {test['smallest_p']:.3g} ≥ {SIGNIFICANCE}")
    else:
        claim.verdict = REPRODUCED if test["fisher_p"] < SIGNIFICANCE else NOT_REPRODUCED
        claim.reason = f"Fisher p {'<' if test['fisher_p'] < SIGNIFICANCE else '≥'} {SIGNIFICANCE}"
    return claim


def loss_phases(run):
    """E2: the training loss (mean over seeds) per epoch, the last flat epoch and the first fallen one."""
    loss = np.full(run.metrics["train_loss"].shape[1], np.nan)   # [E+1], NaN at epoch 0 (no training yet)
    loss[1:] = np.nanmean(run.metrics["train_loss"][:, 1:], axis=0)
    last = final_epoch(run)
    reference = loss[1]
    last_flat = 0
    for e in range(1, last + 1):
        if loss[e] >= FLAT_LOSS * reference:
            last_flat = e
        else:
            break
    fallen = next((e for e in range(1, last + 1) if loss[e] <= FALLEN_LOSS * reference), None)
    return loss, last_flat, fallen


def claim_c4(runs):
    claim = Claim("C4", "Fig. 6", "random labels: unbiased while the loss is flat, biased once it falls")
    found = _finished(claim, runs, ["E2"])
    if found is None:
        return claim
    (run, _), = found
    loss, last_flat, fallen = loss_phases(run)
    end = final_epoch(run)
    at_flat = [r["layer"] for r in _claimed(layer_bias(run, last_flat)) if r["biased"]]
    at_end = [r["layer"] for r in _claimed(layer_bias(run, end)) if r["biased"]]
    biased_text = (f"biased at epoch {end}: {_layers(at_end)}" if last_flat == end else
                   f"biased at epoch {last_flat}: {_layers(at_flat)}, at {end}: {_layers(at_end)}")
    claim.number = (f"loss {loss[1]:.3f} at epoch 1, {loss[end]:.3f} at {end}; flat to epoch {last_flat}, "
                    f"fallen {'at epoch ' + str(fallen) if fallen else 'never'}; {biased_text}")
    if fallen is None:
        claim.verdict, claim.reason = NOT_TESTABLE, f"the training loss never fell to {FALLEN_LOSS} × epoch 1's"
    elif not at_flat and at_end:
        claim.verdict, claim.reason = REPRODUCED, "no biased layer while flat, biased layers after the fall"
    else:
        claim.verdict = NOT_REPRODUCED
        claim.reason = "biased layers while the loss was flat" if at_flat else "no biased layer after the fall"
    return claim


def claim_c5(runs):
    claim = Claim("C5", "Fig. 15", "no learning, no bias (N(0, 0.01) init)")
    found = _finished(claim, runs, ["E3"])
    if found is None:
        return claim
    (run, _), = found
    end = final_epoch(run)
    accuracy = run.metrics["train_accuracy"][:, end]
    biased = [r["layer"] for r in _claimed(layer_bias(run, end)) if r["biased"]]
    claim.number = (f"final training accuracy {', '.join(f'{a:.3f}' for a in accuracy)}; biased layers at epoch "
                    f"{end}: {_layers(biased)}")
    if not np.all(accuracy <= FAILED_ACCURACY):
        claim.verdict = NOT_TESTABLE
        claim.reason = f"the N(0, 0.01) init learned here (training accuracy > {FAILED_ACCURACY} in a seed)"
    else:
        claim.verdict = REPRODUCED if not biased else NOT_REPRODUCED
        claim.reason = "learning failed and no layer is biased" if not biased else "learning failed, yet layers are biased"
    return claim


def _mean_bias(run):
    """|mean n_l - 0.5| of layers 2..L at the run's last completed epoch."""
    return [abs(np.mean(r["n_l"]) - 0.5) for r in _claimed(layer_bias(run, final_epoch(run)))]


def claim_c6(runs):
    claim = Claim("C6", "Fig. 20", "shuffled pixels give less bias than clean ones")
    found = _finished(claim, runs, ["E4", "E4-clean"])
    if found is None:
        return claim
    bias_shuffled, bias_clean = (_mean_bias(run) for run, _ in found)
    p = wilcoxon_less(bias_shuffled, bias_clean)
    claim.number = (f"mean |n_l − 0.5| over layers 2..L: shuffled {np.mean(bias_shuffled):.3f}, clean "
                    f"{np.mean(bias_clean):.3f}; Wilcoxon p = {p:.3g}")
    _wilcoxon_verdict(claim, p)
    return claim


def claim_c7(runs):
    claim = Claim("C7", "Fig. 22", "the step schedule varies less across seeds than the smooth one")
    found = _finished(claim, runs, ["E1", "E5"])
    if found is None:
        return claim
    sd = [[float(np.std(r["n_l"], ddof=1)) for r in _claimed(layer_bias(run, final_epoch(run)))]
          for run, _ in found]
    p = wilcoxon_less(sd[0], sd[1])
    claim.number = f"sd of n_l across seeds, mean over layers 2..L: step {np.mean(sd[0]):.3f}, smooth {np.mean(sd[1]):.3f}; Wilcoxon p = {p:.3g}"
    _wilcoxon_verdict(claim, p)
    return claim


def claim_c8(runs):
    claim = Claim("C8", "Fig. 24, A.8", "the smooth schedule gives as many critical layers, with smaller drops")
    found = _finished(claim, runs, ["E1", "E5"], grid=True)
    if found is None:
        return claim
    drops = [run_drops for _, run_drops in found]
    counts = [sum(d["critical"]) for d in drops]
    p = wilcoxon_less(drops[1]["mean"], drops[0]["mean"])
    claim.number = (f"critical layers: step {counts[0]}, smooth {counts[1]}; mean drop at reset to epoch 0: step "
                    f"{np.mean(drops[0]['mean']):.3f}, smooth {np.mean(drops[1]['mean']):.3f}; Wilcoxon p = {p:.3g}")
    ok = abs(counts[0] - counts[1]) <= 1 and p < SIGNIFICANCE
    claim.verdict = REPRODUCED if ok else NOT_REPRODUCED
    claim.reason = ("as many critical layers (±1), smaller drops" if ok else
                    "the critical counts differ by more than 1" if abs(counts[0] - counts[1]) > 1 else
                    f"the smooth drops are not smaller (p ≥ {SIGNIFICANCE})")
    return claim


def claim_c9(runs):
    claim = Claim("C9", "A.7", "layer 1 stays unbiased on RGB data")
    run = runs.get("E1")
    if run is None:  # reported at the last completed epoch: no verdict waits for the end
        claim.reason = "no E1 run"
        return claim
    end = final_epoch(run)
    first = layer_bias(run, end)[0]
    claim.number = f"layer 1 n_l at epoch {end}: {', '.join(f'{v:.3f}' for v in first['n_l'])}"
    claim.verdict = NOT_TESTABLE
    claim.reason = ("the images are grey repeated over three channels: neither A.7's RGB case nor its "
                    "single-channel MNIST case")
    return claim


CLAIMS = (claim_c1, claim_c2, claim_c3, claim_c4, claim_c5, claim_c6, claim_c7, claim_c8, claim_c9)


def distance_beside_bias(run, rows, drops):
    """E0: per layer at the final epoch, the mean distance from init, |mean n_l - 0.5| (from `rows`, the
    run's layer_bias there) and the mean drop at reset to epoch 0 (`drops`, or None), with Spearman's rho
    of the distance against each (over all layers)."""
    if run.dist_l2 is None:
        return None
    end = final_epoch(run)
    distance = np.nanmean(run.dist_l2[:, end, :], axis=0)
    bias = [abs(np.mean(r["n_l"]) - 0.5) for r in rows]
    result = {"epoch": end, "distance": [float(d) for d in distance], "bias": [float(b) for b in bias],
              "drop": drops["mean"] if drops else None}
    for key, values in (("bias", bias), ("drop", drops["mean"] if drops else None)):
        if values is not None and len(set(values)) > 1 and len(set(distance)) > 1:
            test = stats.spearmanr(distance, values)
            result[f"rho_{key}"], result[f"p_{key}"] = float(test.correlation), float(test.pvalue)
    return result


def _run_table(run, rows, drops, why):
    end = final_epoch(run)
    distance = np.nanmean(run.dist_l2[:, end, :], axis=0) if run.dist_l2 is not None else None
    lines = [f"| layer | F | n_l per seed, epoch {end} | n_l pooled [95 % CI] | largest p | biased | "
             f"distance from init | drop at reset to 0 per seed (mean) | critical |",
             "|---|---|---|---|---|---|---|---|---|"]
    for l, row in enumerate(rows):
        drop_text, critical = "", ""
        if drops:
            per_seed = " / ".join(f"{d:.3f}" for d in np.asarray(drops["per_seed"])[:, l])
            drop_text = f"{per_seed} ({drops['mean'][l]:.3f})"
            critical = "**yes**" if drops["critical"][l] else "no"
        distance_text = f"{distance[l]:.3g}" if distance is not None else ""
        lines.append(f"| {row['layer']} | {row['filters']} | {' / '.join(f'{v:.3f}' for v in row['n_l'])} | "
                     f"{row['pooled']:.3f} [{row['ci95'][0]:.3f}, {row['ci95'][1]:.3f}] | {max(row['binomial_p']):.2g} | "
                     f"{'**' + row['direction'] + '**' if row['biased'] else 'no'} | {distance_text} | {drop_text} | "
                     f"{critical} |")
    lines.append("")
    if drops is None:
        lines += [f"No critical layers: {why}.", ""]
    else:
        test = biased_critical_test(rows, drops)
        (a, b), (c, d) = test["table"]
        lines += [f"Biased × critical, layers {test['layers'][0]}–{test['layers'][-1]}:", "",
                  "| | critical | robust |", "|---|---|---|",
                  f"| biased | {a} | {b} |", f"| not biased | {c} | {d} |", "",
                  f"One-sided Fisher p = {test['fisher_p']:.3g} (the smallest its margins allow: "
                  f"{test['smallest_p']:.3g}); Spearman ρ between |n_l − 0.5| and the drop = "
                  f"{test['spearman_rho']:.2f} (p = {test['spearman_p']:.2g}).", ""]
    return lines


def write_reproduction(runs, out_dir, data_label=None):
    """runs: role -> Run. Writes reproduction.md and reproduction.json into out_dir; returns the .md path."""
    claims = [decide(runs) for decide in CLAIMS]
    label = data_label or ", ".join(sorted({f"{run.dataset} format" for run in runs.values()}))
    lines = ["# The paper's claims on this data", "",
             f"Data: **{label}**. Definitions and tests: docs/reproduction.md, fixed before the runs.", "",
             "| claim | paper | the paper says | here | verdict | why |", "|---|---|---|---|---|---|"]
    for claim in claims:
        lines.append(f"| {claim.id} | {claim.paper} | {claim.claim} | {claim.number} | **{claim.verdict}** | {claim.reason} |")
    lines += ["", "Runs:", "", "| role | run | arch | schedule | seeds | epochs reached |", "|---|---|---|---|---|---|"]
    for role in ROLES:
        if role in runs:
            run = runs[role]
            lines.append(f"| {role} | [{run.name}]({run.name}.md) | {run.arch} | "
                         f"{config_value(run, 'lr-schedule', '?')} | {len(run.seeds)} | {final_epoch(run)} of {run.epochs} |")
        else:
            lines.append(f"| {role} | not run | | | | |")
    lines.append("")
    layers, distances = {}, {}
    for role in ROLES:
        if role not in runs:
            continue
        run = runs[role]
        layers[role] = layer_bias(run, final_epoch(run))
        drops, why = layer_drops(run)
        lines += [f"## {role}: {run.name} ({label})", ""] + _run_table(run, layers[role], drops, why)
        distances[role] = distance_beside_bias(run, layers[role], drops)
        if distances[role] and "rho_bias" in distances[role]:
            e0 = distances[role]
            text = f"E0: Spearman ρ of the distance from init against |n_l − 0.5| = {e0['rho_bias']:.2f} (p = {e0['p_bias']:.2g})"
            if "rho_drop" in e0:
                text += f", against the drop = {e0['rho_drop']:.2f} (p = {e0['p_drop']:.2g})"
            lines += [text + ".", ""]
    path = os.path.join(out_dir, "reproduction.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(out_dir, "reproduction.json"), "w") as f:
        json.dump({"data": label, "claims": [asdict(c) for c in claims],
                   "runs": {role: runs[role].path for role in runs},
                   "layers": layers,
                   "distance": distances}, f, indent=1, allow_nan=True)
    return path


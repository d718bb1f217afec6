"""Statistics the published tools do not report: exact binomial tests of n_l against 0.5, n_l's 95%
interval (Clopper-Pearson over the filters of all seeds, inside [0, 1]) and its spread across seeds,
and the Spearman correlation between a layer's bias and its re-initialization drop (the paper's
central claim as one number)."""
import numpy as np
from scipy import stats

from .runs import completed_epochs


def binomial_pvalue(count_non_positive, num_filters):
    """Two-sided exact binomial test of the count of cosines <= 0 against p = 0.5."""
    return float(stats.binomtest(int(count_non_positive), int(num_filters), 0.5).pvalue)


def fraction_interval(count, total, level=0.95):
    """Clopper-Pearson (exact) interval of a fraction count / total; always inside [0, 1]."""
    if total <= 0:
        return float("nan"), float("nan")
    interval = stats.binomtest(int(count), int(total), 0.5).proportion_ci(level, method="exact")
    return float(interval.low), float(interval.high)


def seed_spread(values):
    """Mean and sample std across seeds (std NaN for one seed)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else float("nan"))


def layer_counts(run, l, epoch):
    """Conv layer l at `epoch`: per seed the count of cosines <= 0, n_l and the two-sided binomial p
    against 0.5, and the 95% Clopper-Pearson interval of the pooled fraction (all seeds over S*F)."""
    cosines = run.cosines[run.layer_names[l]][:, epoch, :]              # [S, F]
    counts = (cosines <= 0).sum(axis=1)
    num_filters = cosines.shape[1]
    low, high = fraction_interval(counts.sum(), num_filters * len(counts))
    return {"layer": int(run.layer_index[l]), "name": run.layer_names[l], "epoch": int(epoch),
            "filters": int(num_filters), "n_l": [float(v) for v in counts / num_filters],
            "non_positive": [int(c) for c in counts], "binomial_p": [binomial_pvalue(c, num_filters) for c in counts],
            "ci95": [low, high]}


def layer_epoch_statistics(run):
    """Per layer and completed epoch: layer_counts with the mean and sd of n_l over seeds."""
    rows = []
    for epoch in completed_epochs(run):
        for l in range(len(run.layer_names)):
            row = layer_counts(run, l, epoch)
            row["mean"], row["std"] = seed_spread(row["n_l"])
            rows.append(row)
    return rows


def bias_drop_correlation(run, reset_epoch=0):
    """Spearman rho (and p) between each layer's final bias |n_l - 0.5| (mean over seeds) and its
    mean relative accuracy drop when reset to `reset_epoch`. None without reinit results."""
    if run.reinit is None or reset_epoch not in list(run.reinit.epochs):
        return None
    column = list(run.reinit.epochs).index(reset_epoch)
    last = completed_epochs(run)[-1]
    bias = np.abs(run.neg_fraction[:, last, :] - 0.5).mean(axis=0)
    drop = np.nanmean(run.reinit.drop[:, :, column], axis=0)
    if np.isnan(drop).any() or len(bias) < 3:
        return None
    result = stats.spearmanr(bias, drop)
    return {"reset_epoch": int(reset_epoch), "final_epoch": int(last), "bias": [float(b) for b in bias],
            "drop": [float(d) for d in drop], "spearman_rho": float(result.correlation), "p_value": float(result.pvalue)}


def markdown_table(run, rows, correlation):
    """The per-layer table of the report: epoch 0 and the last completed epoch."""
    last = int(completed_epochs(run)[-1])
    lines = [f"### {run.name}: {run.arch} on {run.dataset}, seeds {run.seeds}",
             "",
             f"| layer | name | F | n_l epoch 0 (mean ± sd) | n_l epoch {last} (mean, 95% CI over filters) | largest binomial p, epoch {last} | drop when reset to epoch 0 |",
             "|---|---|---|---|---|---|---|"]
    by_key = {(r["name"], r["epoch"]): r for r in rows}
    for l, name in enumerate(run.layer_names):
        first, final = by_key[(name, 0)], by_key[(name, last)]
        drop = ""
        if run.reinit is not None and 0 in list(run.reinit.epochs):
            drop = f"{np.nanmean(run.reinit.drop[:, l, list(run.reinit.epochs).index(0)]):.3f}"
        lines.append(f"| {run.layer_index[l]} | {name} | {final['filters']} | {first['mean']:.3f} ± {first['std']:.3f} | "
                     f"{final['mean']:.3f} [{final['ci95'][0]:.3f}, {final['ci95'][1]:.3f}] | "
                     f"{max(final['binomial_p']):.2g} | {drop} |")
    lines.append("")
    if correlation is None:
        lines.append("No re-initialization results (run hpa-reinit-grid with epoch 0): no bias/criticality correlation.")
    else:
        lines.append(f"Spearman correlation between final bias |n_l − 0.5| and the drop when reset to epoch 0: "
                     f"rho = {correlation['spearman_rho']:.3f}, p = {correlation['p_value']:.3g} "
                     f"({len(correlation['bias'])} layers).")
    lines.append("")
    return "\n".join(lines)

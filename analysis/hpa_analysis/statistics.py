"""Statistics the published tools do not report: exact binomial tests of n_l against 0.5, spread of
n_l across seeds with 95% intervals, and the Spearman correlation between a layer's bias and its
re-initialization drop (the paper's central claim as one number)."""
import numpy as np
from scipy import stats

from .runs import completed_epochs


def binomial_pvalue(count_non_positive, num_filters):
    """Two-sided exact binomial test of the count of cosines <= 0 against p = 0.5."""
    return float(stats.binomtest(int(count_non_positive), int(num_filters), 0.5).pvalue)


def seed_interval(values):
    """Mean, sample std and 95% t-interval across seeds (std and interval NaN for one seed)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), (float("nan"), float("nan"))
    std = float(values.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(values) - 1) * std / np.sqrt(len(values)))
    return mean, std, (mean - half, mean + half)


def layer_epoch_statistics(run):
    """Per layer and completed epoch: n_l per seed, binomial p per seed, and the seed interval."""
    rows = []
    for epoch in completed_epochs(run):
        for l, name in enumerate(run.layer_names):
            cosines = run.cosines[name][:, epoch, :]              # [S, F]
            counts = (cosines <= 0).sum(axis=1)
            num_filters = cosines.shape[1]
            n_l = counts / num_filters
            mean, std, (low, high) = seed_interval(n_l)
            rows.append({"layer": int(run.layer_index[l]), "name": name, "epoch": int(epoch), "filters": int(num_filters),
                         "n_l": [float(v) for v in n_l], "non_positive": [int(c) for c in counts],
                         "binomial_p": [binomial_pvalue(c, num_filters) for c in counts],
                         "mean": mean, "std": std, "ci95": [low, high]})
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
             f"| layer | name | F | n_l epoch 0 (mean ± sd) | n_l epoch {last} (mean, 95% CI) | largest binomial p, epoch {last} | drop when reset to epoch 0 |",
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

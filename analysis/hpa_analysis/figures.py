"""Every figure type of the paper, from loaded runs; each saved as PNG and PDF."""
import os

import matplotlib

matplotlib.use("Agg")
import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .runs import completed_epochs  # noqa: E402


def _save(fig, out_dir, stem):
    paths = []
    for ext in ("png", "pdf"):
        path = os.path.join(out_dir, f"{stem}.{ext}")
        fig.savefig(path, dpi=110, bbox_inches="tight")
        paths.append(path)
    plt.close(fig)
    return paths


def _grid(count):
    cols = min(4, count)
    rows = (count + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False, constrained_layout=True)
    for ax in axes.ravel()[count:]:
        ax.axis("off")
    return fig, axes.ravel()


def histograms(run, out_dir):
    """(a) Per-layer histograms of the projection statistic, init against the last epoch (all seeds)."""
    last = completed_epochs(run)[-1]
    fig, axes = _grid(len(run.layer_names))
    for ax, index, name in zip(axes, run.layer_index, run.layer_names):
        init, final = run.cosines[name][:, 0, :].ravel(), run.cosines[name][:, last, :].ravel()
        bins = np.linspace(min(init.min(), final.min()), max(init.max(), final.max()), 25)
        ax.hist(init, bins=bins, alpha=0.6, label="init")
        ax.hist(final, bins=bins, alpha=0.6, label=f"epoch {last}")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"layer {index} ({name})", fontsize=9)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{run.name}: projection statistic (cosine with the identity direction)")
    return _save(fig, out_dir, f"{run.name}_histograms")


def neg_fraction_over_epochs(run, out_dir):
    """(b) n_l per layer over epochs: mean and a +-1 std band across seeds."""
    epochs = completed_epochs(run)
    values = run.neg_fraction[:, epochs, :]
    mean, std = values.mean(axis=0), values.std(axis=0)
    fig, ax = plt.subplots(figsize=(7, 4))
    for l, index in enumerate(run.layer_index):
        ax.plot(epochs, mean[:, l], label=f"layer {index}")
        ax.fill_between(epochs, mean[:, l] - std[:, l], mean[:, l] + std[:, l], alpha=0.2)
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ax.set(xlabel="epoch", ylabel="n_l = P(c <= 0)", ylim=(-0.02, 1.02),
           title=f"{run.name}: n_l per layer ({len(run.seeds)} seed(s), mean ± 1 sd)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, out_dir, f"{run.name}_neg_fraction")


def reinit_heatmaps(run, out_dir):
    """(c) Re-initialization drops, layer x reset epoch (+ re-randomization), per seed and averaged."""
    if run.reinit is None:
        return []
    r = run.reinit
    columns = [str(e) for e in r.epochs] + [f"rand{i}" for i in range(r.rerandomize)]
    panels = [(f"seed {s}", r.drop[i]) for i, s in enumerate(run.seeds)] + [("mean over seeds", np.nanmean(r.drop, axis=0))]
    fig, axes = _grid(len(panels))
    for position, (ax, (title, drop)) in enumerate(zip(axes, panels)):
        image = ax.imshow(drop.T, origin="lower", aspect="auto", cmap="viridis", vmin=0, vmax=max(1e-9, np.nanmax(r.drop)))
        ax.set_xticks(range(len(run.layer_index)), [str(i) for i in run.layer_index], fontsize=7)
        ax.set_yticks(range(len(columns)), columns, fontsize=7)
        ax.set(xlabel="conv layer", ylabel="reset to epoch" if position % 4 == 0 else "", title=title)
    fig.colorbar(image, ax=list(axes), shrink=0.8, label="relative test accuracy drop")
    fig.suptitle(f"{run.name}: layer re-initialization")
    return _save(fig, out_dir, f"{run.name}_reinit")


def _nanmean(values):
    with warnings.catch_warnings():  # epochs without a value (e.g. test accuracy) stay NaN, quietly
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(values, axis=0)


def training_curves(run, out_dir):
    """(d) Train/validation loss rescaled by its maximum, and accuracy, over epochs (mean over seeds)."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(9, 3.2), constrained_layout=True)
    epochs = np.arange(run.epochs + 1)
    for key, label in [("train_loss", "train"), ("val_loss", "validation")]:
        values = _nanmean(run.metrics[key])
        if np.isfinite(values).any():
            loss_ax.plot(epochs, values / np.nanmax(values), label=label)
    for key, label in [("train_accuracy", "train"), ("val_accuracy", "validation"), ("test_accuracy", "test")]:
        values = _nanmean(run.metrics[key])
        if np.isfinite(values).any():
            acc_ax.plot(epochs, values, marker="o" if key == "test_accuracy" else None, label=label)
    loss_ax.set(xlabel="epoch", ylabel="loss / max", title="loss (rescaled)")
    acc_ax.set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    loss_ax.legend(fontsize=8)
    acc_ax.legend(fontsize=8)
    return _save(fig, out_dir, f"{run.name}_training")


def config_value(run, name, default=None):
    """An option of the run's stored hpa-train configuration ("name = value" lines)."""
    for line in run.config.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            return value.strip()
    return default


def lr_drop_epochs(run, factor=2.0):
    """Epochs whose learning rate is at least `factor` times lower than the epoch before: the step
    schedule's drops, which the paper marks with red ticks (smooth schedules have none)."""
    lr = _nanmean(run.metrics["lr"]) if "lr" in run.metrics else np.array([])
    return [e for e in range(2, len(lr)) if np.isfinite(lr[e]) and np.isfinite(lr[e - 1]) and lr[e] * factor <= lr[e - 1]]


def layer_panels(count, most=8):
    """Consecutive layer positions in the fewest panels of at most `most` layers, sizes as even as
    possible (16 -> 8 + 8, 13 -> 7 + 6)."""
    panels = -(-count // most)
    base, extra = divmod(count, panels)
    bounds, start = [], 0
    for p in range(panels):
        size = base + (1 if p < extra else 0)
        bounds.append(list(range(start, start + size)))
        start += size
    return bounds


def _paper_column(axes, run, title):
    """n_l panels (at most 8 layers each) with red ticks at learning-rate drops, and under them the
    training panel: train/validation loss over their maxima and accuracy, as the paper's Figs 5-8."""
    epochs = completed_epochs(run)
    values = run.neg_fraction[:, epochs, :]
    mean, std = values.mean(axis=0), values.std(axis=0)
    drops = lr_drop_epochs(run)
    panels = layer_panels(len(run.layer_index))
    colors = plt.get_cmap("tab10")
    for ax, layers in zip(axes, panels):
        for k, l in enumerate(layers):
            ax.plot(epochs, mean[:, l], color=colors(k), label=f"layer {run.layer_index[l]}")
            ax.fill_between(epochs, mean[:, l] - std[:, l], mean[:, l] + std[:, l], color=colors(k), alpha=0.2)
        ax.axhline(0.5, color="k", lw=0.8, ls="--")
        ax.set(ylim=(-0.02, 1.02), ylabel="n_l")
        ax.legend(fontsize=6, ncol=2, loc="best")
    axes[0].set_title(title, fontsize=9)
    train_ax = axes[len(panels)]
    all_epochs = np.arange(run.epochs + 1)
    for key, label, style in [("train_loss", "train loss / max", "-"), ("val_loss", "val loss / max", "-"),
                              ("train_accuracy", "train accuracy", "--"), ("val_accuracy", "val accuracy", "--")]:
        series = _nanmean(run.metrics[key]) if key in run.metrics else np.array([np.nan])
        if not np.isfinite(series).any():
            continue
        if key.endswith("loss"):
            series = series / np.nanmax(series)
        train_ax.plot(all_epochs, series, style, label=label)
    train_ax.set(xlabel="epoch", ylim=(-0.02, 1.02))
    train_ax.legend(fontsize=6, ncol=2, loc="best")
    for ax in axes[: len(panels) + 1]:
        for epoch in drops:  # red ticks on the epoch axis, as the paper marks learning-rate drops
            ax.plot([epoch], [0], marker="|", color="red", markersize=14, markeredgewidth=2, clip_on=False,
                    transform=ax.get_xaxis_transform())
    return drops


def paper_figure(run, out_dir):
    """n_l against epoch in panels of at most 8 layers, red ticks at learning-rate drops, and the
    training curves under them (the paper's Figs 5-8, 15, 17, 20)."""
    rows = len(layer_panels(len(run.layer_index))) + 1
    fig, axes = plt.subplots(rows, 1, figsize=(7, 2.4 * rows), sharex=True, squeeze=False, constrained_layout=True)
    schedule = config_value(run, "lr-schedule", "?")
    _paper_column(axes[:, 0], run, f"{run.name}: {run.arch} on {run.dataset}, {schedule} schedule, "
                                   f"{len(run.seeds)} seed(s), mean ± 1 sd")
    return _save(fig, out_dir, f"{run.name}_paper")


def schedules_side_by_side(runs, out_dir, stem):
    """Runs of one architecture and dataset with different schedules, one column each, step first
    (the paper's Fig. 22)."""
    order = {"step": 0, "exp": 1, "mult": 2}
    runs = sorted(runs, key=lambda r: order.get(config_value(r, "lr-schedule"), 3))
    rows = max(len(layer_panels(len(r.layer_index))) for r in runs) + 1
    fig, axes = plt.subplots(rows, len(runs), figsize=(6 * len(runs), 2.4 * rows), sharey=True, squeeze=False,
                             constrained_layout=True)
    for column, run in enumerate(runs):
        used = len(layer_panels(len(run.layer_index))) + 1
        _paper_column(axes[:used, column], run, f"{run.name}: {config_value(run, 'lr-schedule', '?')} schedule")
        for ax in axes[used:, column]:
            ax.axis("off")
    return _save(fig, out_dir, stem)


def first_layer_across_runs(runs, out_dir):
    """(e) The first layer's n_l across several runs in one plot."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for run in runs:
        epochs = completed_epochs(run)
        values = run.neg_fraction[:, epochs, 0]
        ax.plot(epochs, values.mean(axis=0), label=f"{run.name} ({run.arch}, {run.dataset})")
        ax.fill_between(epochs, values.min(axis=0), values.max(axis=0), alpha=0.2)
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ax.set(xlabel="epoch", ylabel="n_1", ylim=(-0.02, 1.02), title="first conv layer across runs")
    ax.legend(fontsize=7)
    return _save(fig, out_dir, "first_layer_across_runs")


def external_model(model_report, random_report, out_dir, stem="external_model"):
    """(f) hpa-stats --json of an external model against a random init of the same architecture."""
    layers = model_report["layers"]
    random_layers = {layer["name"]: layer for layer in random_report["layers"]}
    fig, axes = _grid(len(layers))
    for ax, layer in zip(axes, layers):
        trained = np.asarray(layer["cosines"])
        reference = np.asarray(random_layers[layer["name"]]["cosines"]) if layer["name"] in random_layers else None
        values = trained if reference is None else np.concatenate([trained, reference])
        bins = np.linspace(values.min(), values.max(), 30)
        if reference is not None:
            ax.hist(reference, bins=bins, alpha=0.6, label="random init")
        ax.hist(trained, bins=bins, alpha=0.6, label="model")
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"layer {layer['index']} ({layer['name']}), n_l={layer['neg_fraction']:.2f}", fontsize=8)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{model_report.get('source', 'model')} against {random_report.get('source_kind', 'random init')}")
    return _save(fig, out_dir, stem)

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

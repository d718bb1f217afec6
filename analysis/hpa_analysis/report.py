"""The report: every figure the given runs support, the statistics as Markdown and JSON, and an
index.md that shows them together."""
import json
import os

from . import figures, statistics
from .runs import load_run


def write_report(run_paths, out_dir, external=None):
    """Returns the index path. `external`: optional (model_json, random_json) pair of hpa-stats files."""
    runs = [load_run(path) for path in run_paths]
    os.makedirs(out_dir, exist_ok=True)
    index = ["# hpa report", ""]
    all_stats = {}
    tables = []
    for run in runs:
        rows = statistics.layer_epoch_statistics(run)
        correlation = statistics.bias_drop_correlation(run)
        all_stats[run.name] = {"path": run.path, "arch": run.arch, "dataset": run.dataset, "seeds": run.seeds,
                               "layers": rows, "bias_drop_correlation": correlation}
        tables.append(statistics.markdown_table(run, rows, correlation))
        index += [f"## {run.name}", ""]
        for paths in [figures.training_curves(run, out_dir), figures.neg_fraction_over_epochs(run, out_dir),
                      figures.histograms(run, out_dir), figures.reinit_heatmaps(run, out_dir)]:
            if paths:
                index.append(f"![{os.path.basename(paths[0])}]({os.path.basename(paths[0])})")
                index.append("")
        index.append(tables[-1])
    if len(runs) > 1:
        paths = figures.first_layer_across_runs(runs, out_dir)
        index += ["## First layer across runs", "", f"![first layer]({os.path.basename(paths[0])})", ""]
    if external:
        with open(external[0]) as f:
            model_report = json.load(f)
        with open(external[1]) as f:
            random_report = json.load(f)
        paths = figures.external_model(model_report, random_report, out_dir)
        index += ["## External model", "", f"![external model]({os.path.basename(paths[0])})", ""]
    with open(os.path.join(out_dir, "statistics.md"), "w") as f:
        f.write("\n".join(tables))
    with open(os.path.join(out_dir, "statistics.json"), "w") as f:
        json.dump(all_stats, f, indent=1, allow_nan=True)
    index_path = os.path.join(out_dir, "index.md")
    with open(index_path, "w") as f:
        f.write("\n".join(index))
    return index_path

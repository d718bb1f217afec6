"""The report: every figure the given runs support, the statistics as Markdown and JSON, a page per
run (experiment) and an index.md that links them and shows the figures across runs."""
import json
import os
from collections import defaultdict

from . import claims as claim_table
from . import figures, statistics
from .runs import RunError, load_run


def _image(paths, alt=None):
    name = os.path.basename(paths[0])
    return [f"![{alt or name}]({name})", ""]


def write_report(run_paths, out_dir, external=None, claims=None, data_label=None):
    """Returns the index path. `external`: optional (model_json, random_json) pair of hpa-stats files.
    `claims`: optional role -> run path of the reproduction (claims.ROLES); writes reproduction.md."""
    claims = claims or {}
    given = {os.path.realpath(path) for path in run_paths}
    paths = list(run_paths) + [path for path in claims.values() if os.path.realpath(path) not in given]
    runs = [load_run(path) for path in paths]
    names = [run.name for run in runs]
    if len(set(names)) != len(names):
        raise RunError(f"two runs share the folder name {max(names, key=names.count)!r}: their figures would "
                            "overwrite each other; give the runs distinct folder names")
    os.makedirs(out_dir, exist_ok=True)
    index = ["# hpa report", ""]
    if claims:
        by_path = {os.path.realpath(run.path): run for run in runs}
        path = claim_table.write_reproduction({role: by_path[os.path.realpath(p)] for role, p in claims.items()},
                                              out_dir, data_label)
        index += [f"The paper's claims, decided on these runs: [reproduction.md]({os.path.basename(path)})", ""]
    index += ["| run | arch | dataset | schedule | seeds | epochs |", "|---|---|---|---|---|---|"]
    all_stats = {}
    tables = []
    for run in runs:
        rows = statistics.layer_epoch_statistics(run)
        correlation = statistics.bias_drop_correlation(run)
        all_stats[run.name] = {"path": run.path, "arch": run.arch, "dataset": run.dataset, "seeds": run.seeds,
                               "lr_schedule": figures.config_value(run, "lr-schedule"),
                               "lr_drop_epochs": figures.lr_drop_epochs(run),
                               "layers": rows, "bias_drop_correlation": correlation}
        tables.append(statistics.markdown_table(run, rows, correlation))
        page = [f"# {run.name}: {run.arch} on {run.dataset}", "", f"Run directory: `{run.path}`", "",
                "Stored configuration:", "", "```", run.config.strip(), "```", ""]
        for paths in [figures.paper_figure(run, out_dir), figures.training_curves(run, out_dir),
                      figures.neg_fraction_over_epochs(run, out_dir), figures.histograms(run, out_dir),
                      figures.reinit_heatmaps(run, out_dir)]:
            if paths:
                page += _image(paths)
        page.append(tables[-1])
        with open(os.path.join(out_dir, f"{run.name}.md"), "w") as f:
            f.write("\n".join(page))
        index.append(f"| [{run.name}]({run.name}.md) | {run.arch} | {run.dataset} | "
                     f"{figures.config_value(run, 'lr-schedule', '?')} | {len(run.seeds)} | {run.epochs} |")
    index.append("")
    for run in runs:
        index += [f"## {run.name}", "", f"Its page: [{run.name}.md]({run.name}.md)", ""]
        index += _image([os.path.join(out_dir, f"{run.name}_paper.png")])
    groups = defaultdict(list)
    for run in runs:
        groups[(run.arch, run.dataset)].append(run)
    for (arch, dataset), group in sorted(groups.items()):
        schedules = {figures.config_value(run, "lr-schedule") for run in group}
        if len(group) > 1 and len(schedules) > 1:
            paths = figures.schedules_side_by_side(group, out_dir, f"schedules_{arch}_{dataset}")
            index += [f"## Learning-rate schedules side by side: {arch} on {dataset}", ""] + _image(paths)
    if len(runs) > 1:
        paths = figures.first_layer_across_runs(runs, out_dir)
        index += ["## First layer across runs", ""] + _image(paths, "first layer")
    if external:
        with open(external[0]) as f:
            model_report = json.load(f)
        with open(external[1]) as f:
            random_report = json.load(f)
        paths = figures.external_model(model_report, random_report, out_dir)
        index += ["## External model", ""] + _image(paths, "external model")
    with open(os.path.join(out_dir, "statistics.md"), "w") as f:
        f.write("\n".join(tables))
    with open(os.path.join(out_dir, "statistics.json"), "w") as f:
        json.dump(all_stats, f, indent=1, allow_nan=True)
    index_path = os.path.join(out_dir, "index.md")
    with open(index_path, "w") as f:
        f.write("\n".join(index))
    return index_path

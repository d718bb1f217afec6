"""pytest for analysis/hpa_analysis on small run directories made in the test by the real hpa-train,
hpa-reinit-grid and hpa-stats (HPA_BUILD_DIR, default build/release)."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import matplotlib.image
import numpy as np
import pytest
from scipy import stats

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("HPA_BUILD_DIR", os.path.join(ROOT, "build", "release")), "src")
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
sys.path.insert(0, os.path.join(ROOT, "analysis"))


def run(args, **kwargs):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args}: {result.stderr}"
    return result


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("runs")
    common = ["--data-dir", FASHION_MNIST, "--train-subset", "1500", "--test-subset", "500", "--epochs", "2",
              "--batch-size", "32", "--lr", "0.02", "--init", "torchvision", "--augment", "false", "--threads", "2"]
    with_grid, plain = work / "with_grid", work / "plain"
    run([os.path.join(BIN, "hpa-train"), "--out", with_grid, "--seeds", "1,2", *common])
    run([os.path.join(BIN, "hpa-reinit-grid"), with_grid, "--rerandomize", "1", "--threads", "2"])
    run([os.path.join(BIN, "hpa-train"), "--out", plain, "--seeds", "3", *common])
    # Two schedules of one model: step with a drop every epoch, and smooth (no drop of 2x or more).
    stepped, smooth = work / "stepped", work / "smooth"
    at = common.index("--epochs") + 1
    short = common[:at] + ["3"] + common[at + 1:]
    run([os.path.join(BIN, "hpa-train"), "--out", stepped, "--seeds", "4", *short, "--lr-schedule", "step",
         "--lr-step", "1"])
    run([os.path.join(BIN, "hpa-train"), "--out", smooth, "--seeds", "4", *short, "--lr-schedule", "exp"])
    # (f): an external model file (a torchvision state_dict) and a random init of its architecture.
    import torch
    import torchvision
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), work / "alexnet.pth")
    run([os.path.join(BIN, "hpa-stats"), work / "alexnet.pth", "--json", work / "model.json"])
    run([os.path.join(BIN, "hpa-stats"), "--arch", "alexnet", "--init", "torchvision", "--json", work / "random.json"])
    return {"with_grid": str(with_grid), "plain": str(plain), "stepped": str(stepped), "smooth": str(smooth),
            "model": str(work / "model.json"),
            "random": str(work / "random.json"), "work": work}


def report(args):
    return subprocess.run([sys.executable, "-m", "hpa_analysis", "report", *map(str, args)], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "analysis")))


def test_every_figure_is_a_valid_image(runs):
    out = runs["work"] / "report_all"
    result = report([runs["with_grid"], runs["plain"], "--out", out, "--external", runs["model"], runs["random"]])
    assert result.returncode == 0, result.stderr
    stems = ["with_grid_paper", "with_grid_histograms", "with_grid_neg_fraction", "with_grid_reinit",
             "with_grid_training", "plain_paper", "plain_histograms", "plain_neg_fraction", "plain_training",
             "first_layer_across_runs", "external_model"]
    for stem in stems:
        png = matplotlib.image.imread(out / f"{stem}.png")
        assert png.ndim == 3 and png.shape[0] > 100 and png.shape[1] > 100, stem
        assert png.std() > 0, f"{stem}.png is blank"
        with open(out / f"{stem}.pdf", "rb") as f:
            assert f.read(5) == b"%PDF-", stem
    # The index shows the figures across runs and each run's paper figure; its page shows the rest.
    pages = {name: (out / f"{name}.md").read_text() for name in ("index", "with_grid", "plain")}
    for stem in stems:
        assert any(f"{stem}.png" in page for page in pages.values()), stem
    assert "(with_grid.md)" in pages["index"] and "(plain.md)" in pages["index"]
    assert "Spearman" in (out / "statistics.md").read_text()


def test_statistics_equal_a_direct_computation(runs):
    out = runs["work"] / "report_stats"
    assert report([runs["with_grid"], "--out", out]).returncode == 0
    numbers = json.load(open(out / "statistics.json"))["with_grid"]
    with h5py.File(os.path.join(runs["with_grid"], "run.h5"), "r") as f:
        names = [n.decode() for n in f["model/layers"]["name"]]
        assert len(numbers["layers"]) == len(names) * 3  # every layer at epochs 0, 1, 2
        for row in numbers["layers"]:
            weights = f[f"params/{row['name']}.weight"][:, row["epoch"]].astype(np.float64)
            flat = weights.reshape(weights.shape[0], weights.shape[1], -1)
            cosines = flat.sum(axis=2) / (np.linalg.norm(flat, axis=2) * np.sqrt(flat.shape[2]))
            counts = (cosines <= 0).sum(axis=1)
            assert row["non_positive"] == list(counts)
            assert np.allclose(row["n_l"], counts / flat.shape[1])
            for count, p in zip(counts, row["binomial_p"]):
                assert p == pytest.approx(stats.binomtest(int(count), flat.shape[1], 0.5).pvalue, rel=1e-12)
            n_l = counts / flat.shape[1]
            assert row["mean"] == pytest.approx(n_l.mean())
            assert row["std"] == pytest.approx(n_l.std(ddof=1))
            # Clopper-Pearson from the beta quantiles, over the filters of both seeds pooled.
            k, n = int(counts.sum()), int(counts.size * flat.shape[1])
            low = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
            high = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
            assert row["ci95"] == pytest.approx([low, high], rel=1e-9, abs=1e-12)
            assert 0.0 <= row["ci95"][0] <= row["mean"] <= row["ci95"][1] <= 1.0
        bias = np.abs(f["stats/neg_fraction"][:, 2, :] - 0.5).mean(axis=0)
    with h5py.File(os.path.join(runs["with_grid"], "reinit.h5"), "r") as g:
        drop = g["drop"][:, :, 0].mean(axis=0)  # reset to epoch 0
    expected = stats.spearmanr(bias, drop)
    correlation = numbers["bias_drop_correlation"]
    assert correlation["bias"] == pytest.approx(list(bias))
    assert correlation["drop"] == pytest.approx(list(drop))
    assert correlation["spearman_rho"] == pytest.approx(expected.correlation)
    assert correlation["p_value"] == pytest.approx(expected.pvalue)


def test_run_without_reinit_reports_what_it_has(runs):
    out = runs["work"] / "report_plain"
    result = report([runs["plain"], "--out", out])
    assert result.returncode == 0, result.stderr
    assert not (out / "plain_reinit.png").exists()
    assert (out / "plain_neg_fraction.png").exists() and (out / "plain_histograms.png").exists()
    assert json.load(open(out / "statistics.json"))["plain"]["bias_drop_correlation"] is None
    assert "No re-initialization results" in (out / "statistics.md").read_text()


def test_not_a_run_directory_is_one_clear_error(runs, tmp_path):
    result = report([tmp_path, "--out", tmp_path / "out"])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and str(tmp_path) in lines[0] and "not a run directory" in lines[0]
    other = tmp_path / "other_schema"
    shutil.copytree(runs["plain"], other)
    with h5py.File(other / "run.h5", "r+") as f:
        f.attrs["schema_version"] = 7
    result = report([other, "--out", tmp_path / "out2"])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "version 7" in lines[0]


def test_layer_panels_hold_at_most_8_consecutive_layers():
    from hpa_analysis.figures import layer_panels
    for count in range(1, 41):
        panels = layer_panels(count)
        assert [l for panel in panels for l in panel] == list(range(count))
        assert all(1 <= len(panel) <= 8 for panel in panels)
        assert len(panels) == -(-count // 8)  # no more panels than needed
        assert max(map(len, panels)) - min(map(len, panels)) <= 1
    assert [len(p) for p in layer_panels(16)] == [8, 8]  # VGG19


def red_pixels(png_path):
    image = matplotlib.image.imread(png_path)[..., :3]
    return int(((image[..., 0] > 0.95) & (image[..., 1] < 0.05) & (image[..., 2] < 0.05)).sum())


def test_red_ticks_at_learning_rate_drops_and_schedules_side_by_side(runs):
    out = runs["work"] / "report_schedules"
    result = report([runs["smooth"], runs["stepped"], "--out", out])
    assert result.returncode == 0, result.stderr
    numbers = json.load(open(out / "statistics.json"))
    # The step schedule's rate, computed here from its definition: 0.02 x 0.1^(epoch - 1) (lr-step 1).
    lr = {e: 0.02 * 0.1 ** (e - 1) for e in range(1, 4)}
    assert numbers["stepped"]["lr_drop_epochs"] == [e for e in range(2, 4) if lr[e] <= lr[e - 1] / 2] == [2, 3]
    assert numbers["smooth"]["lr_drop_epochs"] == []  # 10^(-1/25) per epoch: no drop to mark
    with h5py.File(os.path.join(runs["stepped"], "run.h5"), "r") as f:
        assert np.allclose(f["metrics/lr"][0, 1:], [lr[e] for e in range(1, 4)])
    # Red ticks are drawn for the drops only (matplotlib's default colours are never pure red).
    assert red_pixels(out / "stepped_paper.png") > 20
    assert red_pixels(out / "smooth_paper.png") == 0
    side_by_side = out / "schedules_lenet_fashion-mnist.png"
    assert red_pixels(side_by_side) > 20
    assert "schedules_lenet_fashion-mnist.png" in (out / "index.md").read_text()


def test_runs_with_one_folder_name_are_refused(runs, tmp_path):
    twin = tmp_path / "plain"
    shutil.copytree(runs["plain"], twin)
    result = report([runs["plain"], twin, "--out", tmp_path / "out"])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "plain" in lines[0]


def test_hpa_report_command_from_any_directory(runs, tmp_path):
    """The report command as users get it: CMake's hpa-report (Debian's python3, no pip), and the
    console command of `pip install ./analysis` in a virtual environment; neither needs PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    launcher = os.path.join(os.path.dirname(BIN), "hpa-report")
    result = subprocess.run([launcher, runs["plain"], "--out", tmp_path / "cmake"], capture_output=True, text=True,
                            cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cmake" / "plain_paper.png").exists()
    venv = tmp_path / "venv"
    run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", venv])
    source = tmp_path / "analysis_source"  # pip builds in the source folder: keep the checkout clean
    shutil.copytree(os.path.join(ROOT, "analysis"), source, ignore=shutil.ignore_patterns("__pycache__"))
    run([venv / "bin" / "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation", source],
        cwd=tmp_path, env=env)
    result = subprocess.run([venv / "bin" / "hpa-report", runs["plain"], "--out", tmp_path / "pip"],
                            capture_output=True, text=True, cwd="/", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pip" / "index.md").exists()


def test_claim_table_from_real_runs(runs):
    """hpa-report --claim on runs of the real executables: the claim table, roles not run, and the layer
    table's counts, intervals and drops against a direct computation from run.h5 and reinit.h5."""
    out = runs["work"] / "report_claims"
    result = report(["--claim", f"E1={runs['with_grid']}", "--claim", f"E3={runs['plain']}", "--out", out,
                     "--data-label", "Fashion-MNIST (test)"])
    assert result.returncode == 0, result.stderr
    page = (out / "reproduction.md").read_text()
    assert "[reproduction.md](reproduction.md)" in (out / "index.md").read_text()
    assert "Fashion-MNIST (test)" in page
    numbers = json.load(open(out / "reproduction.json"))
    assert [c["id"] for c in numbers["claims"]] == [f"C{i}" for i in range(1, 10)]
    verdicts = {c["id"]: c["verdict"] for c in numbers["claims"]}
    assert verdicts["C4"] == verdicts["C6"] == verdicts["C7"] == verdicts["C8"] == "not run"  # E2, E4, E5 absent
    assert verdicts["C9"] == "not testable here"
    for role in ("E2", "E4", "E4-clean", "E5"):
        assert f"| {role} | not run |" in page
    with h5py.File(os.path.join(runs["with_grid"], "run.h5"), "r") as f, \
            h5py.File(os.path.join(runs["with_grid"], "reinit.h5"), "r") as g:
        last = int(f.attrs["epochs"])
        drop = g["drop"][:, :, list(g["epochs"][()]).index(0)]
        for l, row in enumerate(numbers["layers"]["E1"]):
            weights = f[f"params/{row['name']}.weight"][:, last].astype(np.float64)
            flat = weights.reshape(weights.shape[0], weights.shape[1], -1)
            cosines = flat.sum(axis=2) / (np.linalg.norm(flat, axis=2) * np.sqrt(flat.shape[2]))
            counts = (cosines <= 0).sum(axis=1)
            assert row["non_positive"] == list(counts)
            k, n = int(counts.sum()), int(counts.size * flat.shape[1])
            low = 0.0 if k == 0 else stats.beta.ppf(0.025, k, n - k + 1)
            high = 1.0 if k == n else stats.beta.ppf(0.975, k + 1, n - k)
            assert row["ci95"] == pytest.approx([low, high], rel=1e-9, abs=1e-12)
            assert " / ".join(f"{d:.3f}" for d in drop[:, l]) in page


def test_malformed_claims_are_one_clear_error(runs, tmp_path):
    for args, words in [(["--claim", f"E9={runs['plain']}"], ["--claim", "E9="]),
                        (["--claim", "E1"], ["--claim", "'E1'"]),
                        (["--claim", f"E1={runs['plain']}", "--claim", f"E1={runs['with_grid']}"], ["--claim", "E1 given twice"]),
                        ([], ["--claim"])]:
        result = report([*args, "--out", tmp_path / "out"])
        assert result.returncode == 2, (args, result.stderr)
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("python3 -m hpa_analysis report: error:") or "error:" in last, last
        assert all(word in last for word in words), (words, last)
    assert not (tmp_path / "out").exists()
    result = report(["--claim", f"E1={tmp_path}", "--out", tmp_path / "out"])
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1 and "not a run directory" in lines[0]

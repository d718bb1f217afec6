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
    # (f): an external model file (a torchvision state_dict) and a random init of its architecture.
    import torch
    import torchvision
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet().state_dict(), work / "alexnet.pth")
    run([os.path.join(BIN, "hpa-stats"), work / "alexnet.pth", "--json", work / "model.json"])
    run([os.path.join(BIN, "hpa-stats"), "--arch", "alexnet", "--init", "torchvision", "--json", work / "random.json"])
    return {"with_grid": str(with_grid), "plain": str(plain), "model": str(work / "model.json"),
            "random": str(work / "random.json"), "work": work}


def report(args):
    return subprocess.run([sys.executable, "-m", "hpa_analysis", "report", *map(str, args)], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "analysis")))


def test_every_figure_is_a_valid_image(runs):
    out = runs["work"] / "report_all"
    result = report([runs["with_grid"], runs["plain"], "--out", out, "--external", runs["model"], runs["random"]])
    assert result.returncode == 0, result.stderr
    stems = ["with_grid_histograms", "with_grid_neg_fraction", "with_grid_reinit", "with_grid_training",
             "plain_histograms", "plain_neg_fraction", "plain_training", "first_layer_across_runs", "external_model"]
    for stem in stems:
        png = matplotlib.image.imread(out / f"{stem}.png")
        assert png.ndim == 3 and png.shape[0] > 100 and png.shape[1] > 100, stem
        assert png.std() > 0, f"{stem}.png is blank"
        with open(out / f"{stem}.pdf", "rb") as f:
            assert f.read(5) == b"%PDF-", stem
    index = (out / "index.md").read_text()
    for stem in stems:
        assert f"{stem}.png" in index, stem
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
            half = stats.t.ppf(0.975, 1) * n_l.std(ddof=1) / np.sqrt(2)
            assert row["ci95"] == pytest.approx([n_l.mean() - half, n_l.mean() + half])
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

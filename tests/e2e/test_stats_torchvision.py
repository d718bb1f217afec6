"""hpa-stats against torchvision's own files: Debian's python3-torch and python3-torchvision write
state_dicts (random init, no download; also in the legacy pre-1.6 format of torchvision's published
weights) and a TorchScript archive; every filter's cosine must match a
numpy computation of the paper's formula to 1e-6. Malformed inputs must give one error line and a
non-zero exit.

usage: test_stats_torchvision.py PATH/TO/hpa-stats
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchvision

HPA_STATS = sys.argv[1]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message)


def numpy_cosines(weight):
    rows = weight.detach().numpy().astype(np.float64).reshape(weight.shape[0], -1)
    norms = np.linalg.norm(rows, axis=1)
    return rows.sum(axis=1) / (norms * np.sqrt(rows.shape[1]))


def run(*args):
    return subprocess.run([HPA_STATS, *args], capture_output=True, text=True)


def compare(path, state, arch, with_linear=False):
    json_path = path + ".json"
    args = [path, "--json", json_path] + (["--arch", arch] if arch else []) + (["--with-linear"] if with_linear else [])
    result = run(*args)
    check(result.returncode == 0, f"{path}: exit {result.returncode}: {result.stderr}")
    if result.returncode != 0:
        return
    with open(json_path) as f:
        report = json.load(f)
    convs = [(k, v) for k, v in state.items() if k.endswith(".weight") and v.dim() == 4 and v.shape[-1] > 1]
    linears = [(k, v) for k, v in state.items() if k.endswith(".weight") and v.dim() == 2] if with_linear else []
    expected = convs + linears
    check(len(report["layers"]) == len(expected), f"{path}: {len(report['layers'])} layers, expected {len(expected)}")
    worst = 0.0
    for index, (layer, (name, weight)) in enumerate(zip(report["layers"], expected), start=1):
        check(layer["index"] == index, f"{path}: layer {name} has index {layer['index']}")
        check(layer["name"] == name[: -len(".weight")], f"{path}: layer name {layer['name']} != {name}")
        cosines = numpy_cosines(weight)
        got = np.array(layer["cosines"])
        check(got.shape == cosines.shape, f"{path}: {name}: {got.shape} cosines, expected {cosines.shape}")
        worst = max(worst, float(np.abs(got - cosines).max()))
        n_l = float(np.mean(cosines <= 0))
        check(abs(layer["neg_fraction"] - n_l) < 1e-12, f"{path}: {name}: n_l {layer['neg_fraction']} != {n_l}")
    check(worst < 1e-6, f"{path}: largest cosine difference {worst}")
    print(f"{os.path.basename(path)}: {len(expected)} layers, largest |cosine - numpy| = {worst:.2e}")


def expect_error(args, needle):
    result = run(*args)
    lines = result.stderr.strip().splitlines()
    check(result.returncode != 0, f"{args}: exit 0, expected an error")
    check(len(lines) == 1, f"{args}: expected one error line, got {lines}")
    check(bool(lines) and needle in lines[0], f"{args}: error {lines} does not mention {needle!r}")


with tempfile.TemporaryDirectory() as tmp:
    torch.manual_seed(0)
    models = {"vgg11": torchvision.models.vgg11(), "alexnet": torchvision.models.alexnet()}
    for arch, model in models.items():
        path = os.path.join(tmp, arch + ".pth")
        torch.save(model.state_dict(), path)
        compare(path, model.state_dict(), arch)
    compare(os.path.join(tmp, "vgg11.pth"), models["vgg11"].state_dict(), None, with_linear=True)

    # The legacy (pre-1.6, non-zip) torch.save format of torchvision's published weights.
    for arch, model in models.items():
        legacy = os.path.join(tmp, arch + "_legacy.pth")
        torch.save(model.state_dict(), legacy, _use_new_zipfile_serialization=False)
        compare(legacy, model.state_dict(), arch)
    legacy = os.path.join(tmp, "vgg11_legacy.pth")
    with open(legacy, "rb") as f:
        data = f.read()
    for cut in [20, len(data) // 3, len(data) - 1]:
        cut_path = os.path.join(tmp, f"legacy_cut_{cut}.pth")
        with open(cut_path, "wb") as f:
            f.write(data[:cut])
        expect_error([cut_path], cut_path)
    extra = os.path.join(tmp, "legacy_extra.pth")
    with open(extra, "wb") as f:
        f.write(data + b"\0" * 8)
    expect_error([extra], "after the last storage")

    # A trained-looking layer with an exact zero: its filter counts as non-positive.
    model = models["vgg11"]
    with torch.no_grad():
        model.features[0].weight[0].zero_()
        model.features[0].weight[1].fill_(1.0)
        model.features[0].weight[1][0, 0, 0] = -26.0  # sum exactly 0
    path = os.path.join(tmp, "vgg11_zero.pth")
    torch.save(model.state_dict(), path)
    compare_state = model.state_dict()
    result = run(path, "--json", path + ".json")
    report = json.load(open(path + ".json"))
    check(report["layers"][0]["cosines"][0] == 0.0 and report["layers"][0]["cosines"][1] == 0.0,
          "zero filter and zero-sum filter must have cosine 0")

    # TorchScript archive of a small ConvNet with a 1x1 convolution (skipped by the statistic).
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 1),
                              torch.nn.Conv2d(4, 6, 5))
    ts_path = os.path.join(tmp, "net.pt")
    torch.jit.script(net).save(ts_path)
    state = {k: v for k, v in net.state_dict().items()}
    compare(ts_path, state, None)
    check("torchscript" in run(ts_path).stdout, "TorchScript input not reported as such")

    # Malformed inputs: one line, non-zero exit, naming the file or parameter.
    text_path = os.path.join(tmp, "notes.txt")
    with open(text_path, "w") as f:
        f.write("not a model\n")
    expect_error([text_path], text_path)
    truncated = os.path.join(tmp, "truncated.pth")
    with open(os.path.join(tmp, "vgg11.pth"), "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 3])
    expect_error([truncated], truncated)
    expect_error([os.path.join(tmp, "alexnet.pth"), "--arch", "vgg11"], "features.0.weight")
    expect_error([os.path.join(tmp, "vgg11.pth"), "--arch", "vgg11", "--num-classes", "10"], "classifier.6.weight")
    expect_error([os.path.join(tmp, "missing.pth")], "missing.pth")
    torch.save(torchvision.models.vgg11(), os.path.join(tmp, "whole.pth"))
    expect_error([os.path.join(tmp, "whole.pth")], "state_dict")
    expect_error(["--arch", "resnet50"], "resnet50")
    expect_error([], "--arch")
    expect_error(["--bogus"], "--bogus")

    # --arch alone reports a random init, reproducibly.
    a, b = run("--arch", "lenet", "--seed", "3", "--in-channels", "1", "--num-classes", "10"), run(
        "--arch", "lenet", "--seed", "3", "--in-channels", "1", "--num-classes", "10")
    check(a.returncode == 0 and a.stdout == b.stdout, "random-init report is not reproducible")
    other = run("--arch", "lenet", "--seed", "4", "--in-channels", "1", "--num-classes", "10")
    table = lambda text: text.splitlines()[1:]  # below the source line, which names the seed
    check(other.returncode == 0 and table(other.stdout) != table(a.stdout), "--seed does not change the random init")

if failures:
    print(f"{len(failures)} checks failed")
    sys.exit(1)
print("all checks passed")

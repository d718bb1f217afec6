"""Loading run directories into plain numpy arrays, refusing what is not a run of a known schema."""
import os
from dataclasses import dataclass, field

import h5py
import numpy as np

from . import SCHEMA_VERSIONS


class RunError(Exception):
    """A path that is not a readable hpa run directory; the message names it."""


@dataclass
class Reinit:
    epochs: np.ndarray          # [E']
    rerandomize: int
    accuracy: np.ndarray        # [S, L, E'+R], NaN where not evaluated
    baseline: np.ndarray        # [S]
    drop: np.ndarray            # [S, L, E'+R]


@dataclass
class Run:
    path: str
    name: str
    arch: str
    dataset: str
    seeds: list
    epochs: int
    layer_index: np.ndarray     # [L], 1-based
    layer_names: list
    neg_fraction: np.ndarray    # [S, E+1, L]
    cosines: dict               # layer name -> [S, E+1, F]
    metrics: dict               # metric name -> [S, E+1]
    dist_l2: np.ndarray = None  # [S, E+1, L]: ||W_e - W_0|| / ||W_0|| of each conv weight
    reinit: Reinit = None
    config: str = ""
    extra: dict = field(default_factory=dict)


def load_run(path):
    run_file = os.path.join(path, "run.h5")
    if not os.path.isdir(path) or not os.path.isfile(run_file):
        raise RunError(f"{path}: not a run directory (no run.h5)")
    try:
        f = h5py.File(run_file, "r")
    except OSError as error:
        raise RunError(f"{run_file}: not readable as HDF5 ({error})") from None
    with f:
        version = f.attrs.get("schema_version")
        if version not in SCHEMA_VERSIONS:
            raise RunError(f"{run_file}: run format version {version} is not supported (this reads versions "
                           f"{SCHEMA_VERSIONS[0]} to {SCHEMA_VERSIONS[-1]})")
        layers = f["model/layers"][()]
        names = [n.decode() for n in layers["name"]]
        run = Run(path=path, name=os.path.basename(os.path.normpath(path)), arch=str(f.attrs["arch"]),
                  dataset=str(f.attrs["dataset"]), seeds=[int(s) for s in f.attrs["seeds"]],
                  epochs=int(f.attrs["epochs"]), layer_index=np.asarray(layers["index"]), layer_names=names,
                  neg_fraction=f["stats/neg_fraction"][()],
                  cosines={n: f[f"stats/cosines/{n}"][()] for n in names},
                  metrics={k: f["metrics"][k][()] for k in f["metrics"]}, config=str(f.attrs["config"]),
                  dist_l2=f["stats/dist_l2"][()] if "stats/dist_l2" in f else None)
    reinit_file = os.path.join(path, "reinit.h5")
    if os.path.isfile(reinit_file):
        with h5py.File(reinit_file, "r") as g:
            if g.attrs.get("schema_version") not in SCHEMA_VERSIONS:
                raise RunError(f"{reinit_file}: reinit format version {g.attrs.get('schema_version')} is not supported")
            run.reinit = Reinit(epochs=g["epochs"][()], rerandomize=int(g.attrs["rerandomize"]),
                                accuracy=g["accuracy"][()], baseline=g["baseline_accuracy"][()], drop=g["drop"][()])
    return run


def completed_epochs(run):
    """Epochs whose statistics exist for every seed (unwritten epochs read as NaN)."""
    ok = ~np.isnan(run.neg_fraction).any(axis=(0, 2))
    return np.nonzero(ok)[0]

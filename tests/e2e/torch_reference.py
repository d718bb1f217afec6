"""Independent reference code for the PyTorch checks (no hpa code): the paper's LeNet built from
torch.nn, and the IDX reader, written from the format's description with numpy."""
import gzip
import os

import numpy as np
import torch


def lenet(dropout=0.5, classes=10):
    """The paper's LeNet (appendix A.7): six 3x3 convolutions [6,6,M,16,16,M,64,64,M], adaptive
    average pool to 3x3, 576 -> 120 -> 84 -> classes; module names as torch.nn.Sequential numbers
    them (the dropout modules keep the classifier's numbering 0, 3, 6)."""
    layers, channels = [], 1
    for entry in [6, 6, "M", 16, 16, "M", 64, 64, "M"]:
        if entry == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(channels, entry, 3, padding=1), torch.nn.ReLU()]
            channels = entry
    model = torch.nn.Module()
    model.features = torch.nn.Sequential(*layers)
    model.avgpool = torch.nn.AdaptiveAvgPool2d((3, 3))
    model.classifier = torch.nn.Sequential(torch.nn.Linear(576, 120), torch.nn.ReLU(), torch.nn.Dropout(dropout),
                                           torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Dropout(dropout),
                                           torch.nn.Linear(84, classes))
    model.forward = lambda x: model.classifier(torch.flatten(model.avgpool(model.features(x)), 1))
    return model


def read_idx(folder, name):
    """An unsigned-byte IDX file (gzip) as a numpy array of its shape."""
    data = gzip.open(os.path.join(folder, name)).read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)

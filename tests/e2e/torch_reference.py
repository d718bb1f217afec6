"""Independent reference code for the PyTorch checks (no hpa code): the paper's LeNet built from
torch.nn, and the IDX reader, written from the format's description with numpy."""
import gzip
import os

import numpy as np
import torch


def convnet(entries, in_channels, pool, hidden, dropout, classes):
    """features (3x3 convolutions, padding 1, each followed by ReLU; "M": 2x2 max-pool), adaptive
    average pool to pool x pool, flatten, then Linear-ReLU-Dropout for each width in `hidden` and a
    last Linear; module names as torch.nn.Sequential numbers them (features.0, classifier.3, ...)."""
    layers, channels = [], in_channels
    for entry in entries:
        if entry == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(channels, entry, 3, padding=1), torch.nn.ReLU()]
            channels = entry
    head, width = [], channels * pool * pool
    for size in hidden:
        head += [torch.nn.Linear(width, size), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
        width = size
    model = torch.nn.Module()
    model.features = torch.nn.Sequential(*layers)
    model.avgpool = torch.nn.AdaptiveAvgPool2d((pool, pool))
    model.classifier = torch.nn.Sequential(*head, torch.nn.Linear(width, classes))
    model.forward = lambda x: model.classifier(torch.flatten(model.avgpool(model.features(x)), 1))
    return model


def lenet(dropout=0.5, classes=10):
    """The paper's LeNet (appendix A.7): six 3x3 convolutions [6,6,M,16,16,M,64,64,M], adaptive
    average pool to 3x3, 576 -> 120 -> 84 -> classes."""
    return convnet([6, 6, "M", 16, 16, "M", 64, 64, "M"], 1, 3, [120, 84], dropout, classes)


def read_idx(folder, name):
    """An unsigned-byte IDX file (gzip) as a numpy array of its shape."""
    data = gzip.open(os.path.join(folder, name)).read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)

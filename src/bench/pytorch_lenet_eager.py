"""The PyTorch eager baseline of hpa-train's throughput: the demo LeNet, SGD with momentum and
weight decay, batch 128, torchvision-style per-sample transforms (RandomCrop with 4-pixel padding,
horizontal flip, normalize) through a DataLoader, one epoch. Prints training images per second.

usage: pytorch_lenet_eager.py DATA_DIR NUM_IMAGES THREADS
"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from torchvision import transforms

data_dir, num_images, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)


def read_idx(path):
    data = gzip.open(path).read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)


images = torch.from_numpy(read_idx(f"{data_dir}/train-images-idx3-ubyte.gz")[:num_images].copy()).unsqueeze(1)
labels = torch.from_numpy(read_idx(f"{data_dir}/train-labels-idx1-ubyte.gz")[:num_images].astype(np.int64))
mean, std = images.float().div(255).mean().item(), images.float().div(255).std().item()
transform = transforms.Compose([transforms.RandomCrop(28, padding=4), transforms.RandomHorizontalFlip(),
                                transforms.ConvertImageDtype(torch.float32), transforms.Normalize([mean], [std])])


class FashionMnist(torch.utils.data.Dataset):
    def __len__(self):
        return len(labels)

    def __getitem__(self, i):
        return transform(images[i]), labels[i]


layers, channels = [], 1
for v in [6, 6, "M", 16, 16, "M", 64, 64, "M"]:
    if v == "M":
        layers.append(nn.MaxPool2d(2, 2))
    else:
        layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
        channels = v
model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(576, 120), nn.ReLU(True),
                      nn.Dropout(), nn.Linear(120, 84), nn.ReLU(True), nn.Dropout(), nn.Linear(84, 10))
optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
loader = torch.utils.data.DataLoader(FashionMnist(), batch_size=128, shuffle=True, num_workers=0)
model.train()
start = time.perf_counter()
for x, y in loader:
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
elapsed = time.perf_counter() - start
print(f"images_per_second {num_images / elapsed:.1f}")

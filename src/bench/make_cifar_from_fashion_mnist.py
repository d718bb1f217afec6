"""Writes CIFAR-10 binary-format files (data_batch_{1..5}.bin, test_batch.bin) whose images are
real Fashion-MNIST images, zero-padded from 28x28 to 32x32 and repeated over 3 channels: a 3x32x32
workload for benchmarks on a machine that has no CIFAR download.

usage: make_cifar_from_fashion_mnist.py FASHION_MNIST_DIR OUT_DIR
"""
import gzip
import os
import sys

import numpy as np


def read_idx(path):
    data = gzip.open(path).read()
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)


def write_batch(path, images, labels):
    padded = np.zeros((len(images), 3, 32, 32), np.uint8)
    padded[:, :, 2:30, 2:30] = images[:, None]
    records = np.concatenate([labels[:, None].astype(np.uint8), padded.reshape(len(images), -1)], axis=1)
    records.tofile(path)


source, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
train_images = read_idx(f"{source}/train-images-idx3-ubyte.gz")
train_labels = read_idx(f"{source}/train-labels-idx1-ubyte.gz")
for i in range(5):
    part = slice(i * 10000, (i + 1) * 10000)
    write_batch(f"{out}/data_batch_{i + 1}.bin", train_images[part], train_labels[part])
write_batch(f"{out}/test_batch.bin", read_idx(f"{source}/t10k-images-idx3-ubyte.gz"),
            read_idx(f"{source}/t10k-labels-idx1-ubyte.gz"))

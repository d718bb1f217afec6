"""The reference input pipeline: torchvision's ImageFolder + PIL + DataLoader with the ImageNet
training transform (RandomResizedCrop(224), RandomHorizontalFlip, ToTensor, Normalize), batches of
256, `workers` worker processes (0: the main process decodes). Prints images/s of one epoch.

usage: torchvision_input.py TRAIN_FOLDER WORKERS
"""
import sys
import time

import torch
import torchvision.transforms as T
from torchvision.datasets import ImageFolder

folder, workers = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(1)
transform = T.Compose([T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(),
                       T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
dataset = ImageFolder(folder, transform)
loader = torch.utils.data.DataLoader(dataset, batch_size=256, shuffle=True, num_workers=workers,
                                     worker_init_fn=lambda _: torch.set_num_threads(1))
start = time.perf_counter()
count = 0
for images, labels in loader:
    count += images.shape[0]
elapsed = time.perf_counter() - start
print(f"{count / elapsed:.1f} images/s ({count} images, {workers} workers, {elapsed:.2f} s)")

"""The PyTorch eager baseline of hpa-device-check's throughput section: torchvision's VGG19, the same
batch (random ImageNet-shaped images, random labels), loss (cross-entropy, batch mean), optimizer
(SGD, lr 0.01, momentum 0.9, weight decay 5e-4), dropout in train mode, and precision settings
(fp32 with PyTorch's defaults: TF32 in cuDNN convolutions, not in matmuls; cudnn.benchmark on),
one loss.item() a step as hpa-train. Also reported: the same loop under bf16 autocast.
Prints `check: KEY = VALUE` lines."""
import argparse
import statistics
import time

import torch
import torchvision


def measure(model, optimizer, images, labels, steps, autocast):
    def step():
        optimizer.zero_grad(set_to_none=False)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image", type=int, default=224)
    parser.add_argument("--timed-steps", type=int, default=10)
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(5)
    model = torchvision.models.vgg19(num_classes=1000).cuda().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(args.batch, 3, args.image, args.image, device="cuda")
    labels = torch.randint(1000, (args.batch,), device="cuda")
    print(f"check: eager.torch = {torch.__version__} on {torch.cuda.get_device_name()}", flush=True)
    fp32 = measure(model, optimizer, images, labels, args.timed_steps, autocast=False)
    print(f"check: eager.median_step_s = {fp32:.6f}", flush=True)
    print(f"check: eager.images_per_s = {args.batch / fp32:.2f}", flush=True)
    bf16 = measure(model, optimizer, images, labels, args.timed_steps, autocast=True)
    print(f"check: eager_bf16.images_per_s = {args.batch / bf16:.2f}", flush=True)


if __name__ == "__main__":
    main()

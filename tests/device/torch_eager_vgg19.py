"""The PyTorch eager baseline of hpa-device-check's throughput section: torchvision's VGG19 (or, where
torchvision is not installed, the same layers defined below: configuration E, 143.7 M parameters), the same
batch (random ImageNet-shaped images, random labels), loss (cross-entropy, batch mean), optimizer
(SGD, lr 0.01, momentum 0.9, weight decay 5e-4), dropout in train mode, and precision settings
(fp32 with PyTorch's defaults: TF32 in cuDNN convolutions, not in matmuls; cudnn.benchmark on),
one loss.item() a step as hpa-train. Also reported on CUDA: the same loop under bf16 autocast.
--device cpu runs the same loop on the CPU (the device check's rehearsal, small sizes).
Prints `check: KEY = VALUE` lines."""
import argparse
import statistics
import time

import torch

try:
    import torchvision
except ImportError:  # a pip PyTorch without torchvision: the same network, layer for layer
    torchvision = None


def vgg19(num_classes):
    """torchvision.models.vgg19's layers (configuration E, no batch norm) and its initialisation."""
    layers, channels = [], 3
    for width in [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                  512, 512, 512, 512, "M"]:
        if width == "M":
            layers.append(torch.nn.MaxPool2d(2, 2))
        else:
            layers += [torch.nn.Conv2d(channels, width, 3, padding=1), torch.nn.ReLU(inplace=True)]
            channels = width
    model = torch.nn.Sequential(
        torch.nn.Sequential(*layers), torch.nn.AdaptiveAvgPool2d(7), torch.nn.Flatten(),
        torch.nn.Linear(512 * 49, 4096), torch.nn.ReLU(True), torch.nn.Dropout(),
        torch.nn.Linear(4096, 4096), torch.nn.ReLU(True), torch.nn.Dropout(), torch.nn.Linear(4096, num_classes))
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            torch.nn.init.zeros_(module.bias)
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, 0, 0.01)
            torch.nn.init.zeros_(module.bias)
    return model


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def measure(model, optimizer, images, labels, steps, autocast):
    def step():
        optimizer.zero_grad(set_to_none=False)
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = torch.nn.functional.cross_entropy(model(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(3):
        step()
    sync(images.device.type)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync(images.device.type)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--image", type=int, default=224)
    parser.add_argument("--timed-steps", type=int, default=10)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(5)
    model = torchvision.models.vgg19(num_classes=1000) if torchvision else vgg19(1000)
    model = model.to(args.device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.randn(args.batch, 3, args.image, args.image, device=args.device)
    labels = torch.randint(1000, (args.batch,), device=args.device)
    where = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"check: eager.torch = {torch.__version__} on {where}", flush=True)
    print(f"check: eager.model = {'torchvision' if torchvision else 'torchvision-equivalent'} vgg19 "
          f"{args.image}x{args.image} batch {args.batch}", flush=True)
    fp32 = measure(model, optimizer, images, labels, args.timed_steps, autocast=False)
    print(f"check: eager.median_step_s = {fp32:.6f}", flush=True)
    print(f"check: eager.images_per_s = {args.batch / fp32:.2f}", flush=True)
    if args.device == "cuda":
        bf16 = measure(model, optimizer, images, labels, args.timed_steps, autocast=True)
        print(f"check: eager_bf16.images_per_s = {args.batch / bf16:.2f}", flush=True)


if __name__ == "__main__":
    main()

"""The PyTorch eager baseline of hpa-device-check's throughput section: torchvision's VGG19 (or, where
torchvision is not installed, the same layers defined below: configuration E, 143.7 M parameters), the same
batch (random ImageNet-shaped images, random labels), loss (cross-entropy, batch mean), optimizer
(SGD, lr 0.01, momentum 0.9, weight decay 5e-4), dropout in train mode, and precision settings
(fp32 with PyTorch's defaults: TF32 in cuDNN convolutions, not in matmuls; cudnn.benchmark on),
one loss.item() a step as hpa-train. For each --configs (fp32; bf16: autocast; -cl: the model and
the images in channels-last) and each --batch; with --compile SECONDS also torch.compile of the
model for the last configuration and batch, where its first step (the compilation) finishes within
that many seconds (else reported as too slow).
On CUDA also the bf16 and TF32 peak of large matrix products, the bound model FLOP utilisation is
measured against. --device cpu runs the same loops on the CPU (the device check's rehearsal).
Prints `check: KEY = VALUE` lines."""
import argparse
import signal
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


def measure(model, optimizer, images, labels, steps, autocast, deadline=None):
    def step():
        optimizer.zero_grad(set_to_none=False)
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=autocast):
            logits = model(images)
        loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        return loss.item()

    start = time.perf_counter()
    if deadline is not None:  # torch.compile: the first step compiles; give up after `deadline` s
        def too_slow(*_):
            raise TimeoutError

        signal.signal(signal.SIGALRM, too_slow)
        signal.alarm(max(1, int(deadline)))
        try:
            step()
        except TimeoutError:
            return None
        finally:
            signal.alarm(0)
    else:
        step()
    for _ in range(2):
        step()
    sync(images.device.type)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        sync(images.device.type)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_tflops(dtype, device):
    """Median TFLOP/s of 8192x8192 matrix products (the bound MFU is quoted against)."""
    a = torch.randn(8192, 8192, device=device, dtype=dtype)
    b = torch.randn(8192, 8192, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        a @ b
        sync(device)
        times.append(time.perf_counter() - start)
    return 2 * 8192 ** 3 / statistics.median(times) / 1e12


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, nargs="+", default=[64])
    parser.add_argument("--configs", nargs="+", default=["fp32", "bf16"],
                        choices=["fp32", "bf16", "fp32-cl", "bf16-cl"])
    parser.add_argument("--image", type=int, default=224)
    parser.add_argument("--timed-steps", type=int, default=10)
    parser.add_argument("--compile", type=float, default=0,
                        help="also torch.compile, when its first step takes at most this many seconds (0: no)")
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cuda.matmul.allow_tf32 = False
    where = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(f"check: eager.torch = {torch.__version__} on {where}", flush=True)
    print(f"check: eager.model = {'torchvision' if torchvision else 'torchvision-equivalent'} vgg19 "
          f"{args.image}x{args.image}", flush=True)
    if args.device == "cuda":
        print(f"check: eager.peak_bf16_tflops = {peak_tflops(torch.bfloat16, args.device):.1f}", flush=True)
        torch.backends.cuda.matmul.allow_tf32 = True
        print(f"check: eager.peak_tf32_tflops = {peak_tflops(torch.float32, args.device):.1f}", flush=True)
        torch.backends.cuda.matmul.allow_tf32 = False
    first = True
    compiled_ok = args.compile > 0
    for config in args.configs:
        layout = torch.channels_last if config.endswith("-cl") else torch.contiguous_format
        for batch in args.batch:
            # torch.compile once, for the last configuration and batch (a compilation takes ~a minute)
            last = config == args.configs[-1] and batch == args.batch[-1]
            for compiled in ([False, True] if compiled_ok and last else [False]):
                torch.manual_seed(5)
                model = torchvision.models.vgg19(num_classes=1000) if torchvision else vgg19(1000)
                model = model.to(args.device, memory_format=layout).train()
                optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
                images = torch.randn(batch, 3, args.image, args.image, device=args.device).contiguous(
                    memory_format=layout)
                labels = torch.randint(1000, (batch,), device=args.device)
                key = f"eager{'_compiled' if compiled else ''}.{config}.b{batch}"
                try:
                    runner = torch.compile(model) if compiled else model
                    median = measure(runner, optimizer, images, labels, args.timed_steps, config.startswith("bf16"),
                                     deadline=args.compile if compiled else None)
                except Exception as error:  # torch.compile without a compiler, Triton, ...
                    print(f"check: {key}.error = {type(error).__name__}: {str(error).splitlines()[0][:200]}")
                    compiled_ok = False
                    continue
                if median is None:
                    print(f"check: {key}.note = first compiled step over {args.compile} s: torch.compile dropped")
                    compiled_ok = False
                    continue
                print(f"check: {key}.images_per_s = {batch / median:.2f}", flush=True)
                if first:
                    print(f"check: eager.median_step_s = {median:.6f}", flush=True)
                    print(f"check: eager.images_per_s = {batch / median:.2f}", flush=True)
                    first = False
                del model, optimizer, runner
                if args.device == "cuda":
                    torch.cuda.empty_cache()


if __name__ == "__main__":
    main()

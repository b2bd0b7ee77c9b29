#!/usr/bin/env python3
"""gpu_anchor.py -- bench_gpu's anchor: the same saxpy and fp32 sgemm
through PyTorch (cuBLAS) on the same GPU, timed with CUDA events.

Prints key=value lines for bench_gpu (bench/README.md), or
`anchor=none why=...` when there is no PyTorch or no CUDA device.
fp32 means fp32: TF32 is switched off, as our shader computes in fp32.
"""
import sys


def main():
    args = dict(a.split("=", 1) for a in sys.argv[1:])
    n = int(args.get("saxpy_n", 1 << 26))
    sizes = [int(s) for s in args.get("sgemm", "1024,2048,4096").split(",") if s]
    reps = int(args.get("reps", 10))
    try:
        import torch
    except Exception as e:  # no PyTorch here: the anchor is absent
        print(f"anchor=none why=no PyTorch ({type(e).__name__})")
        return 0
    if not torch.cuda.is_available():
        print("anchor=none why=PyTorch sees no CUDA device")
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    dev = torch.device("cuda")
    print(f"anchor=torch {torch.__version__} cuda {torch.version.cuda} "
          f"device={torch.cuda.get_device_name(0).replace(' ', '_')}")

    def timed(fn):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        best = float("inf")
        for _ in range(5):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                fn()
            end.record()
            end.synchronize()
            best = min(best, start.elapsed_time(end) * 1e6 / reps)  # ns per op
        return best

    x = torch.rand(n, device=dev)
    y = torch.rand(n, device=dev)
    ns = timed(lambda: y.add_(x, alpha=0.5))
    print(f"saxpy_ns={ns:.0f}")
    print(f"saxpy_gbs={12.0 * n / ns:.1f}")
    for s in sizes:
        a = torch.rand(s, s, device=dev)
        b = torch.rand(s, s, device=dev)
        c = torch.empty(s, s, device=dev)
        ns = timed(lambda: torch.matmul(a, b, out=c))
        print(f"sgemm{s}_gflops={2.0 * s * s * s / ns:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

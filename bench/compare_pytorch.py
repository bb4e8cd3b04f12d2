#!/usr/bin/python3
"""Side-by-side throughput of Strata and PyTorch on the same models, batch sizes and threads.

Each configuration is measured in alternating rounds (Strata, PyTorch, Strata, PyTorch, ...) so
that both see the same machine state; every measurement is a fresh process reporting the median
images/s over its timed iterations and its peak resident memory. The table gives the median over
rounds and the ratio Strata / PyTorch.

PyTorch (Debian's python3-torch 1.13, oneDNN inside) gets its best thread settings: torch and
OpenMP use --threads threads and OpenBLAS one (OPENBLAS_NUM_THREADS=1: otherwise its pool and
OpenMP's fight over the cores).

  bench/compare_pytorch.py                       # the default configurations (minutes)
  bench/compare_pytorch.py --configs lenet:train:256 resnet18:infer:128 --rounds 5
  bench/compare_pytorch.py --markdown results.md # also write the table as Markdown
  bench/compare_pytorch.py --peak 300            # adds Strata's GFLOP/s as a share of that peak

Strata's GFLOP/s counts 2 flops per multiply-accumulate of the forward pass, three forward passes
per training step (forward, backward to the data, backward to the weights).
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

# model:mode:batch[:C,H,W] - the targets.
DEFAULT_CONFIGS = [
    "lenet:train:256", "lenet-bn:train:256", "lenet-gluon:train:256", "lenet-bn-gluon:train:256",
    "resnet18:train:128", "resnet18:infer:128",
    "alexnet:train:128", "vgg11-small:train:128", "nin:train:128", "googlenet:train:128",
]


def parse_config(text):
    parts = text.split(":")
    if len(parts) not in (3, 4) or parts[1] not in ("train", "infer"):
        raise SystemExit(f"bad --configs entry '{text}': expected model:train|infer:batch[:C,H,W]")
    return {"model": parts[0], "mode": parts[1], "batch": int(parts[2]),
            "input": parts[3] if len(parts) == 4 else None}


def torch_worker(args):
    """Runs in a child process: measures one configuration in PyTorch and prints JSON."""
    import torch
    import torch_zoo
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    builder, default_input = torch_zoo.ZOO[args.model]
    shape = list(default_input)
    if args.input:
        shape[1:] = [int(v) for v in args.input.split(",")]
    shape[0] = args.batch
    model = builder()
    x = torch.rand(*shape)
    labels = torch.randint(0, 10, (args.batch,))
    train = args.mode == "train"
    model.train(train)
    sgd = torch.optim.SGD(model.parameters(), lr=1e-4)

    def step():
        if train:
            sgd.zero_grad()
            torch.nn.functional.cross_entropy(model(x), labels).backward()
            sgd.step()
        else:
            with torch.no_grad():
                model(x)

    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.iters):
        t0 = time.perf_counter()
        step()
        rates.append(args.batch / (time.perf_counter() - t0))
    print(json.dumps({"images_per_sec": statistics.median(rates),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def run_strata(cfg, args):
    cmd = [args.strata, "bench", cfg["model"], "--mode", cfg["mode"], "--batch-size", str(cfg["batch"]),
           "--iters", str(args.iters), "--warmup", str(args.warmup), "--threads", str(args.threads), "--json"]
    if cfg["input"]:
        cmd += ["--input", cfg["input"]]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_torch(cfg, args):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--model", cfg["model"], "--mode", cfg["mode"],
           "--batch", str(cfg["batch"]), "--iters", str(args.iters), "--warmup", str(args.warmup),
           "--threads", str(args.threads)]
    if cfg["input"]:
        cmd += ["--input", cfg["input"]]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="*", default=DEFAULT_CONFIGS, help="model:train|infer:batch[:C,H,W]")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--rounds", type=int, default=3, help="alternating measurements per side")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--strata", default=os.path.join(ROOT, "build", "strata"))
    p.add_argument("--markdown", help="also write the table to this file")
    p.add_argument("--peak", type=float, help="the machine's FP32 peak in GFLOP/s (bench_peak) for the %%-of-peak column")
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--mode", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.torch_worker:
        return torch_worker(args)

    rows = []
    header = (f"{'model':<12} {'mode':<5} {'batch':>5} {'strata img/s':>13} {'torch img/s':>12} {'ratio':>6} "
              f"{'strata MB':>9} {'torch MB':>9} {'GFLOP/s':>8} {'of peak':>7}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {cpu_name()}, {args.threads} threads, {args.rounds} rounds x "
          f"{args.iters} iterations", flush=True)
    print(header, flush=True)
    for text in args.configs:
        cfg = parse_config(text)
        s_rates, t_rates, s_mem, t_mem, s_gflops = [], [], [], [], []
        for _ in range(args.rounds):
            s = run_strata(cfg, args)
            t = run_torch(cfg, args)
            s_rates.append(s["images_per_sec"]), s_mem.append(s["peak_rss_mb"]), s_gflops.append(s["gflops"])
            t_rates.append(t["images_per_sec"]), t_mem.append(t["peak_rss_mb"])
        s_med, t_med = statistics.median(s_rates), statistics.median(t_rates)
        gflops = statistics.median(s_gflops)
        row = dict(cfg, strata=s_med, torch=t_med, ratio=s_med / t_med, strata_mb=max(s_mem), torch_mb=max(t_mem),
                   gflops=gflops, peak=f"{100 * gflops / args.peak:.0f}%" if args.peak else "-")
        rows.append(row)
        print(f"{cfg['model']:<12} {cfg['mode']:<5} {cfg['batch']:>5} {s_med:>13.1f} {t_med:>12.1f} "
              f"{row['ratio']:>5.2f}x {row['strata_mb']:>9.0f} {row['torch_mb']:>9.0f} {gflops:>8.1f} {row['peak']:>7}",
              flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(f"Measured {time.strftime('%Y-%m-%d')} on {cpu_name()}, {args.threads} threads, "
                    f"median of {args.rounds} alternating rounds of {args.iters} iterations.\n\n")
            f.write("| model | mode | batch | Strata img/s | PyTorch img/s | ratio | Strata peak MB | PyTorch peak MB "
                    "| Strata GFLOP/s | of peak |\n")
            f.write("|---|---|---|---|---|---|---|---|---|---|\n")
            for r in rows:
                f.write(f"| {r['model']} | {r['mode']} | {r['batch']} | {r['strata']:.1f} | {r['torch']:.1f} | "
                        f"{r['ratio']:.2f}x | {r['strata_mb']:.0f} | {r['torch_mb']:.0f} | {r['gflops']:.1f} | "
                        f"{r['peak']} |\n")


if __name__ == "__main__":
    main()

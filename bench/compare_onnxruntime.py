#!/usr/bin/python3
"""Side-by-side inference throughput of Strata and onnxruntime on the same models and weights.

For each zoo model, the PyTorch twin (tools/torch_zoo.py, random weights) is saved as safetensors
for Strata and exported to ONNX for onnxruntime (npm's onnxruntime-node, CPU, its optimizations
on: `make deps-bench` installs it). Both first compute the logits of one random batch, which
must agree within 1e-4 relative; then each configuration is measured in alternating rounds
(Strata, onnxruntime, Strata, ...), every measurement a fresh process reporting the median
images/s over its timed iterations and its peak resident memory. The table gives the median over
rounds and the ratio Strata / onnxruntime; onnxruntime's memory is also given less Node.js's own
(measured before the library loads).

  bench/compare_onnxruntime.py                                  # every zoo model, batch 1 and 64
  bench/compare_onnxruntime.py --configs resnet18:1 resnet18:128 --rounds 5
  bench/compare_onnxruntime.py --markdown results.md --eager    # Strata's models as written
  bench/compare_onnxruntime.py --onnx                           # Strata runs the same ONNX file (import)
  bench/compare_onnxruntime.py --onnx --configs tv:resnet18:1   # torchvision's models (3x224x224), --onnx only
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

# model:batch - every zoo model at the book's input size, batch 1 and 64 (resnet18 also 128).
DEFAULT_CONFIGS = [f"{m}:{b}" for m in ("lenet", "lenet-bn", "alexnet", "vgg11", "nin", "googlenet", "resnet18")
                   for b in (1, 64)] + ["resnet18:128"]


def parse_config(text):
    model, _, batch = text.rpartition(":")
    if not model or not batch.isdigit():
        raise SystemExit(f"bad --configs entry '{text}': expected model:batch (tv:NAME:batch for torchvision's)")
    return {"model": model, "batch": int(batch)}


def export(model_name, batch, workdir):
    """The twin's weights as safetensors and the twin as ONNX for `batch`, and one input batch.
    A torchvision model ("tv:NAME", 10 classes, 3x224x224; --onnx only) has no safetensors."""
    import numpy as np
    import torch
    import torch_weights
    import torch_zoo
    torch.manual_seed(0)
    if model_name.startswith("tv:"):
        import torchvision
        model = getattr(torchvision.models, model_name[3:])(num_classes=10).eval()
        default_input = (1, 3, 224, 224)
    else:
        builder, default_input = torch_zoo.ZOO[model_name]
        model = builder().eval()
    shape = (batch,) + tuple(default_input[1:])
    stem = os.path.join(workdir, f"{model_name.replace(':', '_')}-{batch}")
    weights = None
    if not model_name.startswith("tv:"):
        weights = stem + ".safetensors"
        chw = ",".join(str(d) for d in default_input[1:])
        torch_weights.save_safetensors(model.state_dict(), weights, {"strata.model": model_name, "strata.input": chw})
    onnx_path = stem + ".onnx"
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(shape), onnx_path, opset_version=13, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True)
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    np.save(stem + "-x.npy", x)
    x.tofile(stem + "-x.bin")
    return weights, onnx_path, stem


def check_logits(cfg, weights, onnx_path, stem, args):
    """Strata's and onnxruntime's logits for the same batch: the largest difference relative to
    the largest logit."""
    import numpy as np
    subprocess.run([args.strata, "predict", onnx_path if args.onnx else weights, stem + "-x.npy", "--output", stem + "-strata.npy",
                    "--batch-size", str(cfg["batch"]), "--json"] + (["--eager"] if args.eager else []),
                   check=True, capture_output=True, text=True)
    subprocess.run(["node", os.path.join(ROOT, "bench", "onnxruntime_bench.js"), onnx_path, "--input",
                    stem + "-x.bin", "--output", stem + "-ort.bin", "--modules", args.modules],
                   check=True, capture_output=True, text=True)
    a = np.load(stem + "-strata.npy").astype(np.float64)
    b = np.fromfile(stem + "-ort.bin", dtype=np.float32).astype(np.float64).reshape(a.shape)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def run_strata(cfg, weights, onnx_path, args):
    model = [onnx_path] if args.onnx else [cfg["model"], "--weights", weights]
    cmd = [args.strata, "bench"] + model + ["--mode", "infer", "--batch-size", str(cfg["batch"]), "--iters",
                                            str(args.iters), "--warmup", str(args.warmup), "--threads",
                                            str(args.threads), "--json"] + (["--eager"] if args.eager else [])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_ort(onnx_path, args):
    cmd = ["node", os.path.join(ROOT, "bench", "onnxruntime_bench.js"), onnx_path, "--threads", str(args.threads),
           "--iters", str(args.iters), "--warmup", str(args.warmup), "--modules", args.modules]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="*", default=DEFAULT_CONFIGS, help="model:batch")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--rounds", type=int, default=3, help="alternating measurements per side")
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--eager", action="store_true", help="run Strata's models as written, not compiled")
    p.add_argument("--onnx", action="store_true",
                   help="Strata runs the ONNX file onnxruntime runs (onnx::load), not its own zoo model")
    p.add_argument("--strata", default=os.path.join(ROOT, "build", "strata"))
    p.add_argument("--modules", default=os.path.join(ROOT, "build", "onnxruntime", "node_modules"),
                   help="where npm installed onnxruntime-node (make deps-bench)")
    p.add_argument("--markdown", help="also write the table to this file")
    args = p.parse_args()
    if not os.path.exists(os.path.join(args.modules, "onnxruntime-node")):
        raise SystemExit(f"onnxruntime-node is not in {args.modules}: run `make deps-bench`")
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # PyTorch exports only, but as everywhere
        os.environ.pop(var, None)

    if not args.onnx and any(c.startswith("tv:") for c in args.configs):
        raise SystemExit("torchvision models (tv:NAME) run in Strata from their ONNX file only: add --onnx")
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for cfg in map(parse_config, args.configs):
            weights, onnx_path, stem = export(cfg["model"], cfg["batch"], workdir)
            error = check_logits(cfg, weights, onnx_path, stem, args)
            if error > 1e-4:
                raise SystemExit(f"{cfg['model']} batch {cfg['batch']}: logits differ by {error:.2e} relative")
            s_runs, o_runs = [], []
            for _ in range(args.rounds):
                s_runs.append(run_strata(cfg, weights, onnx_path, args))
                o_runs.append(run_ort(onnx_path, args))
            s = statistics.median(r["images_per_sec"] for r in s_runs)
            o = statistics.median(r["images_per_sec"] for r in o_runs)
            row = {"model": cfg["model"], "batch": cfg["batch"], "strata": s, "onnxruntime": o, "ratio": s / o,
                   "strata_rss_mb": max(r["peak_rss_mb"] for r in s_runs),
                   "ort_rss_mb": max(r["peak_rss_mb"] for r in o_runs),
                   "ort_less_node_mb": max(r["peak_rss_mb"] - r["node_baseline_rss_mb"] for r in o_runs),
                   "logit_error": error}
            rows.append(row)
            print(f"{row['model']:12s} batch {row['batch']:4d}: strata {s:10.1f} img/s, onnxruntime {o:10.1f} img/s, "
                  f"ratio {row['ratio']:.2f}x; peak RSS {row['strata_rss_mb']:.0f} MB vs {row['ort_rss_mb']:.0f} MB "
                  f"({row['ort_less_node_mb']:.0f} MB less node); logits agree to {error:.1e}", flush=True)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("| model | batch | Strata img/s | onnxruntime img/s | ratio | peak RSS MB (Strata / onnxruntime, "
                    "less Node.js) |\n|---|---|---|---|---|---|\n")
            for r in rows:
                f.write(f"| {r['model']} | {r['batch']} | {r['strata']:.1f} | {r['onnxruntime']:.1f} | "
                        f"{r['ratio']:.2f}x | {r['strata_rss_mb']:.0f} / {r['ort_rss_mb']:.0f} "
                        f"({r['ort_less_node_mb']:.0f}) |\n")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""ONNX import checked on the files PyTorch's exporter writes: for the book's zoo (tools/torch_zoo.py)
and torchvision's classification families (random weights and batch-norm statistics: nothing is
downloaded), torch.onnx.export, then `strata predict model.onnx` against PyTorch's own logits on
the same batch. Prints one line per model: the largest difference relative to the largest
logit, or Strata's error for a model it cannot import; exits non-zero when a model that imports
differs by more than 1e-4 (or, with --strict, when any fails to import).

Needs Debian's python3-torch, python3-torchvision and python3-onnx (make deps-bench).

  tools/check_onnx_import.py                                  # zoo and torchvision, opset 13
  tools/check_onnx_import.py --models resnet18 tv:mobilenet_v2 --opset 17
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

ZOO = ["lenet", "lenet-bn", "lenet-gluon", "lenet-bn-gluon", "alexnet", "vgg11-small", "nin", "googlenet", "resnet18"]
TORCHVISION = ["resnet18", "vgg11", "googlenet", "mobilenet_v2", "mobilenet_v3_small", "squeezenet1_1",
               "densenet121", "shufflenet_v2_x1_0", "efficientnet_b0", "regnet_x_400mf"]


def build(name):
    """The model and its input shape (batch 2)."""
    import torch_zoo
    if name.startswith("tv:"):
        import torchvision
        arch = name[3:]
        extra = {"aux_logits": False, "init_weights": True} if arch == "googlenet" else {}
        return getattr(torchvision.models, arch)(num_classes=10, **extra), (2, 3, 224, 224)
    builder, default_input = torch_zoo.ZOO[name]
    return builder(), (2,) + tuple(default_input[1:])


def check(name, args, workdir):
    import numpy as np
    import torch
    import torch_zoo
    torch.manual_seed(0)
    model, shape = build(name)
    model.eval()
    torch_zoo.randomize_statistics(model)
    x = np.random.default_rng(1).random(shape, dtype=np.float32)
    stem = os.path.join(workdir, name.replace(":", "_"))
    torch.onnx.export(model, torch.zeros(shape), stem + ".onnx", opset_version=args.opset, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True)
    np.save(stem + "-x.npy", x)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    r = subprocess.run([args.strata, "predict", stem + ".onnx", stem + "-x.npy", "--output", stem + "-y.npy",
                        "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"{name:24s} does not import: {r.stderr.strip()[:400]}", flush=True)
        return None
    y = np.load(stem + "-y.npy")
    error = float(np.abs(y - expected).max() / max(np.abs(expected).max(), 1e-12))
    print(f"{name:24s} imports; logits differ from PyTorch's by {error:.1e}", flush=True)
    return error


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=ZOO + ["tv:" + m for m in TORCHVISION],
                   help="zoo names, or tv:NAME for torchvision's")
    p.add_argument("--opset", type=int, default=13)
    p.add_argument("--strict", action="store_true", help="fail when a model does not import")
    p.add_argument("--strata", default=os.path.join(ROOT, "build", "strata"))
    args = p.parse_args()
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        os.environ.pop(var, None)
    failed = []
    with tempfile.TemporaryDirectory() as workdir:
        for name in args.models:
            error = check(name, args, workdir)
            if (error is None and args.strict) or (error is not None and error > 1e-4):
                failed.append(name)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")
    print("every model that imports agrees within 1e-4")


if __name__ == "__main__":
    main()

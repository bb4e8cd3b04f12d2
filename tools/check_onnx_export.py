#!/usr/bin/python3
"""ONNX export checked against three consumers Strata's own test suite cannot run without Python or
Node.js: onnxruntime, OpenCV's dnn module from Python, and PyTorch.

For each zoo model, the PyTorch twin (tools/torch_zoo.py, random weights and random batch-norm
statistics) is saved as safetensors and exported by `strata export`; then
  - onnx.checker (full check, with shape inference) accepts the file;
  - onnxruntime (npm's onnxruntime-node, `make deps-bench`) and OpenCV's dnn module give the logits
    `strata predict` gives for the same real Fashion-MNIST test images, within 1e-4 relative;
  - PyTorch loads the file's initializers (onnx.numpy_helper) into the twin by state_dict name,
    strictly, and computes the same logits from them.
Prints one line per model and exits non-zero on the first disagreement.

  tools/check_onnx_export.py                          # every 2-D zoo model, batch 4
  tools/check_onnx_export.py --models lenet resnet18 --fold-batch-norm --opset 13
"""
import argparse
import gzip
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

MODELS = ["lenet", "lenet-bn", "lenet-gluon", "lenet-bn-gluon", "alexnet", "vgg11-small", "nin", "googlenet",
          "resnet18"]
FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


def fashion_images(n, size):
    """The first n Fashion-MNIST test images in [0, 1], bilinearly resized: (n, 1, size, size)."""
    import numpy as np
    import torch
    with gzip.open(FASHION, "rb") as f:
        data = f.read()
    images = np.frombuffer(data, dtype=np.uint8, offset=16)[: n * 784].reshape(n, 1, 28, 28)
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    if size != 28:
        x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.numpy().copy()


def relative_error(a, b):
    import numpy as np
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-12))


def check(model_name, args, workdir):
    import cv2
    import numpy as np
    import onnx
    import onnx.numpy_helper
    import torch
    import torch_weights
    import torch_zoo

    torch.manual_seed(0)
    builder, default_input = torch_zoo.ZOO[model_name]
    twin = builder().eval()
    torch_zoo.randomize_statistics(twin)
    stem = os.path.join(workdir, model_name)
    chw = ",".join(str(d) for d in default_input[1:])
    torch_weights.save_safetensors(twin.state_dict(), stem + ".safetensors",
                                   {"strata.model": model_name, "strata.input": chw})
    x = fashion_images(args.batch, default_input[-1])
    np.save(stem + "-x.npy", x)
    x.tofile(stem + "-x.bin")

    export = [args.strata, "export", stem + ".safetensors", "-o", stem + ".onnx", "--batch", str(args.batch),
              "--opset", str(args.opset)] + (["--fold-batch-norm"] if args.fold_batch_norm else [])
    subprocess.run(export, check=True, capture_output=True, text=True)
    subprocess.run([args.strata, "predict", stem + ".safetensors", stem + "-x.npy", "--output", stem + "-strata.npy",
                    "--json"], check=True, capture_output=True, text=True)
    expected = np.load(stem + "-strata.npy")

    model = onnx.load(stem + ".onnx")
    onnx.checker.check_model(model, full_check=True)

    subprocess.run(["node", os.path.join(ROOT, "bench", "onnxruntime_bench.js"), stem + ".onnx", "--input",
                    stem + "-x.bin", "--output", stem + "-ort.bin", "--modules", args.modules],
                   check=True, capture_output=True, text=True)
    ort = np.fromfile(stem + "-ort.bin", dtype=np.float32).reshape(expected.shape)

    net = cv2.dnn.readNetFromONNX(stem + ".onnx")
    net.setInput(x)
    opencv = net.forward()

    weights = {t.name: torch.from_numpy(onnx.numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    state = twin.state_dict()
    for name, t in state.items():  # counters the ONNX file has no use for
        if name.endswith("num_batches_tracked"):
            weights[name] = t
    if args.fold_batch_norm:
        torch_logits = None  # folded weights belong to a network without those batch norms
    else:
        twin.load_state_dict(weights, strict=True)
        with torch.no_grad():
            torch_logits = twin(torch.from_numpy(x)).numpy()

    errors = {"onnxruntime": relative_error(ort, expected), "opencv": relative_error(opencv, expected)}
    if torch_logits is not None:
        errors["pytorch"] = relative_error(torch_logits, expected)
    print(f"{model_name:12s} " + "  ".join(f"{k} {v:.1e}" for k, v in errors.items()) +
          f"  ({len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers, "
          f"{os.path.getsize(stem + '.onnx') / 1e6:.1f} MB)", flush=True)
    return max(errors.values())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=MODELS)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--fold-batch-norm", action="store_true")
    p.add_argument("--strata", default=os.path.join(ROOT, "build", "strata"))
    p.add_argument("--modules", default=os.path.join(ROOT, "build", "onnxruntime", "node_modules"),
                   help="where npm installed onnxruntime-node (make deps-bench)")
    args = p.parse_args()
    if not os.path.exists(os.path.join(args.modules, "onnxruntime-node")):
        raise SystemExit(f"onnxruntime-node is not in {args.modules}: run `make deps-bench`")
    with tempfile.TemporaryDirectory() as workdir:
        for m in args.models:
            error = check(m, args, workdir)
            if error > 1e-4:
                raise SystemExit(f"{m}: logits differ by {error:.2e} relative (more than 1e-4)")
    print("every file agrees within 1e-4")


if __name__ == "__main__":
    main()

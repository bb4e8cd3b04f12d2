#!/usr/bin/python3
"""Train a zoo model in PyTorch with the book's recipe, for side-by-side accuracy runs.

The same data (Fashion-MNIST IDX files), the same preprocessing (scale to [0,1], bilinear resize
as F.interpolate(align_corners=False)), the same initialisation scheme (Xavier-uniform weights,
zero biases), plain SGD and the same metrics as `strata train`: loss and train acc averaged over
the epoch in training mode, test acc in evaluation mode after each epoch. Prints the same
epoch line, e.g.

  epoch 1/10: loss 2.301, train acc 0.112, test acc 0.100, 9120.4 examples/sec on cpu (2 threads)

  tools/torch_train.py lenet --epochs 10
  tools/torch_train.py alexnet --epochs 1 --limit-train 10000 --limit-test 2000
"""
import argparse
import gzip
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_zoo  # noqa: E402

# The book's recipes (MODELS.md; src/models/zoo.cpp): lr, batch, epochs, resize.
RECIPES = {
    "lenet": (0.9, 256, 10, 28), "lenet-bn": (1.0, 256, 10, 28),
    "lenet-gluon": (0.9, 256, 5, 28), "lenet-bn-gluon": (1.0, 256, 5, 28), "alexnet": (0.01, 128, 10, 224),
    "vgg11": (0.05, 128, 10, 224), "vgg11-small": (0.05, 128, 10, 224), "nin": (0.1, 128, 10, 224),
    "googlenet": (0.1, 128, 10, 96), "resnet18": (0.05, 256, 10, 96),
}


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(data_dir, split, limit):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    if limit:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(images.copy()).float().unsqueeze(1) / 255.0, torch.from_numpy(labels.astype(np.int64))


def batches(x, y, batch, shuffle, gen):
    order = torch.randperm(len(y), generator=gen) if shuffle else torch.arange(len(y))
    for i in range(0, len(y), batch):
        idx = order[i:i + batch]
        yield x[idx], y[idx]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", choices=sorted(RECIPES))
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--resize", type=int)
    p.add_argument("--limit-train", type=int, default=0)
    p.add_argument("--limit-test", type=int, default=0)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-shuffle", action="store_true")
    a = p.parse_args()
    lr, batch, epochs, resize = RECIPES[a.model]
    lr, batch = a.lr or lr, a.batch_size or batch
    epochs, resize = a.epochs or epochs, a.resize or resize
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    x_train, y_train = load(a.data, "train", a.limit_train)
    x_test, y_test = load(a.data, "test", a.limit_test)
    model = torch_zoo.ZOO[a.model][0]()
    for m in model.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
            torch.nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                torch.nn.init.zeros_(m.bias)
    sgd = torch.optim.SGD(model.parameters(), lr=lr)

    def prep(x):
        return F.interpolate(x, size=(resize, resize), mode="bilinear", align_corners=False) if resize != 28 else x

    for epoch in range(1, epochs + 1):
        model.train()
        total_loss, correct, seen, train_time = 0.0, 0, 0, 0.0
        for xb, yb in batches(x_train, y_train, batch, not a.no_shuffle, gen):
            t0 = time.perf_counter()
            logits = model(prep(xb))
            loss = F.cross_entropy(logits, yb)
            sgd.zero_grad()
            loss.backward()
            sgd.step()
            train_time += time.perf_counter() - t0
            total_loss += loss.item() * len(yb)
            correct += (logits.argmax(1) == yb).sum().item()
            seen += len(yb)
        model.eval()
        test_correct = 0
        with torch.no_grad():
            for xb, yb in batches(x_test, y_test, batch, False, gen):
                test_correct += (model(prep(xb)).argmax(1) == yb).sum().item()
        print(f"epoch {epoch}/{epochs}: loss {total_loss / seen:.3f}, train acc {correct / seen:.3f}, "
              f"test acc {test_correct / len(y_test):.3f}, {seen / train_time:.1f} examples/sec on cpu "
              f"({a.threads} threads)", flush=True)


if __name__ == "__main__":
    main()

"""The Strata model zoo as torch.nn module trees (../shared/MODELS.md, d2l's code).

Parameter and buffer names equal Strata's (src/models), so state_dicts move between the two.
Used by tools/make_golden.py (fixtures) and bench/compare_pytorch.py (side-by-side timing).
"""
import torch
from torch import nn

class Inception(nn.Module):
    def __init__(self, cin, c1, c2, c3, c4):
        super().__init__()
        self.p1_1 = nn.Conv2d(cin, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(cin, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(cin, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(cin, c4, kernel_size=1)

    def forward(self, x):
        relu = torch.relu
        p1 = relu(self.p1_1(x))
        p2 = relu(self.p2_2(relu(self.p2_1(x))))
        p3 = relu(self.p3_2(relu(self.p3_1(x))))
        p4 = relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


class Residual(nn.Module):
    def __init__(self, cin, c, use_1x1conv=False, stride=1, nd=2):
        super().__init__()
        conv = nn.Conv2d if nd == 2 else nn.Conv3d
        bn = nn.BatchNorm2d if nd == 2 else nn.BatchNorm3d
        self.conv1 = conv(cin, c, kernel_size=3, padding=1, stride=stride)
        self.conv2 = conv(c, c, kernel_size=3, padding=1)
        self.conv3 = conv(cin, c, kernel_size=1, stride=stride) if use_1x1conv else None
        self.bn1 = bn(c)
        self.bn2 = bn(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.conv3 is not None:
            x = self.conv3(x)
        return torch.relu(y + x)


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def lenet_bn(pool=nn.AvgPool2d):
    """LeNet with batch normalization; `pool` is its pooling (max in the first edition)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(), pool(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(), pool(kernel_size=2, stride=2),
        nn.Flatten(), nn.Linear(256, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(), nn.Linear(84, 10))


def lenet_gluon():
    """The book's first (MXNet Gluon) edition: max pooling, the first convolution unpadded."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.MaxPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(256, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def alexnet():
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(), nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(4096, 10))


def vgg_block(num_convs, cin, cout):
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(cin, cout, kernel_size=3, padding=1), nn.ReLU()]
        cin = cout
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch):
    blocks, cin = [], 1
    for num_convs, cout in conv_arch:
        blocks.append(vgg_block(num_convs, cin, cout))
        cin = cout
    return nn.Sequential(
        *blocks, nn.Flatten(), nn.Linear(cin * 7 * 7, 4096), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 10))


VGG11 = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def nin_block(cin, cout, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(cout, cout, kernel_size=1), nn.ReLU(), nn.Conv2d(cout, cout, kernel_size=1), nn.ReLU())


def nin():
    return nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2), nn.Dropout(0.5),
        nin_block(384, 10, kernel_size=3, strides=1, padding=1), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


def googlenet():
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(), nn.Conv2d(64, 192, kernel_size=3, padding=1),
                       nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32), Inception(256, 128, (128, 192), (32, 96), 64),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64), Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64), Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))


def resnet18(nd=2):
    conv, bn = (nn.Conv2d, nn.BatchNorm2d) if nd == 2 else (nn.Conv3d, nn.BatchNorm3d)
    pool, gap = (nn.MaxPool2d, nn.AdaptiveAvgPool2d((1, 1))) if nd == 2 else (nn.MaxPool3d, nn.AdaptiveAvgPool3d((1, 1, 1)))

    def resnet_block(cin, c, n, first=False):
        return [Residual(cin, c, use_1x1conv=True, stride=2, nd=nd) if i == 0 and not first
                else Residual(c, c, nd=nd) for i in range(n)]

    b1 = nn.Sequential(conv(1, 64, kernel_size=7, stride=2, padding=3), bn(64), nn.ReLU(),
                       pool(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, gap, nn.Flatten(), nn.Linear(512, 10))


# name -> (builder, default input): the zoo of src/models/zoo.cpp.
ZOO = {
    "lenet": (lenet, (1, 1, 28, 28)),
    "lenet-bn": (lenet_bn, (1, 1, 28, 28)),
    "lenet-gluon": (lenet_gluon, (1, 1, 28, 28)),
    "lenet-bn-gluon": (lambda: lenet_bn(nn.MaxPool2d), (1, 1, 28, 28)),
    "alexnet": (alexnet, (1, 1, 224, 224)),
    "vgg11": (lambda: vgg(VGG11), (1, 1, 224, 224)),
    "vgg11-small": (lambda: vgg([(n, c // 4) for n, c in VGG11]), (1, 1, 224, 224)),
    "nin": (nin, (1, 1, 224, 224)),
    "googlenet": (googlenet, (1, 1, 96, 96)),
    "resnet18": (resnet18, (1, 1, 96, 96)),
    "resnet3d18": (lambda: resnet18(nd=3), (1, 1, 16, 96, 96)),
}



def randomize_statistics(model):
    """Batch-norm running statistics away from their initial 0 and 1 (means in [-0.2, 0.2),
    variances in [0.5, 1.5)), so that a batch norm exported or imported wrongly shows in the logits."""
    with torch.no_grad():
        for key, b in model.named_buffers():
            if key.endswith("running_mean"):
                b.uniform_(-0.2, 0.2)
            elif key.endswith("running_var"):
                b.uniform_(0.5, 1.5)

"""Models for the trace tests: the golden fixtures and built models of the other variants,
each as a PyTorch module and the same weights as an :class:`npsep.Model`."""
import json
from pathlib import Path

import numpy as np
import torch

import npsep
from npsep.weights import make_config
from torch_reference import build, load_fixture

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = json.loads((FIXTURES / "MANIFEST.json").read_text())
TINY = dict(out_channels=16, in_channels=32, num_blocks=2, upsampling_depth=3, enc_kernel_size=21,
            enc_num_basis=32, num_sources=2)
BUILT = {
    "asteroid_sudormrf": ("asteroid_sudormrf", dict(TINY, in_channels=32, mask_act="softmax")),
    "asteroid_improved": ("asteroid_improved", dict(TINY, in_channels=32, mask_act="relu")),
    "original_q2": ("original", dict(TINY, upsampling_depth=2, out_channels=24)),  # upsampler called once
    "groupcomm_q2": ("groupcomm", dict(TINY, upsampling_depth=2, group_size=2)),
}
CASES = list(MANIFEST) + list(BUILT)
"""Every variant: three fixtures (original, improved, groupcomm), two Asteroid models, two Q = 2 models."""


def torch_case(name, seed=0):
    """``(variant, hp, module, x)``: a fixture with its input, or a built model with weights spread
    away from their initial values (PReLU slopes, norm scales) and a two-item batch of odd length."""
    if name in MANIFEST:
        module, x, _ = load_fixture(name)
        return MANIFEST[name]["variant"], MANIFEST[name]["config"], module, x
    variant, hp = BUILT[name]
    torch.manual_seed(seed)
    module = build(variant, hp).eval()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return variant, hp, module, 0.5 * torch.randn(2, 1, 1001)


def npsep_model(variant, hp, module):
    """The module's weights as an :class:`npsep.Model`."""
    tensors = {k: v.detach().numpy().astype(np.float32) for k, v in module.state_dict().items()}
    return npsep.Model(make_config(variant, hp), tensors)

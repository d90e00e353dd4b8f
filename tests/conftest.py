"""Helpers shared by the tests."""
from npsep import architectures

TORCH_BLOCKED = """
import sys


class NoTorch:  # any 'import torch...' now raises ImportError
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ImportError("torch is blocked in this process")


sys.meta_path.insert(0, NoTorch())
"""
"""Python source that makes every later ``import torch...`` in its process raise ImportError:
the start of a ``python -c`` script that must run without PyTorch."""


def valid_hparams(variant, hp, group_size=2, mask_act=None):
    """``hp`` made valid for ``variant``: a ``group_size`` where the variant has one (kept if ``hp``
    has it), ``in_channels = enc_num_basis`` where the variant needs it, and a ``mask_act`` where the
    variant has one (``mask_act`` if given, else the one in ``hp``, else the variant's default)."""
    arch = architectures.architecture(variant)
    hp = dict(hp)
    if "group_size" in arch.extra_hparams:
        hp.setdefault("group_size", group_size)
    if arch.in_channels_is_basis:
        hp["in_channels"] = hp["enc_num_basis"]
    if arch.mask_act_is_hparam:
        hp["mask_act"] = mask_act or hp.get("mask_act") or arch.mask_act
    return hp

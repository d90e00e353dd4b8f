"""npsep.info: receptive field against a toy network probed with impulses; multiply-adds
against a count from the tensor shapes and against a published reference figure."""
import numpy as np
import pytest

from npsep import architectures, info
from test_info_layers import small_hp

SMALL = dict(out_channels=8, in_channels=16, num_blocks=2, upsampling_depth=3,
             enc_kernel_size=5, enc_num_basis=8, num_sources=2)


# --- receptive field: a toy network with all-ones kernels, probed with impulses ----------

def conv(x, k, stride, pad):
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    return np.convolve(xp, np.ones(k), "valid")[::stride]


def conv_transpose(x, k, stride, pad, length):
    up = np.zeros(len(x) * stride)
    up[::stride] = x
    return np.convolve(up, np.ones(k))[pad:pad + length]


def toy_forward(x, hp):
    """Same connectivity as SuDoRM-RF (encoder, U-blocks, mask x encoder output, decoder),
    with every weight 1 and sums in place of products, so that a non-zero output marks a
    dependence."""
    K, Q, N = hp["enc_kernel_size"], hp["upsampling_depth"], hp["num_blocks"]
    v = conv(x, K, K // 2, K // 2)
    y = v
    for _ in range(N):
        levels = [conv(y, 5, 1, 2)]
        for _ in range(1, Q):
            levels.append(conv(levels[-1], 5, 2, 2))
        for k in range(Q - 1, 0, -1):
            up = np.repeat(levels[k], 2)[:len(levels[k - 1])]
            levels[k - 1] = levels[k - 1] + up
        y = levels[0] + y
    return conv_transpose(y + v, K, K // 2, K // 2, len(x))


@pytest.mark.parametrize("K,Q,N", [(5, 3, 2), (7, 2, 3), (3, 4, 1)])
def test_receptive_field_matches_impulse_probing(K, Q, N):
    hp = dict(SMALL, enc_kernel_size=K, upsampling_depth=Q, num_blocks=N)
    T = 600
    deps = np.zeros((T, T), dtype=bool)
    for q in range(T):
        e = np.zeros(T)
        e[q] = 1.0
        deps[:, q] = toy_forward(e, hp) > 0
    widths = []
    for t in range(T // 3, 2 * T // 3):
        qs = np.flatnonzero(deps[t])
        widths.append(qs.max() - qs.min() + 1)
    assert max(widths) < T // 3  # far from the edges
    assert info.receptive_field(hp) == max(widths)
    # and one output's support, position by position
    for t in range(T // 3, T // 3 + 40):
        qs = np.flatnonzero(deps[t])
        assert info.sample_support(hp, t) == (qs.min(), qs.max())


# --- multiply-adds from the tensor shapes -----------------------------------------------

def macs_from_shapes(variant, hp, L):
    """One multiply-add per weight per position it is applied at, read off the state dict."""
    levels = [L]
    for _ in range(1, hp["upsampling_depth"]):
        levels.append(-(-levels[-1] // 2))
    S, E = hp["num_sources"], hp["enc_num_basis"]
    G = hp.get("group_size", 1)
    total = 0
    for name, shape in architectures.expected_shapes(variant, hp).items():
        if not name.endswith(("weight", "_filters")) or shape[0] == architectures.PRELU:
            continue
        size = int(np.prod(shape))
        if len(shape) == 1:  # norms
            continue
        times = G if ".UBlock." in name or "TAC_input" in name or "TAC_output" in name else 1
        if ".spp_dw." in name:
            k = int(name.split(".spp_dw.")[1].split(".")[0])
            total += times * size * levels[k]
        elif name in ("m.weight", "masker.m.weight"):
            total += size * E * L
        elif name == "decoder.filterbank._filters":
            total += S * size * L
        else:
            total += times * size * L
    return total


@pytest.mark.parametrize("variant", architectures.VARIANTS)
def test_mac_breakdown_matches_shape_count(variant):
    hp = small_hp(variant)
    for L in (1, 7, 100, 333):
        assert sum(info.mac_breakdown(variant, hp, L).values()) == macs_from_shapes(variant, hp, L)


def test_macs_match_the_reference_figure():
    """The improved model of ``docs/benchmarks.md``, C_out=256, C_in=512, N=16, Q=5, K=21, E=512,
    S=2, on a 4 s mixture at 8 kHz: about 30 GFLOP (2 FLOP per multiply-add)."""
    hp = dict(out_channels=256, in_channels=512, num_blocks=16, upsampling_depth=5,
              enc_kernel_size=21, enc_num_basis=512, num_sources=2)
    assert info.num_frames(hp, info.padded_length("improved", hp, 32000)) == 3200
    assert 2 * info.macs("improved", hp, 32000) == pytest.approx(30e9, rel=0.05)
    assert info.macs_per_second("improved", hp, 8000) == pytest.approx(
        info.macs("improved", hp, 8000 * 1000) / 1000, rel=1e-3)


def test_pad_multiple_follows_the_padding_rule():
    hp = dict(SMALL, enc_kernel_size=21, upsampling_depth=4)
    assert info.pad_multiple("improved", hp) == 10 * 16
    assert info.pad_multiple("original", hp) == 80  # lcm(10, 16)
    assert info.padded_length("improved", hp, 1) == 160
    assert info.padded_length("original", hp, 81) == 160

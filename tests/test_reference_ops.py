"""Each NumPy oracle in npsep.reference against the PyTorch operation it stands for.

Both sides get the same float64 inputs and compute in float64, so the only
difference is summation order: tolerance 1e-10 relative to the output's largest
magnitude. Shapes are drawn by hypothesis (odd lengths, L = 1, stride 2).
"""
import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from npsep import architectures as A, reference as R
from torch_reference import TAC, GlobLN

RTOL = 1e-10
SETTINGS = settings(max_examples=15, deadline=None)
seeds = st.integers(0, 2**31 - 1)
lengths = st.one_of(st.just(1), st.integers(1, 200))


def close(actual, expected):
    expected = expected.detach().numpy() if torch.is_tensor(expected) else expected
    err = np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300)
    assert err <= RTOL, f"relative error {err:.3g}"


def t(a):
    return torch.from_numpy(np.asarray(a))


@SETTINGS
@given(seed=seeds, T=st.integers(1, 300), E=st.integers(1, 16), K=st.sampled_from([3, 5, 17, 21]), bias=st.booleans())
def test_encoder_conv(seed, T, E, K, bias):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(T), rng.standard_normal((E, 1, K)), rng.standard_normal(E)
    expected = F.conv1d(t(x)[None, None], t(w), t(b) if bias else None, stride=K // 2, padding=K // 2)[0]
    close(R.encoder_conv(x, w, b if bias else None), expected)


@SETTINGS
@given(seed=seeds, C_i=st.integers(1, 16), C_o=st.integers(1, 16), L=lengths)
def test_pointwise_conv(seed, C_i, C_o, L):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((C_i, L)), rng.standard_normal((C_o, C_i, 1)), rng.standard_normal(C_o)
    close(R.pointwise_conv(x, w, b), F.conv1d(t(x)[None], t(w), t(b))[0])


@SETTINGS
@given(seed=seeds, C=st.integers(1, 16), L=lengths, stride=st.sampled_from([1, 2]))
def test_depthwise_conv(seed, C, L, stride):
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((C, L)), rng.standard_normal((C, 1, 5)), rng.standard_normal(C)
    expected = F.conv1d(t(x)[None], t(w), t(b), stride=stride, padding=2, groups=C)[0]
    close(R.depthwise_conv(x, w, b, stride), expected)


@SETTINGS
@given(seed=seeds, C=st.integers(1, 16), L=lengths, offset=st.floats(-10, 10))
def test_glob_ln_is_groupnorm_and_the_original_globln(seed, C, L, offset):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((C, L)) + offset
    gamma, beta = rng.standard_normal(C), rng.standard_normal(C)
    if C * L > 1:  # torch's group_norm refuses a single value
        close(R.glob_ln(x, gamma, beta), F.group_norm(t(x)[None], 1, t(gamma), t(beta), eps=1e-8)[0])
    globln = GlobLN(C).double()
    with torch.no_grad():
        globln.gamma.copy_(t(gamma))
        globln.beta.copy_(t(beta))
        close(R.glob_ln(x, gamma, beta), globln(t(x)[None])[0])


@SETTINGS
@given(seed=seeds, C=st.integers(1, 16), L=lengths, per_channel=st.booleans())
def test_prelu(seed, C, L, per_channel):
    rng = np.random.default_rng(seed)
    x, a = rng.standard_normal((C, L)), rng.standard_normal(C if per_channel else 1)
    close(R.prelu(x, a), F.prelu(t(x)[None], t(a))[0])


@SETTINGS
@given(seed=seeds, C=st.integers(1, 8), L=lengths)
def test_upsample_add(seed, C, L):
    rng = np.random.default_rng(seed)
    fine, coarse = rng.standard_normal((C, L)), rng.standard_normal((C, (L + 1) // 2))
    up = F.interpolate(t(coarse)[None], scale_factor=2, mode="nearest")[0][:, :L]
    close(R.upsample_add(fine, coarse), t(fine) + up)


@SETTINGS
@given(seed=seeds, S=st.integers(1, 4), E=st.integers(1, 8), L=lengths)
def test_mask_nonlinearities(seed, S, E, L):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((S, E, L)) * 5
    close(R.softmax_sources(z), torch.softmax(t(z), dim=0))
    close(R.sigmoid(z), torch.sigmoid(t(z)))
    close(R.relu(z), torch.relu(t(z)))


@SETTINGS
@given(seed=seeds, S=st.integers(1, 4), half_E=st.integers(1, 12), L=lengths)
def test_channel_axis_conv_is_the_original_conv2d(seed, S, half_E, L):
    rng = np.random.default_rng(seed)
    E = 2 * half_E
    y, w, b = rng.standard_normal((E, L)), rng.standard_normal((S, 1, E + 1, 1)), rng.standard_normal(S)
    expected = F.conv2d(t(y)[None, None], t(w), t(b), padding=(E - E // 2, 0))[0]
    close(R.channel_axis_conv(y, w, b), expected)


@SETTINGS
@given(seed=seeds, S=st.integers(1, 4), E=st.integers(1, 8), L=lengths, K=st.sampled_from([3, 5, 17, 21]),
       grouped=st.booleans(), bias=st.booleans())
def test_conv_transpose1d(seed, S, E, L, K, grouped, bias):
    rng = np.random.default_rng(seed)
    groups = S if grouped else 1
    x, w = rng.standard_normal((S * E, L)), rng.standard_normal((S * E, S // groups, K))
    b = rng.standard_normal(S) if bias else None
    hop = K // 2
    expected = F.conv_transpose1d(t(x)[None], t(w), None if b is None else t(b), stride=hop, padding=hop,
                                  output_padding=hop - 1, groups=groups)[0]
    close(R.conv_transpose1d(x, w, b, hop, hop, hop - 1, groups=groups), expected)


@SETTINGS
@given(seed=seeds, G=st.integers(1, 5), c=st.integers(1, 6), L=lengths)
def test_tac(seed, G, c, L):
    rng = np.random.default_rng(seed)
    module = TAC(c, 3 * c).double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(t(rng.standard_normal(tuple(p.shape))))
    x = rng.standard_normal((G, c, L))
    p = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    with torch.no_grad():
        close(R.transform_average_concatenate(x, **vars(A.fill(A.tac_slots("", c), p))), module(t(x)[None])[0])

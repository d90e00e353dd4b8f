"""Every Numba kernel (and fast block) against the NumPy oracle in npsep.reference.

The oracle runs in float64, the kernels in float32, so a difference is the kernels'
float32 rounding. Tolerances: a value that is a sum of ``n`` float32 products has a
relative error of about ``n * 6e-8`` of the magnitudes summed; the sums here have at
most a few hundred terms, so ``rtol = 1e-5`` relative to the output's largest
magnitude (``close`` below) bounds them with room. The GlobLN statistics are checked
to 1e-9 because the kernels accumulate them in float64. Shapes are drawn by
hypothesis and include L = 1, odd lengths and stride 2.
"""
import numba
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from npsep import architectures as A, reference as R
from npsep.fast import blocks
from npsep.kernels.conv import depthwise_conv_stats, depthwise_scratch, frame_signal, overlap_add
from npsep.kernels.masks import RELU, SIGMOID, SOFTMAX, decoder_scratch, masked_decoder_frames
from npsep.kernels import gemm
from npsep.kernels.norm import affine_act, affine_add_stats, channel_stats, norm_coefficients
from npsep.kernels.pyramid import merge_levels_stats, merge_scratch
from npsep.kernels.tac import group_mean, tac_output_residual

RTOL = 1e-5
SETTINGS = settings(max_examples=25, deadline=None)


def close(actual, expected, rtol=RTOL, scale=None):
    """Max abs difference within ``rtol`` of ``scale``: by default the expected output's largest
    magnitude; where the output is a sum whose terms may cancel, the terms' magnitude."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = max(np.abs(expected).max() if scale is None else scale, 1e-30)
    err = np.abs(np.asarray(actual, dtype=np.float64) - expected).max() / scale
    assert err <= rtol, f"relative error {err:.3g} > {rtol}"


def rand(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def f64(a):
    return np.asarray(a, dtype=np.float64)


def coefficients(sums, L, gamma, beta, groups=1, bias=None):
    """``(mu, scale, beta)`` by :func:`norm_coefficients`, into a fresh ``[2, C]`` array."""
    return norm_coefficients(sums, L, gamma, beta, np.empty((2, sums.shape[0]), np.float32), groups, bias)


def scratch(rows, size):
    """Per-thread scratch, filled with NaN: a kernel must not read what it has not written."""
    return np.full((rows, size), np.nan, np.float32)


seeds = st.integers(0, 2**31 - 1)
lengths = st.one_of(st.just(1), st.integers(1, 300))
channels = st.integers(1, 24)


@SETTINGS
@given(seed=seeds, T=st.integers(1, 400), E=channels, K=st.sampled_from([3, 5, 9, 17, 21]))
def test_encoder_framing_is_the_strided_conv(seed, T, E, K):
    rng = np.random.default_rng(seed)
    x, w = rand(rng, T), rand(rng, E, 1, K)
    L = (T - 1) // (K // 2) + 1
    frames = np.empty((K, L), np.float32)
    frame_signal(x, K, K // 2, frames)
    close(w[:, 0] @ frames, R.encoder_conv(f64(x), f64(w)))


@SETTINGS
@given(seed=seeds, C=channels, L=lengths)
def test_channel_stats(seed, C, L):
    rng = np.random.default_rng(seed)
    y = rand(rng, C, L) + 3
    sums = np.empty((C, 2))
    channel_stats(y, sums)
    np.testing.assert_allclose(sums[:, 0], f64(y).sum(1), rtol=1e-9, atol=1e-9 * L)
    np.testing.assert_allclose(sums[:, 1], (f64(y) ** 2).sum(1), rtol=1e-9)


@SETTINGS
@given(seed=seeds, C=channels, L=lengths, groups=st.sampled_from([1, 2]))
def test_bias_folded_into_the_norm(seed, C, L, groups):
    """GlobLN(y + b) from the sums of y alone: the bias moves into the per-channel mean."""
    rng = np.random.default_rng(seed)
    C *= groups
    y, b = rand(rng, C, L), rand(rng, C) * 3
    gamma, beta = rand(rng, C) + 1, rand(rng, C)
    sums = np.empty((C, 2))
    channel_stats(y, sums)
    out = y.copy()
    affine_act(out, *coefficients(sums, L, gamma, beta, groups, bias=b), np.ones(1, np.float32))
    yb, c = f64(y) + f64(b)[:, None], C // groups
    expected = np.concatenate([R.glob_ln(yb[g * c:(g + 1) * c], f64(gamma[g * c:(g + 1) * c]),
                                         f64(beta[g * c:(g + 1) * c])) for g in range(groups)])
    close(out, expected, rtol=2e-5)


@SETTINGS
@given(seed=seeds, C=channels, L=lengths, per_channel=st.booleans(), offset=st.floats(-5, 5))
def test_norm_coefficients_and_affine_act_are_globln_then_prelu(seed, C, L, per_channel, offset):
    rng = np.random.default_rng(seed)
    y = rand(rng, C, L) * 2 + np.float32(offset)
    gamma, beta = rand(rng, C) + 1, rand(rng, C)
    slope = rand(rng, C if per_channel else 1)
    sums = np.empty((C, 2))
    channel_stats(y, sums)
    out = y.copy()
    affine_act(out, *coefficients(sums, L, gamma, beta), slope)
    close(out, R.prelu(R.glob_ln(f64(y), f64(gamma), f64(beta)), f64(slope)), rtol=2e-5)


@SETTINGS
@given(seed=seeds, G=st.integers(1, 5), c=st.integers(1, 6), L=lengths)
def test_grouped_norm_coefficients_normalise_each_group_alone(seed, G, c, L):
    rng = np.random.default_rng(seed)
    y = rand(rng, G * c, L) * 2 + rand(rng, G * c, 1)
    gamma, beta, slope = rand(rng, G * c) + 1, rand(rng, G * c), np.ones(1, np.float32)
    sums = np.empty((G * c, 2))
    channel_stats(y, sums)
    out = y.copy()
    affine_act(out, *coefficients(sums, L, gamma, beta, groups=G), slope)
    expected = np.concatenate([R.glob_ln(f64(y[g * c:(g + 1) * c]), f64(gamma[g * c:(g + 1) * c]),
                                         f64(beta[g * c:(g + 1) * c])) for g in range(G)])
    close(out, expected, rtol=2e-5)


@SETTINGS
@given(seed=seeds, C=channels, L=lengths)
def test_affine_add_stats_is_norm_plus_residual(seed, C, L):
    rng = np.random.default_rng(seed)
    e, x = rand(rng, C, L), rand(rng, C, L)
    gamma, beta = rand(rng, C) + 1, rand(rng, C)
    sums = np.empty((C, 2))
    channel_stats(e, sums)
    expected = R.glob_ln(f64(e), f64(gamma), f64(beta)) + f64(x)
    affine_add_stats(e, *coefficients(sums, L, gamma, beta), x, sums)
    close(x, expected, rtol=2e-5)
    np.testing.assert_allclose(sums[:, 0], f64(x).sum(1), rtol=1e-6, atol=1e-6 * L)


@SETTINGS
@given(seed=seeds, G=st.integers(1, 3), M=st.integers(1, 20), K=st.integers(1, 20),
       L=st.one_of(lengths, st.integers(500, 1100)), threads=st.integers(1, 3), parallel=st.booleans())
def test_matmul_kernels_are_grouped_products(seed, G, M, K, L, threads, parallel):
    """The column-block products: any number of runs and blocks (L > BLOCK crosses blocks),
    both builds."""
    rng = np.random.default_rng(seed)
    pick = (lambda k: k.parallel) if parallel else (lambda k: k.serial)
    w, x, b = rand(rng, M, K), rand(rng, G * K, L), rand(rng, G * M)
    product = np.einsum("mk,gkl->gml", f64(w), f64(x).reshape(G, K, L)).reshape(G * M, L)
    # the terms' magnitude (sums may cancel), the bias included as in the normalised case below
    scale = np.abs(w).max() * np.abs(x).max() * K
    out = np.empty((G * M, L), np.float32)
    pick(gemm.matmul)(x, w, b, G, out, False, threads)
    close(out, product + f64(b)[:, None], scale=scale + np.abs(b).max())
    pick(gemm.matmul)(x, w, np.zeros(0, np.float32), G, out, True, threads)  # no bias, accumulated
    close(out, 2 * product + f64(b)[:, None], scale=2 * scale + np.abs(b).max())

    # one group: normalised and activated block by block on the way in
    mu, sc, beta, slope = rand(rng, K), rng.random(K).astype(np.float32), rand(rng, K), rand(rng, 1)
    normed = R.prelu((f64(x[:K]) - f64(mu)[:, None]) * f64(sc)[:, None] + f64(beta)[:, None], f64(slope))
    out = np.empty((M, L), np.float32)
    pick(gemm.norm_act_matmul)(x[:K], mu, sc, beta, slope, w, b[:M], out, threads,
                               scratch(threads, gemm.norm_act_scratch(K)))
    close(out, f64(w) @ normed + f64(b[:M])[:, None], scale=np.abs(w).max() * np.abs(normed).max() * K + np.abs(b).max())


@SETTINGS
@given(seed=seeds, C=channels, L=lengths, stride=st.sampled_from([1, 2]), per_channel=st.booleans(),
       in_place=st.booleans())
def test_depthwise_conv_of_normalised_input(seed, C, L, stride, per_channel, in_place):
    rng = np.random.default_rng(seed)
    x, w, b = rand(rng, C, L), rand(rng, C, 1, 5), rand(rng, C)
    gamma, beta, slope = rand(rng, C) + 1, rand(rng, C), rand(rng, C if per_channel else 1)
    sums = np.empty((C, 2))
    channel_stats(x, sums)
    u = R.prelu(R.glob_ln(f64(x), f64(gamma), f64(beta)), f64(slope))
    y = x if in_place and stride == 1 else np.empty((C, (L - 1) // stride + 1), np.float32)
    depthwise_conv_stats(x, *coefficients(sums, L, gamma, beta), slope, w[:, 0], b, stride, y, sums,
                         scratch(numba.get_num_threads(), depthwise_scratch(L)))
    expected = R.depthwise_conv(u, f64(w), f64(b), stride)
    close(y, expected, rtol=3e-5)
    np.testing.assert_allclose(sums[:, 0], f64(y).sum(1), rtol=1e-6, atol=1e-6 * L)


@SETTINGS
@given(seed=seeds, C=channels, L=lengths, Q=st.integers(1, 5))
def test_merge_levels_is_the_upsample_add_chain(seed, C, L, Q):
    rng = np.random.default_rng(seed)
    lengths_ = [L]
    for _ in range(1, Q):
        lengths_.append((lengths_[-1] + 1) // 2)
    levels = [rand(rng, C, n) for n in lengths_]
    mu, scale, beta = rand(rng, Q, C), rand(rng, Q, C), rand(rng, Q, C)
    normed = [(f64(d) - f64(mu[k])[:, None]) * f64(scale[k])[:, None] + f64(beta[k])[:, None]
              for k, d in enumerate(levels)]
    terms = sum(np.abs(f64(d) - f64(mu[k])[:, None]).max() * np.abs(scale[k]).max() + np.abs(beta[k]).max()
                for k, d in enumerate(levels))  # the merged value can cancel to ~0: judge against its terms
    while len(normed) > 1:
        coarse = normed.pop()
        normed[-1] = R.upsample_add(normed[-1], coarse)
    sizes = np.array([C * n for n in lengths_[1:]], dtype=np.int64)
    offsets = np.concatenate([[0, 0], np.cumsum(sizes)[:-1]]).astype(np.int64)[:Q]  # level 0 is d0
    out, sums = levels[0].copy(), np.empty((C, 2))
    flat = np.concatenate([d.ravel() for d in levels[1:]] + [np.empty(0, np.float32)])
    merge_levels_stats(out, flat, offsets, np.array(lengths_, dtype=np.int64), mu, scale, beta, sums,
                       scratch(numba.get_num_threads(), merge_scratch(L)))
    close(out, normed[0], scale=terms)
    np.testing.assert_allclose(sums[:, 1], (f64(out) ** 2).sum(1), rtol=1e-6)


@SETTINGS
@given(seed=seeds, S=st.integers(1, 4), E=st.integers(1, 12), C=st.integers(1, 12),
       L=st.one_of(lengths, st.integers(500, 700)), act=st.sampled_from(["relu", "softmax", "sigmoid"]),
       decoder=st.sampled_from(["improved", "original", "asteroid"]), reshape=st.booleans(),
       per_channel=st.booleans(), threads=st.integers(1, 3), parallel=st.booleans())
def test_masked_decoder_frames_is_masks_then_decoder_product(seed, S, E, C, L, act, decoder, reshape,
                                                             per_channel, threads, parallel):
    rng = np.random.default_rng(seed)
    K = 5
    y, slope, v = rand(rng, C, L), rand(rng, C if per_channel else 1), rand(rng, E, L)
    t = R.prelu(f64(y), f64(slope))
    if reshape:  # the original family's reshape_before_masks conv
        w_r, b_r = rand(rng, E, C), rand(rng, E)
        t = f64(w_r) @ t + f64(b_r)[:, None]
    else:
        w_r, b_r = np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
    w_m, b_m = rand(rng, S * E, t.shape[0]), rand(rng, S, E)
    logits = (f64(w_m) @ t).reshape(S, E, L) + f64(b_m)[:, :, None]
    masked = {"relu": R.relu, "softmax": R.softmax_sources, "sigmoid": R.sigmoid}[act](logits) * f64(v)[None]
    if decoder == "improved":  # one [S*K, S*E] matrix for all sources
        w_d = rand(rng, 1, S * K, S * E)
        expected = f64(w_d[0]) @ masked.reshape(S * E, L)
    elif decoder == "original":  # a [K, E] matrix per source
        w_d = rand(rng, S, K, E)
        expected = np.concatenate([f64(w_d[s]) @ masked[s] for s in range(S)])
    else:  # one [K, E] matrix shared by the sources
        w_d = rand(rng, 1, K, E)
        expected = np.concatenate([f64(w_d[0]) @ masked[s] for s in range(S)])
    frames = np.empty((S * K, L), np.float32)
    kernel = masked_decoder_frames.parallel if parallel else masked_decoder_frames.serial
    kernel(y, slope, w_r, b_r, w_m, b_m, v, {"relu": RELU, "softmax": SOFTMAX, "sigmoid": SIGMOID}[act],
           w_d, frames, threads, scratch(threads, decoder_scratch(C, w_r.shape[0], S * E)))
    # the logits are sums that may cancel before the mask: judge against their terms' size
    terms = np.abs(w_m).max() * np.abs(t).max() * t.shape[0] + np.abs(b_m).max()
    close(frames, expected, rtol=2e-5, scale=np.abs(w_d).max() * w_d.shape[2] * np.abs(v).max() * max(terms, 1.0))


@SETTINGS
@given(seed=seeds, S=st.integers(1, 4), E=st.integers(1, 12), L=lengths, K=st.sampled_from([3, 5, 17, 21]),
       groups=st.booleans())
def test_decoder_gemm_and_overlap_add_is_conv_transpose1d(seed, S, E, L, K, groups):
    rng = np.random.default_rng(seed)
    hop = K // 2
    z, b = rand(rng, S * E, L), rand(rng, S)
    if groups:  # original: groups = S, weight [S*E, 1, K]
        w = rand(rng, S * E, 1, K)
        frames = np.matmul(np.ascontiguousarray(w[:, 0].reshape(S, E, K).transpose(0, 2, 1)), z.reshape(S, E, L))
    else:  # improved: groups = 1, weight [S*E, S, K]
        w = rand(rng, S * E, S, K)
        frames = (np.ascontiguousarray(w.transpose(1, 2, 0).reshape(S * K, S * E)) @ z).reshape(S, K, L)
    expected = R.conv_transpose1d(f64(z), f64(w), f64(b), hop, hop, hop - 1, groups=S if groups else 1)
    T = max(1, expected.shape[1] - int(rng.integers(0, hop + 1)))  # the decoder output is trimmed
    out = np.empty((S, T), np.float32)
    overlap_add(np.ascontiguousarray(frames, dtype=np.float32), hop, hop, b, out)
    close(out, expected[:, :T])


@SETTINGS
@given(seed=seeds, G=st.integers(1, 6), c=st.integers(1, 6), L=lengths, per_channel=st.booleans())
def test_tac_kernels_compose_to_tac(seed, G, c, L, per_channel):
    rng = np.random.default_rng(seed)
    H = 3 * c
    p = {"TAC_input.0.weight": rand(rng, H, c), "TAC_input.0.bias": rand(rng, H),
         "TAC_input.1.weight": rand(rng, H if per_channel else 1),
         "TAC_mean.0.weight": rand(rng, H, H), "TAC_mean.0.bias": rand(rng, H), "TAC_mean.1.weight": rand(rng, 1),
         "TAC_output.0.weight": rand(rng, c, 2 * H), "TAC_output.0.bias": rand(rng, c),
         "TAC_output.1.weight": rand(rng, c if per_channel else 1),
         "TAC_norm.gamma": rand(rng, c) + 1, "TAC_norm.beta": rand(rng, c)}
    x = rand(rng, G, c, L)
    expected = R.transform_average_concatenate(f64(x), **vars(A.fill(A.tac_slots("", c), {k: f64(v) for k, v in p.items()})))
    # the kernels: mean over groups, and the fused output + per-group GlobLN + residual
    h = R.prelu(R.linear(f64(x), f64(p["TAC_input.0.weight"]), f64(p["TAC_input.0.bias"])),
                f64(p["TAC_input.1.weight"])).astype(np.float32)
    m = np.empty((H, L), np.float32)
    group_mean(h, m)
    close(m, f64(h).mean(0))
    mm = R.prelu(R.linear(f64(m), f64(p["TAC_mean.0.weight"]), f64(p["TAC_mean.0.bias"])), f64(p["TAC_mean.1.weight"]))
    w_out = p["TAC_output.0.weight"]
    o = np.matmul(np.ascontiguousarray(w_out[:, :H]), h)
    om = (np.ascontiguousarray(w_out[:, H:]) @ mm.astype(np.float32)).astype(np.float32)
    xk = x.copy()
    tac_output_residual(o, om, p["TAC_output.0.bias"], p["TAC_output.1.weight"], p["TAC_norm.gamma"],
                        p["TAC_norm.beta"], 1e-8, xk)
    close(xk, expected, rtol=5e-5)


# --- the fast blocks, built from the kernels, against the reference blocks -------------------------

def block_params(rng, kind, C_out, C_in, Q, per_channel):
    n = lambda c: {"gamma": rand(rng, c) + 1, "beta": rand(rng, c)}  # noqa: E731
    p = {"proj_1x1.conv.weight": rand(rng, C_in, C_out, 1), "proj_1x1.conv.bias": rand(rng, C_in),
         "proj_1x1.act.weight": rand(rng, C_in if per_channel else 1),
         "final_norm.act.weight": rand(rng, C_in if per_channel else 1)}
    norms = {"proj_1x1.norm": C_in, "final_norm.norm": C_in}
    for k in range(Q):
        p[f"spp_dw.{k}.conv.weight"], p[f"spp_dw.{k}.conv.bias"] = rand(rng, C_in, 1, 5), rand(rng, C_in)
        norms[f"spp_dw.{k}.norm"] = C_in
    if kind == "uconv":
        p["res_conv.weight"], p["res_conv.bias"] = rand(rng, C_out, C_in, 1), rand(rng, C_out)
    else:
        p["conv_1x1_exp.conv.weight"], p["conv_1x1_exp.conv.bias"] = rand(rng, C_out, C_in, 1), rand(rng, C_out)
        p["module_act.act.weight"] = rand(rng, C_out if per_channel else 1)
        norms.update({"conv_1x1_exp.norm": C_out, "module_act.norm": C_out})
    for name, c in norms.items():
        for k, v in n(c).items():
            p[f"{name}.{k}"] = v
    return p


@SETTINGS
@given(seed=seeds, C_out=st.integers(1, 12), C_in=st.integers(1, 16), L=lengths, Q=st.integers(1, 5),
       kind=st.sampled_from(["uconv", "u"]), per_channel=st.booleans())
def test_fast_blocks_match_reference_blocks(seed, C_out, C_in, L, Q, kind, per_channel):
    rng = np.random.default_rng(seed)
    p = block_params(rng, kind, C_out, C_in, Q, per_channel)
    x = rand(rng, C_out, L)
    slots = (A.uconv_block_slots if kind == "uconv" else A.u_block_slots)("", C_out, C_in, Q, "globln")
    tree, tree64 = A.fill(slots, p), A.fill(slots, {k: f64(v) for k, v in p.items()})
    if kind == "uconv":
        expected = R.uconv_block(f64(x), **vars(tree64))
        blocks.uconv_block(blocks.prepare_uconv_block(tree), x, blocks.Workspace())
    else:
        expected = R.u_block(f64(x), **vars(tree64))
        blocks.u_block(blocks.prepare_u_block(tree), x, blocks.Workspace())
    close(x, expected, rtol=1e-4)

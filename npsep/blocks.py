"""The fast building blocks: U-blocks and GC blocks composed from BLAS and Numba kernels.

Each function here computes exactly what its namesake in :mod:`npsep.reference`
computes, on one batch item's ``[C, L]`` map, but in as few passes over memory
as the norms allow (see ``docs/kernels.md``):

* a 1x1 conv is one ``np.matmul`` into a reused buffer; its bias is added in the
  pass that accumulates the GlobLN statistics of its output;
* a normalisation is never written out when its only reader is a kernel: the
  reader applies ``act((y - mu) * scale + beta)`` on the fly;
* the whole upsample-add chain is one pass.

Parameters are prepared once (:func:`prepare_uconv_block` ...) as contiguous float32
arrays; scratch space comes from a :class:`Workspace` reused across blocks and calls.
"""
from types import SimpleNamespace

import numpy as np

from .kernels.conv import depthwise_conv_stats
from .kernels.norm import (add_bias_residual, add_bias_stats, affine_act, affine_add_stats,
                           norm_coefficients)
from .kernels.pyramid import merge_levels_stats
from .kernels.tac import group_mean, tac_output_residual

ONE = np.ones(1, dtype=np.float32)
"""PReLU slope 1: the identity (``max(0,x) + 1 * min(0,x) == x`` exactly)."""


class Workspace:
    """Scratch arrays reused across blocks and forward calls, one flat buffer per name."""

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype=np.float32):
        size = int(np.prod(shape))
        buf = self._buffers.get((name, dtype))
        if buf is None or buf.size < size:
            buf = self._buffers[(name, dtype)] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)


# --- parameters ----------------------------------------------------------------------------

def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def conv1x1_params(p, name):
    """``(W [C_o, C_i], b [C_o])`` of a 1x1 Conv1d."""
    return f32(p[name + ".weight"][:, :, 0]), f32(p[name + ".bias"])


def norm_params(p, name):
    """``(gamma, beta)`` of a GlobLN (``gamma``/``beta``) or GroupNorm(1, C) (``weight``/``bias``)."""
    if name + ".gamma" in p:
        return f32(p[name + ".gamma"]), f32(p[name + ".beta"])
    return f32(p[name + ".weight"]), f32(p[name + ".bias"])


def _block_common(p, depth):
    return dict(proj=conv1x1_params(p, "proj_1x1.conv"), proj_norm=norm_params(p, "proj_1x1.norm"),
                proj_act=f32(p["proj_1x1.act.weight"]),
                dw=[(f32(p[f"spp_dw.{k}.conv.weight"][:, 0, :]), f32(p[f"spp_dw.{k}.conv.bias"]),
                     norm_params(p, f"spp_dw.{k}.norm")) for k in range(depth)],
                final_norm=norm_params(p, "final_norm.norm"), final_act=f32(p["final_norm.act.weight"]))


def prepare_uconv_block(p, depth):
    """Improved U-ConvBlock parameters from its (prefix-stripped) state dict."""
    return SimpleNamespace(**_block_common(p, depth), res=conv1x1_params(p, "res_conv"))


def prepare_u_block(p, depth):
    """Original U-block parameters from its (prefix-stripped) state dict."""
    return SimpleNamespace(**_block_common(p, depth), exp=conv1x1_params(p, "conv_1x1_exp.conv"),
                           exp_norm=norm_params(p, "conv_1x1_exp.norm"),
                           out_norm=norm_params(p, "module_act.norm"), out_act=f32(p["module_act.act.weight"]))


def prepare_gc_block(p, depth, groups):
    """Group-communication block parameters: TAC (``TAC.*``) and the shared U-ConvBlock (``UBlock.*``)."""
    w_out = f32(p["TAC.TAC_output.0.weight"])
    H = w_out.shape[1] // 2
    tile = lambda a: f32(np.tile(a, groups)) if a.shape[0] > 1 else f32(a)  # noqa: E731  per-group copies
    return SimpleNamespace(
        groups=groups,
        w_in=f32(p["TAC.TAC_input.0.weight"]), b_in=tile(p["TAC.TAC_input.0.bias"]),
        act_in=tile(p["TAC.TAC_input.1.weight"]),
        w_mean=f32(p["TAC.TAC_mean.0.weight"]), b_mean=f32(p["TAC.TAC_mean.0.bias"]),
        act_mean=f32(p["TAC.TAC_mean.1.weight"]),
        w_out_h=f32(w_out[:, :H]), w_out_m=f32(w_out[:, H:]), b_out=f32(p["TAC.TAC_output.0.bias"]),
        act_out=f32(p["TAC.TAC_output.1.weight"]), norm=norm_params(p, "TAC.TAC_norm"),
        ublock=prepare_uconv_block({k[7:]: v for k, v in p.items() if k.startswith("UBlock.")}, depth))


# --- blocks --------------------------------------------------------------------------------

def conv1x1_stats(w, b, x, ws, name):
    """``y = W x + b`` into the workspace, with the GlobLN sums of ``y``. Returns ``(y, sums)``."""
    y = ws.get(name, (w.shape[0], x.shape[1]))
    np.matmul(w, x, out=y)
    sums = ws.get(name + ".sums", (w.shape[0], 2), np.float64)
    add_bias_stats(y, b, sums)
    return y, sums


def pyramid(blk, u, u_norm, u_act, ws):
    """Depthwise pyramid + upsample-add of ``act(norm(u))``; returns the merged map and its sums.

    Level 0 is a stride-1 depthwise conv of the normalised input, level ``k`` a stride-2
    depthwise conv of normalised level ``k-1``; every level's raw output goes to one flat
    buffer ``pyr`` (level ``k`` a C-contiguous ``[C, L_k]`` block) and is normalised only
    when read.
    """
    C, L = u.shape
    depth = len(blk.dw)
    lengths = [L]
    for _ in range(1, depth):
        lengths.append((lengths[-1] + 1) // 2)
    lengths = np.array(lengths, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(C * lengths)[:-1]]).astype(np.int64)
    pyr = ws.get("pyr", (C * int(lengths.sum()),))
    sums = ws.get("pyr.sums", (C, 2), np.float64)
    mu = np.empty(depth, dtype=np.float32)
    scale = np.empty((depth, C), dtype=np.float32)
    beta = np.empty((depth, C), dtype=np.float32)
    x, (x_mu, x_scale, x_beta), act = u, u_norm, u_act
    for k, (w, b, (gamma, bt)) in enumerate(blk.dw):
        y = pyr[offsets[k]: offsets[k] + C * lengths[k]].reshape(C, lengths[k])
        depthwise_conv_stats(x, x_mu, x_scale, x_beta, act, w, b, 1 if k == 0 else 2, y, sums)
        mu[k], scale[k], beta[k] = norm_coefficients(sums, lengths[k], gamma, bt)
        x, x_mu, x_scale, x_beta, act = y, mu[k], scale[k], beta[k], ONE
    merged = ws.get("merged", (C, L))
    merge_levels_stats(pyr, offsets, lengths, mu, scale, beta, merged, sums)
    return merged, sums


def _block_core(blk, x, ws):
    """``PReLU(norm(pyramid(PReLU(norm(W_proj x)))))``, the part every U-block shares."""
    u, sums = conv1x1_stats(*blk.proj, x, ws, "proj")
    merged, sums = pyramid(blk, u, norm_coefficients(sums, x.shape[1], *blk.proj_norm), blk.proj_act, ws)
    affine_act(merged, *norm_coefficients(sums, x.shape[1], *blk.final_norm), blk.final_act, merged)
    return merged


def uconv_block(blk, x, ws):  # [C_out, L] -> in place
    """Improved U-ConvBlock, in place: ``x += W_res core(x) + b_res``."""
    core = _block_core(blk, x, ws)
    y = ws.get("res", x.shape)
    np.matmul(blk.res[0], core, out=y)
    add_bias_residual(y, blk.res[1], x)


def u_block(blk, x, ws):  # [C_out, L] -> in place
    """Original U-block, in place: ``x = PReLU(GN(x + GN(W_exp core(x) + b_exp)))``."""
    core = _block_core(blk, x, ws)
    e, sums = conv1x1_stats(*blk.exp, core, ws, "exp")
    affine_add_stats(e, *norm_coefficients(sums, x.shape[1], *blk.exp_norm), x, sums)
    affine_act(x, *norm_coefficients(sums, x.shape[1], *blk.out_norm), blk.out_act, x)


def gc_block(blk, x, ws):  # [C_out, L] -> in place
    """Group-communication block, in place: TAC across the ``G`` groups of channels, then the
    shared U-ConvBlock on each group."""
    G, L = blk.groups, x.shape[1]
    xg = x.reshape(G, -1, L)  # [G, c, L], a view
    H = blk.w_in.shape[0]
    h = ws.get("tac.h", (G, H, L))
    np.matmul(blk.w_in, xg, out=h)  # [G, H, L]
    h2 = h.reshape(G * H, L)
    affine_act(h2, np.float32(0), np.ones(G * H, np.float32), blk.b_in, blk.act_in, h2)
    m = ws.get("tac.mean", (H, L))
    group_mean(h, m)
    mm = ws.get("tac.m", (H, L))
    np.matmul(blk.w_mean, m, out=mm)
    affine_act(mm, np.float32(0), np.ones(H, np.float32), blk.b_mean, blk.act_mean, mm)
    o = ws.get("tac.o", xg.shape)
    np.matmul(blk.w_out_h, h, out=o)
    om = ws.get("tac.om", (xg.shape[1], L))
    np.matmul(blk.w_out_m, mm, out=om)
    gamma, beta = blk.norm
    tac_output_residual(o, om, blk.b_out, blk.act_out, gamma, beta, 1e-8, xg)
    for g in range(G):
        uconv_block(blk.ublock, xg[g], ws)

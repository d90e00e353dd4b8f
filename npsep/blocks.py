"""The fast building blocks: U-blocks and GC blocks composed from BLAS and Numba kernels.

Each function here computes exactly what its namesake in :mod:`npsep.reference`
computes, on one batch item's ``[C, L]`` map, but in as few passes over memory
as the norms allow (see ``docs/kernels.md``):

* a 1x1 conv is a matrix product on Numba's threads (:mod:`npsep.kernels.gemm`) into a
  reused buffer; when a norm follows, its bias is never added to the map but folded
  into the norm's mean, and the statistics are taken in one read-only pass;
* a residual 1x1 conv adds its product straight into the residual map;
* a normalisation is never written out when its only reader is a kernel: the
  reader applies ``act((y - mu) * scale + beta)`` on the fly;
* the whole upsample-add chain is one pass.

Parameters are prepared once (:func:`prepare_uconv_block` ...) as contiguous float32
arrays; scratch space comes from a :class:`Workspace` reused across blocks and calls.
"""
from functools import lru_cache
from types import SimpleNamespace

import numba
import numpy as np

from .kernels import gemm
from .kernels.conv import depthwise_conv_stats, depthwise_scratch
from .kernels.norm import affine_act, affine_add_stats, channel_stats, norm_coefficients
from .kernels.pyramid import merge_levels_stats, merge_scratch
from .kernels.tac import group_mean, tac_output_residual

NO_BIAS = np.zeros(0, dtype=np.float32)
"""A conv without bias, for :func:`matmul`."""

ONE = np.ones(1, dtype=np.float32)
"""PReLU slope 1: the identity (``max(0,x) + 1 * min(0,x) == x`` exactly)."""


class Workspace:
    """Scratch arrays reused across blocks and forward calls, one flat buffer per name."""

    def __init__(self):
        self._buffers = {}

    def get(self, name, shape, dtype=np.float32):
        """An uninitialised array of ``shape`` (and ``dtype``), reusing the buffer kept under
        ``name``; the buffer grows when a larger shape is asked for. Contents are not kept."""
        size = int(np.prod(shape))
        buf = self._buffers.get((name, dtype))
        if buf is None or buf.size < size:
            buf = self._buffers[(name, dtype)] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def per_thread(self, name, size):
        """Scratch of ``size`` float32 values for each of Numba's threads: ``[threads, size]``."""
        return self.get(name, (numba.get_num_threads(), size))

    def coefficients(self, name, sums, length, norm, groups=1, bias=None):
        """``(mu, scale, beta)`` of a GlobLN from a map's sums (:func:`norm_coefficients`), ``mu`` and
        ``scale`` kept in the workspace under ``name``."""
        out = self.get(name, (2, sums.shape[0]))
        return norm_coefficients(sums, length, *norm, out, groups, bias)


# --- parameters ----------------------------------------------------------------------------

def f32(a):
    """``a`` as a C-contiguous float32 array (a copy only if needed)."""
    return np.ascontiguousarray(a, dtype=np.float32)


def conv1x1_params(p, name):
    """``(W [C_o, C_i], b [C_o])`` of a 1x1 Conv1d."""
    return f32(p[name + ".weight"][:, :, 0]), f32(p[name + ".bias"])


def norm_params(p, name):
    """``(gamma, beta)`` of a GlobLN (``gamma``/``beta``) or GroupNorm(1, C) (``weight``/``bias``)."""
    if name + ".gamma" in p:
        return f32(p[name + ".gamma"]), f32(p[name + ".beta"])
    return f32(p[name + ".weight"]), f32(p[name + ".bias"])


def _tile(a, groups):
    """Per-channel parameters repeated for each of ``groups`` groups run side by side."""
    return a if groups == 1 else f32(np.concatenate([a] * groups))


def _tile_slope(a, groups):
    """A PReLU slope for ``groups`` groups side by side: a shared ``(1,)`` slope stays shared."""
    return a if a.shape[0] == 1 else _tile(a, groups)


def _block_common(p, depth, groups):
    t = lambda a: _tile(a, groups)  # noqa: E731
    w, b = conv1x1_params(p, "proj_1x1.conv")
    gamma, beta = norm_params(p, "proj_1x1.norm")
    levels = []
    for k in range(depth):
        g, bt = norm_params(p, f"spp_dw.{k}.norm")
        levels.append((t(f32(p[f"spp_dw.{k}.conv.weight"][:, 0, :])), t(f32(p[f"spp_dw.{k}.conv.bias"])),
                       (t(g), t(bt))))
    g, bt = norm_params(p, "final_norm.norm")
    return dict(groups=groups, proj=(w, t(b)), proj_norm=(t(gamma), t(beta)),
                proj_act=_tile_slope(f32(p["proj_1x1.act.weight"]), groups), dw=levels,
                final_norm=(t(g), t(bt)), final_act=_tile_slope(f32(p["final_norm.act.weight"]), groups))


def prepare_uconv_block(p, depth, groups=1):
    """Improved U-ConvBlock parameters from its (prefix-stripped) state dict.

    With ``groups > 1`` the block runs on each of ``groups`` equal groups of channels at
    once (the shared U-ConvBlock of a group-communication block): the 1x1 convs become
    batched matrix products and each group is normalised on its own.
    """
    w, b = conv1x1_params(p, "res_conv")
    return SimpleNamespace(**_block_common(p, depth, groups), res=(w, _tile(b, groups)))


def prepare_u_block(p, depth):
    """Original U-block parameters from its (prefix-stripped) state dict."""
    return SimpleNamespace(**_block_common(p, depth, 1), exp=conv1x1_params(p, "conv_1x1_exp.conv"),
                           exp_norm=norm_params(p, "conv_1x1_exp.norm"),
                           out_norm=norm_params(p, "module_act.norm"), out_act=f32(p["module_act.act.weight"]))


def prepare_gc_block(p, depth, groups):
    """Group-communication block parameters: TAC (``TAC.*``) and the shared U-ConvBlock (``UBlock.*``)."""
    w_out = f32(p["TAC.TAC_output.0.weight"])
    H = w_out.shape[1] // 2
    return SimpleNamespace(
        groups=groups,
        w_in=f32(p["TAC.TAC_input.0.weight"]), b_in=_tile(f32(p["TAC.TAC_input.0.bias"]), groups),
        act_in=_tile_slope(f32(p["TAC.TAC_input.1.weight"]), groups),
        w_mean=f32(p["TAC.TAC_mean.0.weight"]), b_mean=f32(p["TAC.TAC_mean.0.bias"]),
        act_mean=f32(p["TAC.TAC_mean.1.weight"]),
        w_out_h=f32(w_out[:, :H]), w_out_m=f32(w_out[:, H:]), b_out=f32(p["TAC.TAC_output.0.bias"]),
        act_out=f32(p["TAC.TAC_output.1.weight"]), norm=norm_params(p, "TAC.TAC_norm"),
        ublock=prepare_uconv_block({k[7:]: v for k, v in p.items() if k.startswith("UBlock.")}, depth, groups))


# --- blocks --------------------------------------------------------------------------------

def matmul(w, x, out, groups=1, bias=None, accumulate=False):
    """``out_g (+)= W x_g (+ bias)`` for each of ``groups`` row groups: ``W [C_o, C_i]``,
    ``x [G*C_i, L]``, ``out [G*C_o, L]``, ``bias [G*C_o]``; ``accumulate``: add to ``out``."""
    gemm.matmul(x, w, NO_BIAS if bias is None else bias, groups, out, accumulate, numba.get_num_threads())


def conv1x1_stats(w, x, ws, name, groups=1):
    """``y = W x`` into the workspace, with the per-channel sums of ``y``. Returns ``(y, sums)``.

    The conv's bias is not added here: :func:`norm_coefficients` folds it into the mean
    (``bias=``), which saves a pass over the map.
    """
    y = ws.get(name, (groups * w.shape[0], x.shape[1]))
    matmul(w, x, y, groups)
    sums = ws.get(name + ".sums", (y.shape[0], 2), np.float64)
    channel_stats(y, sums)
    return y, sums


def pyramid(blk, u, u_norm, u_act, ws):
    """Depthwise pyramid + upsample-add of ``act(norm(u))``, in ``u``'s buffer; returns the merged
    map and its sums.

    Level 0 is a stride-1 depthwise conv of the normalised input, written over ``u`` (each
    row is read before it is written); level ``k`` a stride-2 depthwise conv of normalised
    level ``k-1``, into one flat buffer ``pyr`` (level ``k`` a C-contiguous ``[C, L_k]``
    block). Levels are normalised only when read, and merged into ``u`` again.
    """
    C, L = u.shape
    depth = len(blk.dw)
    lengths = [L]
    for _ in range(1, depth):
        lengths.append((lengths[-1] + 1) // 2)
    lengths = np.array(lengths, dtype=np.int64)
    offsets = np.concatenate([[0, 0], np.cumsum(C * lengths[1:])[:-1]]).astype(np.int64)[:depth]
    pyr = ws.get("pyr", (C * int(lengths[1:].sum()),))
    sums = ws.get("pyr.sums", (C, 2), np.float64)
    coefficients = ws.get("pyr.coefficients", (3, depth, C))  # mu, scale, beta of each level
    scratch = ws.per_thread("pyr.scratch", max(depthwise_scratch(L), merge_scratch(L)))
    x, (x_mu, x_scale, x_beta), act = u, u_norm, u_act
    for k, (w, b, (gamma, bt)) in enumerate(blk.dw):
        y = u if k == 0 else pyr[offsets[k]: offsets[k] + C * lengths[k]].reshape(C, lengths[k])
        depthwise_conv_stats(x, x_mu, x_scale, x_beta, act, w, b, 1 if k == 0 else 2, y, sums, scratch)
        coefficients[2, k] = bt
        norm_coefficients(sums, lengths[k], gamma, bt, coefficients[:2, k], blk.groups)
        x, x_mu, x_scale, x_beta, act = y, *coefficients[:, k], ONE
    merge_levels_stats(u, pyr, offsets, lengths, *coefficients, sums, scratch)
    return u, sums


def _block_core(blk, x, ws):
    """The part every U-block shares: ``pyramid(PReLU(norm(W_proj x)))``, returned with the
    coefficients of its final norm (``PReLU(final_norm(.))`` is left to the block's next step)."""
    L, G = x.shape[1], blk.groups
    w, b = blk.proj
    u, sums = conv1x1_stats(w, x, ws, "proj", G)
    merged, sums = pyramid(blk, u, ws.coefficients("proj.norm", sums, L, blk.proj_norm, G, b), blk.proj_act, ws)
    return merged, ws.coefficients("final_norm", sums, L, blk.final_norm, G)


def uconv_block(blk, x, ws):  # [C_out, L] -> in place
    """Improved U-ConvBlock, in place: ``x += W_res PReLU(final_norm(core(x))) + b_res`` (per group,
    if grouped)."""
    merged, coefficients = _block_core(blk, x, ws)
    affine_act(merged, *coefficients, blk.final_act)
    w, b = blk.res
    matmul(w, merged, x, blk.groups, bias=b, accumulate=True)


def u_block(blk, x, ws):  # [C_out, L] -> in place
    """Original U-block, in place: ``x = PReLU(GN(x + GN(W_exp core(x) + b_exp)))``."""
    merged, coefficients = _block_core(blk, x, ws)
    affine_act(merged, *coefficients, blk.final_act)
    w, b = blk.exp
    e, sums = conv1x1_stats(w, merged, ws, "exp")
    affine_add_stats(e, *ws.coefficients("exp.norm", sums, x.shape[1], blk.exp_norm, bias=b), x, sums)
    affine_act(x, *ws.coefficients("out.norm", sums, x.shape[1], blk.out_norm), blk.out_act)


def bias_act(y, b, slope):
    """In place ``y = prelu(y + b[:, None], slope)`` (with ``ONE`` as the slope: just the bias)."""
    C = y.shape[0]
    affine_act(y, _zeros(C), _ones(C), b, slope)


@lru_cache(maxsize=None)
def _ones(n):
    return np.ones(n, dtype=np.float32)


@lru_cache(maxsize=None)
def _zeros(n):
    return np.zeros(n, dtype=np.float32)


def gc_block(blk, x, ws):  # [C_out, L] -> in place
    """Group-communication block, in place: TAC across the ``G`` groups of channels, then the
    shared U-ConvBlock on every group (all groups in one grouped pass)."""
    G, L = blk.groups, x.shape[1]
    xg = x.reshape(G, -1, L)  # [G, c, L], a view
    H = blk.w_in.shape[0]
    h = ws.get("tac.h", (G, H, L))
    h2 = h.reshape(G * H, L)
    matmul(blk.w_in, x, h2, G, blk.b_in)
    bias_act(h2, _zeros(G * H), blk.act_in)
    m = ws.get("tac.mean", (H, L))
    group_mean(h, m)
    mm = ws.get("tac.m", (H, L))
    matmul(blk.w_mean, m, mm, bias=blk.b_mean)
    bias_act(mm, _zeros(H), blk.act_mean)
    o = ws.get("tac.o", xg.shape)
    matmul(blk.w_out_h, h2, o.reshape(x.shape), G)
    om = ws.get("tac.om", (xg.shape[1], L))
    matmul(blk.w_out_m, mm, om)
    gamma, beta = blk.norm
    tac_output_residual(o, om, blk.b_out, blk.act_out, gamma, beta, 1e-8, xg)
    uconv_block(blk.ublock, x, ws)

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

Parameters are prepared once (:func:`prepare_uconv_block` ...) from a block's parameter
tree (:mod:`npsep.architectures`) into a plan of contiguous float32 arrays; scratch space
comes from a :class:`Workspace` reused across blocks and calls.
"""
import math
from functools import lru_cache

import numba
import numpy as np

from ..architectures import Conv, Norm, layer
from ..kernels import gemm
from ..kernels.conv import depthwise_conv_stats, depthwise_scratch
from ..kernels.norm import affine_act, affine_add_stats, channel_stats, norm_coefficients
from ..kernels.pyramid import merge_levels_stats, merge_scratch
from ..kernels.tac import group_mean, tac_output_residual

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
        size = math.prod(shape)
        buf = self._buffers.get((name, dtype))
        if buf is None or buf.size < size:
            buf = self._buffers[(name, dtype)] = np.empty(size, dtype=dtype)
        return buf[:size].reshape(shape)

    def per_thread(self, name, size):
        """Scratch of ``size`` float32 values for each of Numba's threads: ``[threads, size]``."""
        return self.get(name, (numba.get_num_threads(), size))

    def coefficients(self, name, sums, length, norm, groups=1, bias=None):
        """``(mu, scale, beta)`` of a GlobLN (a :class:`~npsep.architectures.Norm` of ``gamma``,
        ``beta``) from a map's sums (:func:`norm_coefficients`), ``mu`` and ``scale`` kept in the
        workspace under ``name``."""
        out = self.get(name, (2, sums.shape[0]))
        return norm_coefficients(sums, length, norm.gamma, norm.beta, out, groups, bias)


# --- parameters ----------------------------------------------------------------------------

def f32(a):
    """``a`` as a C-contiguous float32 array (a copy only if needed)."""
    return np.ascontiguousarray(a, dtype=np.float32)


def conv1x1(conv, groups=1):
    """A 1x1 Conv1d as ``Conv(w [C_o, C_i], b [C_o])``, the bias repeated for ``groups`` groups."""
    return Conv(f32(conv.w[:, :, 0]), _tile(f32(conv.b), groups))


def norm(n, groups=1):
    """A norm's ``gamma``/``beta`` as float32, repeated for ``groups`` groups."""
    return Norm(_tile(f32(n.gamma), groups), _tile(f32(n.beta), groups))


def _tile(a, groups):
    """Per-channel parameters repeated for each of ``groups`` groups run side by side."""
    return a if groups == 1 else f32(np.concatenate([a] * groups))


def slope(a, groups=1):
    """A PReLU slope for ``groups`` groups side by side: a shared ``(1,)`` slope stays shared."""
    a = f32(a)
    return a if a.shape[0] == 1 else _tile(a, groups)


Level = layer("Level", "w b norm", "One level of the depthwise pyramid: ``w [C, k]``, ``b [C]`` and the norm "
              "after it.", __name__)
BlockCore = layer("BlockCore", "groups proj proj_norm proj_act pyramid final_norm final_act",
                  "What every U-block starts with, run on ``groups`` groups side by side: the expansion "
                  "(1x1 conv ``proj``, its norm and PReLU slope(s)), the :class:`Level` s of the pyramid, "
                  "the final norm and PReLU.", __name__)
UConvBlockPlan = layer("UConvBlockPlan", "core res", "Improved U-ConvBlock: the core and the residual 1x1 conv.",
                       __name__)
UBlockPlan = layer("UBlockPlan", "core exp exp_norm out_norm out_act",
                   "Original U-block: the core, the 1x1 conv ``exp`` and its norm, the norm and PReLU after "
                   "the residual.", __name__)
GCBlockPlan = layer("GCBlockPlan", "groups input input_act mean mean_act out_h out_m out_b out_act norm ublock",
                    "Group-communication block: TAC's ``input`` layer (weights shared by the groups, bias "
                    "tiled), its ``mean`` layer, its output layer split into the columns that read a group's "
                    "own ``h`` (``out_h``) and the mean (``out_m``), its GlobLN, and the shared U-ConvBlock.",
                    __name__)


def _core(tree, groups):
    return BlockCore(groups=groups, proj=conv1x1(tree.proj.conv, groups), proj_norm=norm(tree.proj.norm, groups),
                     proj_act=slope(tree.proj.act, groups),
                     pyramid=tuple(Level(_tile(f32(lv.conv.w[:, 0, :]), groups), _tile(f32(lv.conv.b), groups),
                                         norm(lv.norm, groups)) for lv in tree.pyramid),
                     final_norm=norm(tree.final_norm.norm, groups), final_act=slope(tree.final_norm.act, groups))


def prepare_uconv_block(tree, groups=1):
    """Improved U-ConvBlock plan from its parameter tree (:class:`npsep.architectures.UConvBlock`).

    With ``groups > 1`` the block runs on each of ``groups`` equal groups of channels at
    once (the shared U-ConvBlock of a group-communication block): the 1x1 convs become
    batched matrix products and each group is normalised on its own.
    """
    return UConvBlockPlan(_core(tree, groups), conv1x1(tree.res, groups))


def prepare_u_block(tree):
    """Original U-block plan from its parameter tree (:class:`npsep.architectures.UBlock`)."""
    return UBlockPlan(_core(tree, 1), exp=conv1x1(tree.exp.conv), exp_norm=norm(tree.exp.norm),
                      out_norm=norm(tree.out.norm), out_act=slope(tree.out.act))


def prepare_gc_block(tree, groups):
    """Group-communication block plan, for ``groups`` groups, from its parameter tree
    (:class:`npsep.architectures.GCBlock`)."""
    tac = tree.tac
    w_out = f32(tac.output.linear.w)
    H = w_out.shape[1] // 2
    return GCBlockPlan(groups=groups, input=Conv(f32(tac.input.linear.w), _tile(f32(tac.input.linear.b), groups)),
                       input_act=slope(tac.input.act, groups),
                       mean=Conv(f32(tac.mean.linear.w), f32(tac.mean.linear.b)), mean_act=slope(tac.mean.act),
                       out_h=f32(w_out[:, :H]), out_m=f32(w_out[:, H:]), out_b=f32(tac.output.linear.b),
                       out_act=slope(tac.output.act), norm=norm(tac.norm),
                       ublock=prepare_uconv_block(tree.ublock, groups))
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


@lru_cache(maxsize=64)
def pyramid_layout(C, L, depth):
    """Where the levels of a ``depth``-level pyramid of ``C`` channels and ``L`` frames live:
    ``(lengths, offsets, size, scratch)``, level ``k`` ``lengths[k]`` frames long and, for
    ``k >= 1``, from ``offsets[k]`` in a flat buffer of ``size`` values (int64 arrays, read-only);
    ``scratch`` the per-thread scratch of the pyramid's kernels. Computed once per shape: a
    forward pass asks for it in every block."""
    lengths = [L]
    for _ in range(1, depth):
        lengths.append((lengths[-1] + 1) // 2)
    lengths = np.array(lengths, dtype=np.int64)
    offsets = np.concatenate([[0, 0], np.cumsum(C * lengths[1:])[:-1]]).astype(np.int64)[:depth]
    lengths.flags.writeable = offsets.flags.writeable = False
    return lengths, offsets, C * int(lengths[1:].sum()), max(depthwise_scratch(L), merge_scratch(L))


def pyramid(core, u, u_norm, u_act, ws):
    """Depthwise pyramid + upsample-add of ``act(norm(u))``, in ``u``'s buffer; returns the merged
    map and its sums.

    Level 0 is a stride-1 depthwise conv of the normalised input, written over ``u`` (each
    row is read before it is written); level ``k`` a stride-2 depthwise conv of normalised
    level ``k-1``, into one flat buffer ``pyr`` (level ``k`` a C-contiguous ``[C, L_k]``
    block). Levels are normalised only when read, and merged into ``u`` again.
    """
    C, L = u.shape
    depth = len(core.pyramid)
    lengths, offsets, size, scratch_size = pyramid_layout(C, L, depth)
    pyr = ws.get("pyr", (size,))
    sums = ws.get("pyr.sums", (C, 2), np.float64)
    coefficients = ws.get("pyr.coefficients", (3, depth, C))  # mu, scale, beta of each level
    scratch = ws.per_thread("pyr.scratch", scratch_size)
    x, (x_mu, x_scale, x_beta), act = u, u_norm, u_act
    for k, level in enumerate(core.pyramid):
        y = u if k == 0 else pyr[offsets[k]: offsets[k] + C * lengths[k]].reshape(C, lengths[k])
        depthwise_conv_stats(x, x_mu, x_scale, x_beta, act, level.w, level.b, 1 if k == 0 else 2, y, sums, scratch)
        coefficients[2, k] = level.norm.beta
        norm_coefficients(sums, lengths[k], level.norm.gamma, level.norm.beta, coefficients[:2, k], core.groups)
        x, x_mu, x_scale, x_beta, act = y, *coefficients[:, k], ONE
    merge_levels_stats(u, pyr, offsets, lengths, *coefficients, sums, scratch)
    return u, sums


def block_core(core, x, ws):
    """The part every U-block shares, ``PReLU(final_norm(pyramid(PReLU(norm(W_proj x)))))``,
    in a workspace buffer."""
    L, G = x.shape[1], core.groups
    u, sums = conv1x1_stats(core.proj.w, x, ws, "proj", G)
    proj_norm = ws.coefficients("proj.norm", sums, L, core.proj_norm, G, bias=core.proj.b)
    merged, sums = pyramid(core, u, proj_norm, core.proj_act, ws)
    affine_act(merged, *ws.coefficients("final_norm", sums, L, core.final_norm, G), core.final_act)
    return merged


def uconv_block(blk, x, ws):  # [C_out, L] -> in place
    """Improved U-ConvBlock, in place: ``x += W_res PReLU(final_norm(core(x))) + b_res`` (per group,
    if grouped)."""
    merged = block_core(blk.core, x, ws)
    matmul(blk.res.w, merged, x, blk.core.groups, bias=blk.res.b, accumulate=True)


def u_block(blk, x, ws):  # [C_out, L] -> in place
    """Original U-block, in place: ``x = PReLU(GN(x + GN(W_exp core(x) + b_exp)))``."""
    L = x.shape[1]
    merged = block_core(blk.core, x, ws)
    e, sums = conv1x1_stats(blk.exp.w, merged, ws, "exp")
    affine_add_stats(e, *ws.coefficients("exp.norm", sums, L, blk.exp_norm, bias=blk.exp.b), x, sums)
    affine_act(x, *ws.coefficients("out.norm", sums, L, blk.out_norm), blk.out_act)


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
    H = blk.input.w.shape[0]
    h = ws.get("tac.h", (G, H, L))
    h2 = h.reshape(G * H, L)
    matmul(blk.input.w, x, h2, G, blk.input.b)
    bias_act(h2, _zeros(G * H), blk.input_act)
    m = ws.get("tac.mean", (H, L))
    group_mean(h, m)
    mm = ws.get("tac.m", (H, L))
    matmul(blk.mean.w, m, mm, bias=blk.mean.b)
    bias_act(mm, _zeros(H), blk.mean_act)
    o = ws.get("tac.o", xg.shape)
    matmul(blk.out_h, h2, o.reshape(x.shape), G)
    om = ws.get("tac.om", (xg.shape[1], L))
    matmul(blk.out_m, mm, om)
    tac_output_residual(o, om, blk.out_b, blk.out_act, blk.norm.gamma, blk.norm.beta, 1e-8, xg)
    uconv_block(blk.ublock, x, ws)

"""The four CNUNet-TB decoder paths run as one channel-grouped network, for small hop graphs.

A `CNUNetTB` has two `DecoderBranch`es with two U-Net paths each (real and imaginary part) of
identical topology; unfused, every layer is four ONNX nodes per hop, and on one CPU core the
hop time is per-node dispatch, not arithmetic. `FusedBranches` holds the same weights laid out
so that one node runs the layer for all four paths. Nothing is trained in this form: it is
built from a trained model (`FusedBranches(model)`) and computes the same outputs.

The layer helpers take their group count from the layers they fuse, so the same code fuses
CNUNet's two decoder paths (`cnunet_fused`) and the encoders' complex halves
(`cnunet_tb_fused_encoder`) with G = 2.

Layout: (B, G*C, T, F), group-major, G = 4 paths in the order (mask re, mask im, map re,
map im). Per layer:

- a conv whose input is one group-major tensor -> one grouped conv (groups x 4, weights and
  biases concatenated along the output channels);
- a conv over a channel concatenation (the U-Net skips, the dense block's complex-ordered
  concatenation, the encoder features) -> one Concat of the whole tensors in any order and one
  dense conv whose weight is block-sparse: path g's kernel scattered onto the input channels
  that path g reads. Encoder tensors that the paths share (latent, skips, features, each
  [real | imag]) are concatenated once and read by two paths each;
- FrameNorm -> layer norm over each group's (C, F) of the frame (a (B, G, C*F) view, no
  affine), then the per-channel affine as one inference-mode BatchNormalization (mean 0,
  variance 1, eps 0); one-slope PReLU -> per-channel PReLU (the path's slope repeated C times);
- `CausalCTFA`: its C -> 1 convs become 4C -> 4 grouped convs; the 1 -> 1 convs become 4 -> 4C
  (the gate replicated over the path's channels, so the gating is a plain product), and the
  time-gate convs run on (B, G*C, T, 1), which needs no unsqueeze;
- the heads: one 1x1 conv with groups 2 over [mask re, mask im | map re, map im].

Time-causal state is cached per layer exactly as in `models.streaming` (`ConvState`,
`MeanState`), with grouped channels, in `FusedBranchesState`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .cnunet_stages import StageState

from .cnunet_blocks import CTFA, ConvNormAct, DenseBlock, DenseState, SubPixelConv, forward_or_step, states
from .cnunet_stages import DecoderStage
from .cnunet_tb_blocks import CausalCTFA, CTFAState
from .nested_unet import NestedUNet
from .spectral import SpectralEnhancer
from .streaming import RunningMean
from .streaming.conv import CausalTimeConv, ConvState

if TYPE_CHECKING:  # the model imports this module (streaming_form), not the reverse
    from .cnunet_tb import CNUNetTB, DecoderBranch

G = 4  # paths: mask re, mask im, map re, map im

# A fused conv input is the channel concatenation of segments: ("g", w) a group-major tensor
# of G*w channels (w per path), or ("s", w) a shared [real | imag] tensor of 2*w channels of
# which the real paths read the first w, the imaginary paths the last w.
Segments = Sequence[tuple[str, int]]


@dataclass(frozen=True)
class FusedBranchesState:
    up: tuple[ConvState, ...]  # per up-sampler (G * in channels, 1 past frame)
    dec: tuple[StageState, ...]  # per decoder level, grouped channels


@dataclass(frozen=True)
class FusedCNUNetTBState:
    enc: tuple[StageState, ...]  # per encoder level (unchanged)
    bottleneck: DenseState
    branches: FusedBranchesState


def _paths(model: CNUNetTB) -> list[tuple[DecoderBranch, int]]:
    return [(model.mask_branch, 0), (model.mask_branch, 1), (model.map_branch, 0), (model.map_branch, 1)]


def _index(segs: Segments, g: int, groups: int = G) -> tuple[list[int], int]:
    """Fused input channels of path g (of `groups`) in its own order; total channels."""
    idx, off = [], 0
    for kind, w in segs:
        if kind == "g":
            idx += range(off + g * w, off + (g + 1) * w)
            off += groups * w
        else:
            p = g % 2
            idx += range(off + p * w, off + (p + 1) * w)
            off += 2 * w
    return idx, off


def _ungroup(conv: nn.Conv1d | nn.Conv2d) -> torch.Tensor:
    """A grouped conv's weight as the equivalent dense (C_out, C_in, *kernel) weight."""
    co, ci, q = conv.out_channels, conv.in_channels, conv.groups
    w = conv.weight.new_zeros(co, ci, *conv.kernel_size)
    for j in range(q):
        rows, cols = slice(j * co // q, (j + 1) * co // q), slice(j * ci // q, (j + 1) * ci // q)
        w[rows, cols] = conv.weight[rows]
    return w


def _like(ref: nn.Conv1d | nn.Conv2d | nn.ConvTranspose2d, cin: int, cout: int, groups: int) -> nn.Module:
    """A conv of `ref`'s kind and geometry with other channel and group counts."""
    extra = {"output_padding": ref.output_padding} if isinstance(ref, nn.ConvTranspose2d) else {}
    conv = type(ref)(
        cin,
        cout,
        ref.kernel_size,
        stride=ref.stride,
        padding=ref.padding,
        dilation=ref.dilation,
        groups=groups,
        bias=ref.bias is not None,
        **extra,
    )
    return conv.to(ref.weight)


@torch.no_grad()
def _fuse(convs: Sequence[nn.Conv1d | nn.Conv2d], index: list[list[int]] | None = None, cin: int = 0):
    """n convs -> one: grouped over a group-major input (index None; transposed convs too, whose
    weights are input-major), else dense block-sparse over `cin` input channels, path g's kernel
    on the input channels index[g]."""
    ref, n = convs[0], len(convs)
    if index is None:
        conv = _like(ref, n * ref.in_channels, n * ref.out_channels, n * ref.groups)
        conv.weight.copy_(torch.cat([c.weight for c in convs]))
    else:
        conv = _like(ref, cin, n * ref.out_channels, 1)
        conv.weight.zero_()
        co = ref.out_channels
        for g, (c, idx) in enumerate(zip(convs, index)):
            if len(idx) != c.in_channels:
                raise ValueError(f"path {g}: {len(idx)} inputs given, conv has {c.in_channels}")
            conv.weight[g * co : (g + 1) * co, idx] = _ungroup(c)
    if ref.bias is not None:
        conv.bias.copy_(torch.cat([c.bias for c in convs]))
    return conv


class FusedCausalConv(CausalTimeConv):
    """The G paths' causal conv as one conv; state: the last `context` input frames of the
    fused input (B, C_in, context[, F]), as `CausalConv1d/2d`."""

    def __init__(self, conv: nn.Conv1d | nn.Conv2d, context: int, in_freq: int | None):
        super().__init__()
        self.conv, self.context, self.in_freq = conv, context, in_freq

    @classmethod
    def build(
        cls,
        mods: Sequence[nn.Module],
        segs: Segments | None = None,
        index: list[list[int]] | None = None,
        cin: int = 0,
    ) -> "FusedCausalConv":
        """From n `CausalConv2d`s (or plain 1x1 `nn.Conv2d`s, context 0); the input is
        group-major, or the concatenation `segs`, or `cin` channels read as `index`."""
        if segs is not None:
            n = len(mods)
            index, cin = [_index(segs, g, n)[0] for g in range(n)], _index(segs, 0, n)[1]
        if isinstance(mods[0], CausalTimeConv):
            return cls(_fuse([m.conv for m in mods], index, cin), mods[0].context, mods[0].in_freq)
        return cls(_fuse(mods, index, cin), 0, None)

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState | None:
        extra = () if self.in_freq is None else (self.in_freq,)
        return self._zeros((batch, self.conv.in_channels, self.context) + extra, device, dtype)


class GroupFrameNorm(nn.Module):
    """`FrameNorm` of each of G = len(norms) groups of C channels: layer norm over the group's
    (C, F) of each frame, then the per-channel affine. x (B, G*C, T, F) -> same shape."""

    def __init__(self, norms: Sequence[nn.Module]):
        super().__init__()
        self.groups = len(norms)
        eps = {n.eps for n in norms}
        if len(eps) != 1:
            raise ValueError(f"the paths' norms differ in eps: {eps}")
        self.eps = eps.pop()
        self.channels, self.freq = norms[0].channels, norms[0].freq
        self.weight = nn.Parameter(torch.cat([n.weight.detach().flatten() for n in norms]))
        self.bias = nn.Parameter(torch.cat([n.bias.detach().flatten() for n in norms]))
        self.register_buffer("zeros", torch.zeros_like(self.weight), persistent=False)
        self.register_buffer("ones", torch.ones_like(self.weight), persistent=False)

    def _affine(self, z: torch.Tensor) -> torch.Tensor:
        """z * weight + bias per channel, as one inference-mode batch norm with mean 0, variance
        1 and eps 0 (exactly the affine; one graph node instead of Mul and Add)."""
        return F.batch_norm(z, self.zeros, self.ones, self.weight, self.bias, False, 0.0, 0.0)

    def flat(self, z: torch.Tensor) -> torch.Tensor:
        """One frame as (B, G, C*F), each group's rows in (C, F) order -> (B, G*C, 1, F)."""
        c, f, g = self.channels, self.freq, self.groups
        z = F.layer_norm(z, (c * f,), eps=self.eps)
        return self._affine(z.reshape(-1, g * c, 1, f))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, f, g = self.channels, self.freq, self.groups
        if x.shape[2] == 1:  # one frame: the group's (C, 1, F) are contiguous
            return self.flat(x.reshape(-1, g, c * f))
        b, _, t, _ = x.shape
        z = x.reshape(b, g, c, t, f).transpose(2, 3)  # (B, G, T, C, F)
        z = F.layer_norm(z, (c, f), eps=self.eps).transpose(2, 3)
        return self._affine(z.reshape(b, g * c, t, f))


def _prelu(acts: Sequence[nn.PReLU], channels: int) -> nn.PReLU:
    """n one-slope PReLUs -> one per-channel PReLU over n*channels."""
    act = nn.PReLU(len(acts) * channels).to(acts[0].weight)
    with torch.no_grad():
        act.weight.copy_(torch.cat([a.weight.expand(channels) for a in acts]))
    return act


def _subpixel(x: torch.Tensor) -> torch.Tensor:
    """As `cnunet_blocks.subpixel` with r = 2, with a static batch-free shape."""
    _, c, t, f = x.shape
    return x.reshape(-1, c // 2, 2, t, f).permute(0, 1, 3, 4, 2).reshape(-1, c // 2, t, 2 * f)


class FusedConvNormAct(nn.Module):
    """Conv -> [sub-pixel] -> per-group FrameNorm -> per-channel PReLU, the G groups' layers as
    one each: G `ConvNormAct`s or `SubPixelConv`s (`of`), or the parts given."""

    def __init__(self, conv: FusedCausalConv, norm: GroupFrameNorm, act: nn.PReLU, subpixel: bool):
        super().__init__()
        self.conv, self.norm, self.act, self.subpixel = conv, norm, act, subpixel

    @classmethod
    def of(cls, mods: Sequence[ConvNormAct | SubPixelConv], segs: Segments | None = None):
        norm = GroupFrameNorm([m.norm for m in mods])
        return cls(
            FusedCausalConv.build([m.conv for m in mods], segs),
            norm,
            _prelu([m.act for m in mods], norm.channels),
            isinstance(mods[0], SubPixelConv),
        )

    def _post(self, y: torch.Tensor) -> torch.Tensor:
        if not self.subpixel:
            return self.act(self.norm(y))
        if y.shape[2] != 1:
            return self.act(self.norm(_subpixel(y)))
        # one frame: the sub-pixel interleave and the norm's group view in one transpose
        c, f, g = self.norm.channels, self.norm.freq // 2, self.norm.groups  # static sizes
        z = y.reshape(-1, g * c, 2, f).transpose(2, 3)  # (B, G*C, F, 2): bin 2f + j
        return self.act(self.norm.flat(z.reshape(-1, g, c * 2 * f)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._post(self.conv(x))

    def init_state(self, batch: int, *, device=None, dtype=None) -> ConvState | None:
        return self.conv.init_state(batch, device=device, dtype=dtype)

    def step(self, x: torch.Tensor, state: ConvState | None):
        y, state = self.conv.step(x, state)
        return self._post(y), state


def _complex_order(h: int, n: int, groups: int = G) -> list[list[int]]:
    """Per path (of `groups`), where its `complex_cat` of n features of h channels (all real
    halves, then all imaginary halves) lies in the plain concatenation of the n group-major
    features."""
    return [
        [j * groups * h + g * h + p * (h // 2) + c for p in range(2) for j in range(n) for c in range(h // 2)]
        for g in range(groups)
    ]


class FusedDenseBlock(DenseBlock):
    """n `DenseBlock`s; each dilated layer is one dense conv over the plain concatenation of the
    earlier outputs (its weight scatters each path's complex-ordered kernel). State and step
    as `DenseBlock`'s."""

    def __init__(self, blocks: Sequence[DenseBlock]):
        nn.Module.__init__(self)  # the layers are built from `blocks`, not from sizes
        h, n = blocks[0].inp.conv.out_channels, len(blocks)
        self.inp = FusedCausalConv.build([b.inp for b in blocks])
        self.act_in = _prelu([b.act_in for b in blocks], h)
        self.dilated = nn.ModuleList()
        for i in range(len(blocks[0].dilated)):
            self.dilated.append(
                FusedCausalConv.build(
                    [b.dilated[i] for b in blocks], index=_complex_order(h, i + 1, n), cin=n * h * (i + 1)
                )
            )
        self.pointwise = nn.ModuleList(
            FusedConvNormAct.of([b.pointwise[i] for b in blocks]) for i in range(len(blocks[0].pointwise))
        )
        self.out = FusedCausalConv.build([b.out for b in blocks])
        self.act_out = _prelu([b.act_out for b in blocks], blocks[0].out.conv.out_channels)

    def _gather(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(feats, dim=1)  # the scattered weights do the complex ordering


@torch.no_grad()
def _gate_conv(convs: Sequence[nn.Module], replicate: int) -> FusedCausalConv:
    """G = len(convs) `CausalCTFA` gate convs (Conv1d (B, C, T) or Conv2d (k, 1)) -> one Conv2d
    (k, 1) over (B, G*C_in, T, F'), groups G; `replicate` copies of each output channel (the 1 -> 1 convs
    emit the gate once per channel of the gated path)."""
    ref = convs[0].conv
    w = torch.cat(
        [
            c.conv.weight.reshape(c.conv.out_channels, c.conv.in_channels, -1, 1).repeat_interleave(
                replicate, dim=0
            )
            for c in convs
        ]
    )
    n = len(convs)
    conv = nn.Conv2d(n * ref.in_channels, w.shape[0], (w.shape[2], 1), groups=n).to(w)
    conv.weight.copy_(w)
    conv.bias.copy_(torch.cat([c.conv.bias.repeat_interleave(replicate) for c in convs]))
    freq = convs[0].in_freq if isinstance(ref, nn.Conv2d) else 1
    return FusedCausalConv(conv, convs[0].context, freq)


class FusedCTFA(CausalCTFA):
    """G `CausalCTFA`s over (B, G*C, T, F): the same gates, each applied to its own path.
    State as `CausalCTFA`'s."""

    def __init__(self, attns: Sequence[CausalCTFA]):
        nn.Module.__init__(self)  # the gates are built from `attns`, not from sizes
        c = attns[0].t1.conv.in_channels
        self.t1, self.t2 = _gate_conv([a.t1 for a in attns], 1), _gate_conv([a.t2 for a in attns], c)
        self.f1, self.f2 = _gate_conv([a.f1 for a in attns], 1), _gate_conv([a.f2 for a in attns], c)
        avg = attns[0].avg
        self.avg = RunningMean(avg.frames, len(attns) * avg.channels, avg.freq)
        self.relu = nn.ReLU()

    def _run(self, x: torch.Tensor, state: CTFAState | None):
        st = (None, None) if state is None else state.time
        sf = (None, None) if state is None else state.freq
        h, s1 = forward_or_step(self.t1, x.mean(dim=3, keepdim=True), st[0])  # (B, G, T, 1)
        tg, s2 = forward_or_step(self.t2, self.relu(h), st[1])  # (B, G*C, T, 1)
        avg, s_avg = forward_or_step(self.avg, x, state and state.avg)
        h, s3 = forward_or_step(self.f1, avg, sf[0])  # (B, G, T, F)
        fg, s4 = forward_or_step(self.f2, self.relu(h), sf[1])  # (B, G*C, T, F)
        y = x * torch.sigmoid(tg) * torch.sigmoid(fg)
        return y, None if state is None else CTFAState(s_avg, (s1, s2), (s3, s4))


class FusedPlainCTFA(CTFA):
    """G `CTFA`s (the CNUNet attention: 1x1 gates) over (B, G*C, T, F), each gate's convs one
    grouped conv. State as `CTFA`'s."""

    def __init__(self, attns: Sequence[CTFA]):
        nn.Module.__init__(self)  # the gates are built from `attns`, not from sizes
        for name in ("time_gate", "freq_gate"):
            gates = [getattr(a, name) for a in attns]
            fused = nn.Sequential(
                _fuse([g[0] for g in gates]), nn.ReLU(), _fuse([g[2] for g in gates]), nn.Sigmoid()
            )
            setattr(self, name, fused)
        avg = attns[0].avg
        self.avg = RunningMean(avg.frames, len(attns) * avg.channels, avg.freq)


def fused_attention(attns: Sequence[nn.Module]) -> nn.Module:
    """G attentions of one kind (`CausalCTFA` or `CTFA`) -> their grouped form."""
    return FusedCTFA(attns) if isinstance(attns[0], CausalCTFA) else FusedPlainCTFA(attns)


class FusedDecoderStage(DecoderStage):
    """G `DecoderStage`s (`TBDecoderStage`s or CNUNet's). x: the fused input (the concatenation
    `segs`); feats: the encoder level's feats, whole ([real | imag], shared by the paths). State
    and step as `DecoderStage`'s (its concatenations are whole tensors; the fused weights pick)."""

    def __init__(self, stages: Sequence[DecoderStage], segs: Segments):
        nn.Module.__init__(self)  # the layers are built from `stages`, not from sizes
        ref = stages[0]
        depth = len(ref.enc)
        self.inp = FusedConvNormAct.of([s.inp for s in stages], segs)
        width = [ref.inp.conv.conv.out_channels] + [e.conv.conv.out_channels for e in ref.enc]
        self.mix_enc = nn.ModuleList(
            FusedCausalConv.build(
                [s.mix_enc[k] for s in stages],
                [("g", width[k]), ("s", ref.mix_enc[k].in_channels - width[k])],
            )
            for k in range(depth)
        )
        self.enc = nn.ModuleList(FusedConvNormAct.of([s.enc[k] for s in stages]) for k in range(depth))
        self.dense = FusedDenseBlock([s.dense for s in stages])
        self.mix_dec, self.dec = nn.ModuleList(), nn.ModuleList()
        h = ref.dense.out.conv.out_channels
        for k in range(depth):
            skip = width[depth - k]
            segs_k = [("g", h), ("g", skip), ("s", ref.mix_dec[k].in_channels - h - skip)]
            self.mix_dec.append(FusedCausalConv.build([s.mix_dec[k] for s in stages], segs_k))
            self.dec.append(FusedConvNormAct.of([s.dec[k] for s in stages]))
            h = ref.dec[k].norm.channels
        self.attn = nn.ModuleList([fused_attention([s.attn[0] for s in stages])] if len(ref.attn) else [])


class FusedBranches(nn.Module):
    """The mask and map branches of a `CNUNetTB`, all four decoder paths at once.

    `forward(latent, skips, feats)` and `step(latent, skips, feats, state)` take what
    `DecoderBranch.decode` takes and return (m, s[, state]): exactly the two branches' outputs."""

    def __init__(self, model: CNUNetTB):
        super().__init__()
        paths = _paths(model)
        ups = [br.up_re if p == 0 else br.up_im for br, p in paths]
        decs = [br.dec_re if p == 0 else br.dec_im for br, p in paths]
        self.up, self.dec = nn.ModuleList(), nn.ModuleList()
        for k in range(len(ups[0])):
            level = [u[k] for u in ups]
            width = level[0].conv.conv.in_channels
            self.up.append(FusedConvNormAct.of(level, [("s", width)] if k == 0 else None))
            u = level[0].norm.channels
            stages = [d[k] for d in decs]
            skip = stages[0].inp.conv.conv.in_channels - u
            self.dec.append(FusedDecoderStage(stages, [("g", u), ("s", skip)]))
        heads = [model.mask_branch.head, model.map_branch.head]
        c = heads[0].in_channels
        self.head = nn.Conv2d(2 * c, 4, 1, groups=2).to(heads[0].weight)
        with torch.no_grad():
            self.head.weight.copy_(torch.cat([h.weight for h in heads]))
            self.head.bias.copy_(torch.cat([h.bias for h in heads]))
        self.requires_grad_(False)  # a read-only view of trained weights

    def init_state(self, batch: int, *, device=None, dtype=None) -> FusedBranchesState:
        return FusedBranchesState(
            tuple(u.init_state(batch, device=device, dtype=dtype) for u in self.up),
            tuple(d.init_state(batch, device=device, dtype=dtype) for d in self.dec),
        )

    def _run(self, latent: torch.Tensor, skips: list, feats: list, state: FusedBranchesState | None):
        n = len(self.dec)
        h, s_up, s_dec = latent, [], []
        for k, (up, dec, su, sd) in enumerate(
            zip(self.up, self.dec, states(state, "up", n), states(state, "dec", n))
        ):
            level = len(skips) - 1 - k
            u, su = forward_or_step(up, h, su)  # (B, G*out, T, F')
            x = torch.cat([u, skips[level]], dim=1)
            h, sd = (dec(x, feats[level]), None) if sd is None else dec.step(x, feats[level], sd)
            s_up.append(su)
            s_dec.append(sd)
        m, s = self.head(h).chunk(2, dim=1)  # (B, 2, T, F) each
        return m, s, None if state is None else FusedBranchesState(tuple(s_up), tuple(s_dec))

    def forward(self, latent: torch.Tensor, skips: list, feats: list):
        return self._run(latent, skips, feats, None)[:2]

    def step(self, latent: torch.Tensor, skips: list, feats: list, state: FusedBranchesState):
        return self._run(latent, skips, feats, state)


class FusedCNUNetTB(SpectralEnhancer):
    """A `CNUNetTB` for streaming export: the model's input layer and down-samplers (shared, not
    copied), its encoder stages and bottleneck with their complex halves fused
    (`cnunet_tb_fused_encoder`), the decoder branches as `FusedBranches` (copies of the weights
    at construction: build it again after changing the model). Offline `net_forward` is the
    model's own."""

    def __init__(self, model: CNUNetTB):
        from .cnunet_tb_fused_encoder import FusedEncoderStage, PlainDenseBlock

        super().__init__(model.cfg)
        self.base = model
        self.inp, self.down = model.inp, model.down
        self.enc = nn.ModuleList(FusedEncoderStage(s) for s in model.enc)
        self.bottleneck = PlainDenseBlock(model.bottleneck)
        self.branches = FusedBranches(model)
        self.train(model.training)

    def net_forward(self, xc: torch.Tensor) -> torch.Tensor:
        return self.base.net_forward(xc)

    def net_init_state(self, batch: int, *, device=None, dtype=None) -> FusedCNUNetTBState:
        return FusedCNUNetTBState(
            tuple(e.init_state(batch, device=device, dtype=dtype) for e in self.enc),
            self.bottleneck.init_state(batch, device=device, dtype=dtype),
            self.branches.init_state(batch, device=device, dtype=dtype),
        )

    def net_step(self, xc: torch.Tensor, state: FusedCNUNetTBState):
        if self.base.fusion is not None:
            raise ValueError("this CNUNet-TB has a stage-1 fusion layer: pass an embedding")
        h, skips, feats, s_enc = NestedUNet.encode(self, xc, state)  # the fused stages
        latent, s_mid = self.bottleneck.step(h, state.bottleneck)
        m, s, s_br = self.branches.step(latent, skips, feats, state.branches)
        return self.base.combine(xc, m, s), FusedCNUNetTBState(s_enc, s_mid, s_br)


__all__ = ["FusedBranches", "FusedBranchesState", "FusedCNUNetTB", "FusedCNUNetTBState"]

"""A NIR graph as populations of neurons fed by linear maps (docs/NIR.md, "How a graph maps").

Every neuron node (``LIF``, ``CubaLIF``, ``IF``, ``LI``, ``I``, ``Threshold``) becomes a
:class:`Population`. Everything between populations (``Affine``, ``Linear``, ``Scale``,
``Flatten``, ``Delay``, ``Conv1d``, ``Conv2d``, ``SumPool2d``, ``AvgPool2d``, and the sum of
several incoming edges) is linear, so it folds into one matrix per (source, delay) and a bias:

    input of population p at step t = sum over terms (s, d, M) of M @ out_s[t - d] + bias_p

Sources are populations and ``Input`` nodes. A cycle that passes through no neuron has no
such form and is refused.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from emulator.errors import UserError

NEURON_TYPES = ("LIF", "CubaLIF", "IF", "LI", "I", "Threshold")
LINEAR_TYPES = ("Affine", "Linear", "Scale", "Flatten", "Delay", "Conv1d", "Conv2d",
                "SumPool2d", "AvgPool2d")
SUPPORTED = NEURON_TYPES + LINEAR_TYPES + ("Input", "Output")
#: most non-zero entries an unrolled convolution or pooling map may have (memory bound)
MAX_NNZ = 20_000_000


class NIRError(UserError):
    """A NIR graph the compiler cannot take; the message names the node."""


class Population:
    """One neuron node: per-neuron float parameters and its incoming linear terms."""

    def __init__(self, name: str, kind: str, node, shape: tuple):
        self.name = name
        self.kind = kind
        self.node = node
        self.shape = shape
        self.n = int(np.prod(shape)) if shape else 1
        self.terms = {}                 # (source name, delay ticks) -> float matrix [n, n_src]
        self.bias = np.zeros(self.n)    # float, in the node's input units (I)
        self.metadata = dict(getattr(node, "metadata", None) or {})

    def param(self, key, default=None):
        v = getattr(self.node, key, None)
        if v is None:
            if default is None:
                raise NIRError("node %r (%s) has no parameter %r" % (self.name, self.kind, key))
            v = default
        a = np.asarray(v, dtype=np.float64)
        if a.size == 1:
            return np.full(self.n, float(a.reshape(-1)[0]))
        if a.size != self.n:
            raise NIRError("node %r: parameter %r has %d values for %d neurons"
                           % (self.name, key, a.size, self.n))
        return a.reshape(-1).copy()


class Eye:
    """The identity map of a source onto itself, kept implicit (sources can be large)."""

    def __init__(self, n: int):
        self.n = n
        self.shape = (n, n)

    def sparse(self):
        return sp.identity(self.n, format="csr", dtype=np.float64)


def sparse(v):
    """Terms are scipy CSR matrices [n_out, n_source] (or an implicit identity)."""
    return v.sparse() if isinstance(v, Eye) else v


def apply(M, v):
    """``M @ v`` without multiplying by an identity; always sparse."""
    M = sp.csr_matrix(M, dtype=np.float64)
    return M.copy() if isinstance(v, Eye) else (M @ v).tocsr()


class Linearised:
    """The graph as sources, populations and outputs."""

    def __init__(self):
        self.inputs = {}          # name -> size
        self.input_shapes = {}
        self.populations = {}     # name -> Population (graph order)
        self.outputs = {}         # output name -> (population name, index map [n_out])
        self.metadata = {}


def load_graph(graph_or_path):
    """A ``nir.NIRGraph`` from a graph or a path; bad files raise :class:`NIRError`."""
    import nir

    if isinstance(graph_or_path, nir.NIRGraph):
        return graph_or_path, "<graph>"
    path = str(graph_or_path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as e:
        raise NIRError("cannot read: %s" % (e.strerror or e)) from None
    if head != b"\x89HDF\r\n\x1a\n":
        raise NIRError("not a NIR file (NIR files are HDF5; this one does not start with "
                       "the HDF5 signature)")
    try:
        g = nir.read(path, type_check=False)     # our own checks name the node
    except Exception as e:  # the nir/h5py readers raise many types for bad content
        raise NIRError("cannot read the NIR graph (%s: %s)"
                       % (type(e).__name__, str(e).splitlines()[0] if str(e) else "")) from None
    return g, path


def _shape_of(v) -> tuple:
    return tuple(int(x) for x in np.asarray(v).reshape(-1))


def _check_finite(name: str, node) -> None:
    for key, val in vars(node).items():
        if key in ("metadata", "input_type", "output_type"):
            continue
        if isinstance(val, (np.ndarray, float, int)) and not isinstance(val, bool):
            a = np.asarray(val)
            if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
                raise NIRError("node %r (%s): parameter %r holds NaN or infinity"
                               % (name, type(node).__name__, key))


def _pair(v, n=2):
    a = np.asarray(v).reshape(-1)
    if a.size == 1:
        return tuple(int(a[0]) for _ in range(n))
    return tuple(int(x) for x in a[:n])


def _conv_matrix(name, w, bias, in_shape, stride, padding, dilation, groups):
    """Dense matrix of a 2-D convolution (channels first); returns (M, bias, out_shape)."""
    cout, cin_g, kh, kw = w.shape
    cin, H, W = in_shape
    if cin != cin_g * groups:
        raise NIRError("node %r: input has %d channels, weights expect %d x %d groups"
                       % (name, cin, cin_g, groups))
    sh, sw = stride
    dh, dw = dilation
    if isinstance(padding, str):
        if padding == "valid":
            ph = pw = 0
        elif padding == "same":
            ph, pw = (dh * (kh - 1)) // 2, (dw * (kw - 1)) // 2
        else:
            raise NIRError("node %r: unknown padding %r" % (name, padding))
    else:
        ph, pw = padding
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    if Ho < 1 or Wo < 1:
        raise NIRError("node %r: kernel larger than the padded input %dx%d" % (name, H, W))
    n_out, n_in = cout * Ho * Wo, cin * H * W
    if n_out * cin_g * kh * kw > MAX_NNZ:
        raise NIRError("node %r: unrolling gives %d x %d crossings, more than %d"
                       % (name, n_out, cin_g * kh * kw, MAX_NNZ))
    R, Cc, V = [], [], []
    cpg_out = cout // groups
    for co in range(cout):
        g = co // cpg_out
        for ci_g in range(cin_g):
            ci = g * cin_g + ci_g
            for a in range(kh):
                for b in range(kw):
                    val = w[co, ci_g, a, b]
                    if val == 0:
                        continue
                    ys = np.arange(Ho) * sh - ph + a * dh
                    xs = np.arange(Wo) * sw - pw + b * dw
                    oy, ox = np.meshgrid(np.arange(Ho), np.arange(Wo), indexing="ij")
                    iy, ix = np.meshgrid(ys, xs, indexing="ij")
                    ok = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
                    rows = co * Ho * Wo + oy[ok] * Wo + ox[ok]
                    cols = ci * H * W + iy[ok] * W + ix[ok]
                    R.append(rows)
                    Cc.append(cols)
                    V.append(np.full(rows.size, val))
    M = _coo(R, Cc, V, (n_out, n_in))
    b = np.broadcast_to(np.asarray(bias, dtype=np.float64).reshape(-1), (cout,)) \
        if np.asarray(bias).size in (1, cout) else None
    if b is None:
        raise NIRError("node %r: bias has %d values for %d output channels"
                       % (name, np.asarray(bias).size, cout))
    return M, np.repeat(b, Ho * Wo), (cout, Ho, Wo)


def _pool_matrix(name, in_shape, kernel, stride, padding, average):
    C, H, W = in_shape
    kh, kw = kernel
    sh, sw = stride
    ph, pw = padding
    Ho = (H + 2 * ph - kh) // sh + 1
    Wo = (W + 2 * pw - kw) // sw + 1
    if Ho < 1 or Wo < 1:
        raise NIRError("node %r: pooling window larger than the input %dx%d" % (name, H, W))
    if C * Ho * Wo * kh * kw > MAX_NNZ:
        raise NIRError("node %r: unrolling gives more than %d crossings" % (name, MAX_NNZ))
    val = 1.0 / (kh * kw) if average else 1.0
    R, Cc, V = [], [], []
    c, oy, ox = np.meshgrid(np.arange(C), np.arange(Ho), np.arange(Wo), indexing="ij")
    for a in range(kh):
        for b in range(kw):
            iy, ix = oy * sh - ph + a, ox * sw - pw + b
            ok = (iy >= 0) & (iy < H) & (ix >= 0) & (ix < W)
            R.append((c * Ho * Wo + oy * Wo + ox)[ok])
            Cc.append((c * H * W + iy * W + ix)[ok])
            V.append(np.full(int(ok.sum()), val))
    return _coo(R, Cc, V, (C * Ho * Wo, C * H * W)), (C, Ho, Wo)


def _coo(R, Cc, V, shape):
    if not R:
        return sp.csr_matrix(shape, dtype=np.float64)
    return sp.coo_matrix((np.concatenate(V), (np.concatenate(R), np.concatenate(Cc))),
                         shape=shape).tocsr()


class Pass:
    """The Input or Output node of a nested graph, once flattened: passes its value on."""

    def __init__(self, shape):
        self.shape = shape
        self.metadata = {}


def flatten(graph, prefix: str = ""):
    """Nodes and edges of ``graph`` with nested NIRGraph nodes inlined (as snnTorch writes
    recurrent layers): node ``S`` of the outer graph becomes ``S.x`` for each inner node ``x``;
    an edge into ``S`` (or ``S.input``) goes to its Input node, an edge out of ``S`` (or
    ``S.output``) leaves from its Output node. Returns (nodes, edges) with plain names."""
    import nir

    nodes, edges, entry, exit_ = {}, [], {}, {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.NIRGraph):
            inner, inner_edges, _e, _x = flatten(node, prefix + name + ".")
            nodes.update(inner)
            edges += inner_edges
            ins = [k for k, v in node.nodes.items() if type(v).__name__ == "Input"]
            outs = [k for k, v in node.nodes.items() if type(v).__name__ == "Output"]
            for k in ins:
                nodes[prefix + name + "." + k] = Pass(_shape_of(node.nodes[k].input_type["input"]))
            for k in outs:
                nodes[prefix + name + "." + k] = Pass(_shape_of(node.nodes[k].output_type["output"]))
            entry[name] = [prefix + name + "." + k for k in ins]
            exit_[name] = [prefix + name + "." + k for k in outs]
        else:
            nodes[prefix + name] = node

    def end(x, which):
        x = str(x)
        full = prefix + x
        if full in nodes:
            return full
        head, _dot, port = x.partition(".")
        table = entry if which == "dst" else exit_
        if head in table:
            cands = table[head]
            if port and prefix + head + "." + port in nodes:
                return prefix + head + "." + port
            if len(cands) == 1:
                return cands[0]
            raise NIRError("edge endpoint %r: nested graph %r has %d %s nodes; name one"
                           % (x, head, len(cands), "Input" if which == "dst" else "Output"))
        if prefix + head in nodes:          # "node.output" / "node.input" ports of a plain node
            return prefix + head
        raise NIRError("edge endpoint %r names a node the graph does not have" % x)

    for a, b in graph.edges:
        edges.append((end(a, "src"), end(b, "dst")))
    return nodes, edges, entry, exit_


def _size_from_preds(name, nodes, preds):
    """Shape of a neuron node whose parameters are scalars: its first sized predecessor's."""
    for p in preds.get(name, []):
        node = nodes[p]
        t = type(node).__name__
        if t in ("Affine", "Linear"):
            return (int(np.asarray(node.weight).shape[0]),)
        if t == "Input":
            return _shape_of(node.input_type["input"])
        if t == "Scale" and np.asarray(node.scale).size > 1:
            return np.asarray(node.scale).shape
    return None


def linearise(graph, dt: float) -> Linearised:
    """Fold the linear nodes of ``graph`` into per-population terms (see module doc)."""
    nodes, edges, _entry, _exit = flatten(graph)
    preds = {n: [] for n in nodes}
    for a, b in edges:
        preds[b].append(a)
    out = Linearised()
    out.metadata = dict(getattr(graph, "metadata", None) or {})
    for name, node in nodes.items():
        t = type(node).__name__
        if t not in SUPPORTED + ("Pass",):
            raise NIRError("node %r has type %s, which neurotile cannot compile; supported: %s"
                           % (name, t, ", ".join(SUPPORTED)))
        _check_finite(name, node)
    # shapes of sources
    for name, node in nodes.items():
        t = type(node).__name__
        if t == "Input":
            shp = _shape_of(node.input_type["input"])
            out.inputs[name] = int(np.prod(shp))
            out.input_shapes[name] = shp
        elif t in NEURON_TYPES:
            key = {"Threshold": "threshold", "I": "r"}.get(t, "r")
            shp = np.asarray(getattr(node, key)).shape
            if int(np.prod(shp)) <= 1:      # scalar parameters: the size comes from the input
                shp = _size_from_preds(name, nodes, preds) or (1,)
            out.populations[name] = Population(name, t, node, tuple(shp))
    memo = {}
    stack = []

    def source_value(name):
        if name in out.inputs:
            n = out.inputs[name]
            return {(name, 0): Eye(n)}, np.zeros(n), out.input_shapes[name]
        p = out.populations[name]
        return {(name, 0): Eye(p.n)}, np.zeros(p.n), p.shape

    def summed_input(name):
        """Sum of the values of all predecessors of ``name``: (terms, bias, shape)."""
        if not preds[name]:
            raise NIRError("node %r has no incoming edge" % name)
        terms, bias, shape = None, None, None
        for p in preds[name]:
            t2, b2, s2 = value(p)
            if terms is None:
                terms, bias, shape = dict(t2), b2.copy(), s2
                continue
            if b2.size != bias.size:
                raise NIRError("node %r: inputs of different sizes meet (%d and %d from %r)"
                               % (name, bias.size, b2.size, p))
            for k, v in t2.items():
                terms[k] = (sparse(terms[k]) + sparse(v)).tocsr() if k in terms else v
            bias = bias + b2
        return terms, bias, shape

    def value(name):
        """The output of node ``name`` as terms over sources."""
        if name in out.inputs or name in out.populations:
            return source_value(name)
        if name in memo:
            return memo[name]
        if name in stack:
            cyc = stack[stack.index(name):] + [name]
            raise NIRError("cycle without neurons: %s (a cycle must pass through a neuron node)"
                           % " -> ".join(repr(c) for c in cyc))
        stack.append(name)
        node = nodes[name]
        t = type(node).__name__
        if t == "Output":
            raise NIRError("node %r (Output) feeds another node" % name)
        terms, bias, shape = summed_input(name)
        n_in = bias.size
        if t in ("Affine", "Linear"):
            w = np.asarray(node.weight, dtype=np.float64)
            if w.ndim != 2 or w.shape[1] != n_in:
                raise NIRError("node %r (%s): weight shape %s does not match its input of %d values"
                               % (name, t, w.shape, n_in))
            terms = {k: apply(w, v) for k, v in terms.items()}
            bias = w @ bias
            if t == "Affine":
                b = np.asarray(node.bias, dtype=np.float64).reshape(-1)
                if b.size not in (1, w.shape[0]):
                    raise NIRError("node %r (Affine): bias has %d values for %d outputs"
                                   % (name, b.size, w.shape[0]))
                bias = bias + b
            shape = (w.shape[0],)
        elif t == "Scale":
            s = np.asarray(node.scale, dtype=np.float64).reshape(-1)
            if s.size not in (1, n_in):
                raise NIRError("node %r (Scale): %d scales for %d values" % (name, s.size, n_in))
            D = sp.diags(np.broadcast_to(s, (n_in,)).astype(np.float64), format="csr")
            terms = {k: apply(D, v) for k, v in terms.items()}
            bias = bias * s
        elif t == "Flatten":
            shape = (n_in,)
        elif t == "Pass":
            pass
        elif t == "Delay":
            d = np.asarray(node.delay, dtype=np.float64).reshape(-1)
            ticks = np.rint(d / dt).astype(np.int64)
            if np.any(d < 0):
                raise NIRError("node %r (Delay): negative delay" % name)
            if ticks.size > 1 and np.any(ticks != ticks[0]):
                raise NIRError("node %r (Delay): delays differ per element (%d..%d ticks at dt=%g); "
                               "only one delay per node is supported" % (name, ticks.min(), ticks.max(), dt))
            if ticks.size and abs(d.reshape(-1)[0] / dt - ticks[0]) > 1e-6 * max(1, ticks[0]):
                raise NIRError("node %r (Delay): delay %g s is not a whole number of ticks of dt=%g"
                               % (name, d.reshape(-1)[0], dt))
            k = int(ticks[0]) if ticks.size else 0
            terms = {(s, dd + k): v for (s, dd), v in terms.items()}
        elif t in ("Conv1d", "Conv2d"):
            w = np.asarray(node.weight, dtype=np.float64)
            if t == "Conv1d":
                if len(shape) != 2:
                    if node.input_shape is None:
                        raise NIRError("node %r (Conv1d): input shape unknown" % name)
                    shape = (n_in // int(node.input_shape), int(node.input_shape))
                in3 = (shape[0], 1, shape[1])
                w4 = w[:, :, None, :]
                pad = node.padding if isinstance(node.padding, str) else (0, int(np.asarray(node.padding).reshape(-1)[0]))
                M, b, oshape = _conv_matrix(name, w4, node.bias, in3, (1, int(np.asarray(node.stride).reshape(-1)[0])),
                                            pad, (1, int(np.asarray(node.dilation).reshape(-1)[0])), int(node.groups))
                oshape = (oshape[0], oshape[2])
            else:
                if len(shape) != 3:
                    if node.input_shape is None:
                        raise NIRError("node %r (Conv2d): input shape unknown" % name)
                    hw = _pair(node.input_shape)
                    shape = (n_in // (hw[0] * hw[1]), hw[0], hw[1])
                pad = node.padding if isinstance(node.padding, str) else _pair(node.padding)
                M, b, oshape = _conv_matrix(name, w, node.bias, shape, _pair(node.stride), pad,
                                            _pair(node.dilation), int(node.groups))
            if M.shape[1] != n_in:
                raise NIRError("node %r (%s): input of %d values does not match shape %s"
                               % (name, t, n_in, shape))
            terms = {k: apply(M, v) for k, v in terms.items()}
            bias = M @ bias + b
            shape = oshape
        elif t in ("SumPool2d", "AvgPool2d"):
            if len(shape) != 3:
                raise NIRError("node %r (%s): needs a (channels, height, width) input, got shape %s"
                               % (name, t, shape))
            M, shape = _pool_matrix(name, shape, _pair(node.kernel_size), _pair(node.stride),
                                    _pair(node.padding), t == "AvgPool2d")
            terms = {k: apply(M, v) for k, v in terms.items()}
            bias = M @ bias
        else:  # pragma: no cover - SUPPORTED lists every type handled here
            raise NIRError("node %r: type %s not handled" % (name, t))
        stack.pop()
        memo[name] = (terms, bias, shape)
        return memo[name]

    for name, p in out.populations.items():
        terms, bias, _shape = summed_input(name)
        if bias.size != p.n:
            raise NIRError("node %r (%s): %d neurons but its input has %d values"
                           % (name, p.kind, p.n, bias.size))
        p.terms = {}
        for k, v in terms.items():
            v = sp.csr_matrix(sparse(v))
            v.eliminate_zeros()
            if v.nnz:
                p.terms[k] = v
        p.bias = bias
        if not p.terms and not np.any(bias):
            raise NIRError("node %r (%s) has no input" % (name, p.kind))
    for name, node in nodes.items():
        if type(node).__name__ != "Output":
            continue
        terms, bias, _shape = summed_input(name)
        if len(terms) != 1 or np.any(bias):
            raise NIRError("output %r is not the plain output of one neuron node (it sums or "
                           "biases values); the chip outputs only spikes and probed voltages" % name)
        (src, d), M = next(iter(terms.items()))
        if src in out.inputs:
            raise NIRError("output %r is fed by input %r with no neuron in between" % (name, src))
        if isinstance(M, Eye):
            perm, plain = np.arange(M.n), True
        else:
            M = sp.csr_matrix(M)
            M.eliminate_zeros()
            plain = bool(np.all(np.diff(M.indptr) == 1) and np.all(M.data == 1))
            perm = M.indices.copy() if plain else None
        if d != 0 or not plain:
            raise NIRError("output %r is fed through a linear map (or a delay) with no neuron "
                           "after it; the chip outputs only spikes and probed voltages" % name)
        out.outputs[name] = (src, perm)
    if not out.outputs:
        raise NIRError("the graph has no Output node")
    return out

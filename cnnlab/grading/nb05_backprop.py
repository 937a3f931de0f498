"""Checks for notebook 05: numerical gradients and the backward passes of conv2d and max pooling.

``numerical_gradient`` is called with :class:`~cnnlab.grading.engine.SourceFunction`
callbacks (plain source text, so the trusted grader can hand them to the
student's kernel). Its cases include functions whose partial derivatives
depend on the other entries, so an answer that never puts ``x[k]`` back is
caught, and an integer ``x`` (``x[k] + eps`` must not be truncated).
``gradient_check`` grades the notebook's last exercise: the student's
``conv2d_backward`` must agree with the student's ``numerical_gradient``.
"""

import numpy as np

from cnnlab import functional as F
from cnnlab._validation import as_pair
from cnnlab.gradcheck import relative_error
from cnnlab.grading import mistakes as M
from cnnlab.grading.engine import (
    Case,
    CheckFailure,
    CheckResult,
    Mismatch,
    SourceFunction,
    call_student,
    run_check,
    same_array,
)
from cnnlab.grading.feedback import Suspect
from cnnlab.grading.inputs import (
    distinct_values,
    fresh_rng,
    seeded,
    small_ints,
    with_ties,
)
from cnnlab.grading.nb02_convolution_2d import LECTURE_A, LECTURE_W
from cnnlab.grading.nb04_pooling import LECTURE_POOL, pool_cases

# --------------------------------------------------------------------------
# numerical_gradient
# --------------------------------------------------------------------------

def reference_numerical_gradient(f, x, eps=1e-5):
    """Central differences (the notebook's formula): (f(x + eps e_k) - f(x - eps e_k)) / (2 eps).

    e_k is the k-th unit array; x itself is never changed (new arrays x +/- eps e_k each time).
    """
    base = np.array(x, dtype=float)
    slopes = np.empty(base.size)
    for k in range(base.size):
        unit = np.zeros(base.size)
        unit[k] = eps
        unit = unit.reshape(base.shape)
        slopes[k] = (float(f(base + unit)) - float(f(base - unit))) / (2 * eps)
    return slopes.reshape(base.shape)


def _forward_difference(f, x, eps):
    x = np.array(x, dtype=float)
    fx = float(f(x))
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus = x.copy()
        plus[index] += eps
        grad[index] = (float(f(plus)) - fx) / eps
    return grad


def check_numerical_gradient(fn, hidden=False):
    """``numerical_gradient(f, x, eps)``: central differences, same shape as x, x left unchanged."""
    __tracebackhide__ = True
    rng = seeded(508)
    weights = small_ints(rng, (3, 4))
    cases = [
        Case("central differences", f=SourceFunction("lambda x: np.sum(x ** 3)"),
             x=np.array([1.0, -2.0, 0.5]), eps=1e-3),
        Case("central differences", f=SourceFunction("lambda x: np.sum(np.sin(x) * G)", G=weights),
             x=rng.normal(size=(3, 4)), eps=1e-4),
        Case("x restored (entries interact)", f=SourceFunction("lambda x: np.sum(x) ** 3"),
             x=np.array([[0.5, -1.0], [2.0, 0.25]]), eps=1e-3),
        Case("integer x", f=SourceFunction("lambda x: np.sum(x ** 2) + x.ravel()[0] * x.ravel()[-1]"),
             x=np.array([1, -2, 3]), eps=1e-4),
    ]
    if hidden:
        rng = fresh_rng()
        g = small_ints(rng, (2, 2, 3))
        cases += [
            Case("central differences", f=SourceFunction("lambda x: np.sum(x ** 3)"),
                 x=rng.normal(size=(2, 2, 3)), eps=1e-3),
            Case("x restored (entries interact)", f=SourceFunction("lambda x: np.sum(G * x) ** 2", G=g),
                 x=rng.normal(size=(2, 2, 3)), eps=1e-3),
            Case("x restored (entries interact)", f=SourceFunction("lambda x: np.prod(np.cos(x))"),
                 x=rng.normal(size=(5,)), eps=1e-4),
            Case("integer x", f=SourceFunction("lambda x: np.sum(G * x ** 2)", G=g),
                 x=rng.integers(-3, 4, size=(2, 2, 3)), eps=1e-3),
        ]

    def mistakes(args, expected):
        f, x, eps = args["f"], args["x"], args["eps"]
        return [
            Suspect("forward difference", "use the central difference (f(x+eps) - f(x-eps)) / (2*eps): "
                    "its error shrinks like eps**2 instead of eps", _forward_difference(f, x, eps)),
            Suspect("divided by eps instead of 2*eps", "the two probes are 2*eps apart", 2 * expected),
            Suspect("x not restored", "after probing entry k put the old value back (x[k] = old) before "
                    "moving on: the next entries are then evaluated at a shifted point",
                    M.numerical_gradient_not_restored(f, x, eps)),
            Suspect("integer truncation", "x is an integer array, so x[k] + eps is rounded back to the "
                    "same integer. Work on a float copy: x = np.array(x, dtype=float)",
                    M.numerical_gradient_on_ints(f, x, eps) if np.issubdtype(np.asarray(x).dtype, np.integer)
                    else None),
            M.integer_result(expected),
        ]

    def drop_missing(args, expected):
        return [s for s in mistakes(args, expected) if s.output is not None]

    return run_check("numerical_gradient", fn, cases, reference_numerical_gradient,
                     same_array(dtype="float", rtol=1e-5, atol=1e-7), drop_missing, hidden=hidden,
                     changed_hint="x not restored: your function must leave x as it found it. Work on a copy "
                                  "(x = np.array(x, dtype=float)) or put every x[k] back after probing it.",
                     still_checked=("3-D x", "functions whose entries interact (x must be restored)",
                                    "integer x of several shapes"))


# --------------------------------------------------------------------------
# max_pool2d_backward
# --------------------------------------------------------------------------

def _with_dout(rng, case, forward):
    out = forward(case.args["x"], case.args["kernel_size"], case.args["stride"])
    return Case(case.group, dout=small_ints(rng, out.shape, -2, 3), **case.args)


def _max_pool_backward(dout, x, kernel_size, stride):
    return F.max_pool2d_backward(dout, x, kernel_size, stride)


def _any_tied_maximum(args):
    """Comparison for tiling windows with ties: each window's gradient may go to ANY one of its maxima."""
    dout, x, k = args["dout"], args["x"], args["kernel_size"]
    exact = same_array()

    def compare(received, expected, what):
        mismatch = exact(received, expected, what)
        if mismatch is None or type(received) is not np.ndarray or received.shape != x.shape:
            return mismatch
        for n, c, i, j in np.ndindex(dout.shape):
            window = np.s_[n, c, i * k:(i + 1) * k, j * k:(j + 1) * k]
            got, values, g = received[window], x[window], dout[n, c, i, j]
            cells = np.flatnonzero(got)
            if g == 0 and cells.size == 0:
                continue
            if cells.size != 1 or not np.isclose(got.flat[cells[0]], g) \
                    or values.flat[cells[0]] != values.max():
                return mismatch
        return None
    return compare


def check_max_pool2d_backward(fn, hidden=False):
    """``max_pool2d_backward(dout, x, kernel_size, stride=None)`` -> dx, same shape as x."""
    __tracebackhide__ = True
    rng = seeded(505)
    shared_max = distinct_values(rng, (1, 1, 5, 5))
    shared_max[0, 0, 2, 2] = 100.0    # the centre is the max of all four overlapping 3x3 windows
    cases = [
        Case("windows that tile", dout=np.array([[[[1.0, 2], [3, 4]]]]), x=LECTURE_POOL, kernel_size=2,
             stride=None),
        Case("overlapping windows", dout=np.array([[[[1.0, 2], [3, 4]]]]), x=shared_max, kernel_size=3,
             stride=2),
        _with_dout(rng, Case("batches and pairs", x=distinct_values(rng, (2, 2, 4, 6)), kernel_size=(2, 3),
                             stride=(2, 1)), F.max_pool2d),
    ]
    if hidden:
        rng = fresh_rng()
        regroup = {"windows that tile (stride=None)": "windows that tile", "sizes that do not divide":
                   "windows that tile", "overlapping windows": "overlapping windows",
                   "rectangular windows and pairs": "batches and pairs", "negative values": "windows that tile"}
        for case in pool_cases(True, 506)[5:]:
            if case.group in regroup and np.issubdtype(case.args["x"].dtype, np.floating):
                cases.append(_with_dout(rng, Case(regroup[case.group], **case.args), F.max_pool2d))
        ties = _with_dout(rng, Case("ties", x=with_ties(rng, (2, 2, 4, 4)), kernel_size=2, stride=None),
                          F.max_pool2d)
        cases.append(ties.accepting(_any_tied_maximum(ties.args)))

    def mistakes(args, expected):
        a = (args["dout"], args["x"], args["kernel_size"], args["stride"])
        return [
            Suspect("`=` instead of `+=` (or a fancy-index += with repeated indices)", "when windows "
                    "overlap, the same input can be the max of several windows: accumulate with dx[...] += ... "
                    "one window at a time, or np.add.at(dx, index, values); dx[rows, cols] += values keeps "
                    "only one of the values of a repeated index", M.max_pool2d_backward_overwrite(*a)),
            Suspect("gradient spread over the whole window", "only the arg-max cell of each window receives "
                    "the gradient (that is average-pooling-like behaviour)", M.max_pool2d_backward_spread(*a)),
            Suspect("gradient sent to the window's first cell", "route it to the position of the maximum "
                    "(np.argmax + np.unravel_index)", M.max_pool2d_backward_first_cell(*a)),
            Suspect("average-pooling backward", "max pooling routes the whole gradient to the max",
                    F.avg_pool2d_backward(*a)),
            Suspect("gradient sent to every tied maximum", "when several cells share the maximum, send the "
                    "gradient to one of them (np.argmax picks the first), as the forward pass used one value",
                    M.max_pool2d_backward_all_ties(*a)),
            Suspect("gradient shared among tied maxima", "the forward pass took one value, so one cell gets "
                    "the whole gradient: as PyTorch, the first maximum in row-major order (np.argmax)",
                    M.max_pool2d_backward_all_ties(*a, split=True)),
            M.integer_result(expected),
        ]
    return run_check("max_pool2d_backward", fn, cases, _max_pool_backward, same_array(), mistakes,
                     hidden=hidden, still_checked=("negative values", "ties", "stride larger than the kernel",
                                                   "a kernel as large as the input", "batches of 1 and 3"))


# --------------------------------------------------------------------------
# conv2d_backward
# --------------------------------------------------------------------------

def _backward_case(group, rng, n, c_in, c_out, h, w, kh, kw, stride=1, padding=0):
    x, weight = small_ints(rng, (n, c_in, h, w)), small_ints(rng, (c_out, c_in, kh, kw))
    out = F.conv2d(x, weight, None, stride, padding)
    return Case(group, dout=small_ints(rng, out.shape, -2, 3), x=x, weight=weight, stride=stride, padding=padding)


def _conv_backward(dout, x, weight, stride=1, padding=0):
    return F.conv2d_backward(dout, x, weight, stride, padding)


PARTS = ("dx", "dweight", "dbias")


def _compare_backward(received, expected, what):
    """A tuple (dx, dweight, dbias), each compared like an array; names the wrong part."""
    if not isinstance(received, (tuple, list)) or len(received) != 3:
        length = f" of length {len(received)}" if isinstance(received, (tuple, list)) else ""
        return Mismatch([f"{what} must return a tuple (dx, dweight, dbias), got "
                         f"{type(received).__name__}{length}."], None)
    for part, got, want in zip(PARTS, received, expected):
        mismatch = same_array()(got, want, part)
        if mismatch is not None:
            mismatch.lines.insert(0, f"{part} is wrong.")
            mismatch.received = received
            return mismatch
    return None


def _part(index, output, rtol=1e-6, atol=1e-8):
    """Suspect output: part ``index`` of the student's tuple equals ``output``."""
    output = np.asarray(output, dtype=float)

    def matches(received):
        got = received[index]
        if not isinstance(got, np.ndarray) or got.shape != output.shape:
            return False
        return bool(np.all(np.abs(got.astype(float) - output) <= atol + rtol * np.abs(output)))
    return matches


def _permutation_of(received, expected):
    """True when ``received`` holds the three expected arrays in another order."""
    from itertools import permutations

    return any(all(_part(i, want)(received) for i, want in zip(order, expected))
               for order in permutations(range(3)) if order != (0, 1, 2))


def _part_shape(index, shape):
    return lambda received: isinstance(received[index], np.ndarray) and received[index].shape == tuple(shape)


def _backward_mistakes(args, expected):
    dout, x, weight, stride, padding = (args[k] for k in ("dout", "x", "weight", "stride", "padding"))
    a = (dout, x, weight, stride, padding)
    n, c_in, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out, w_out = dout.shape[2:]
    ph, pw = as_pair(padding, "padding")
    overwrite = M.conv2d_backward_overwrite(*a)
    found = [
        Suspect("`=` instead of `+=` in dx", "overlapping windows all contribute to the same input: "
                "accumulate dx_pad[...] += ...", _part(0, overwrite[0])),
        Suspect("dx with the kernel the wrong way round", "with the scatter formula dX_pad[n, c, i*s+u, j*s+v] "
                "+= G[n, o, i, j] * W[o, c, u, v] the kernel is used as it is (the 'full convolution' view "
                "flips it once: do not flip it a second time)",
                _part(0, F.conv2d_backward(dout, x, M.flip_kernel(weight), stride, padding)[0])),
        Suspect("padding not cropped from dx", "dx is the gradient of the *unpadded* x: crop the padding off",
                _part_shape(0, (n, c_in, h + 2 * ph, w + 2 * pw)) if (ph, pw) != (0, 0) else None),
        Suspect("`=` instead of `+=` in dweight", "every output position contributes to the weight gradient: "
                "accumulate", _part(1, overwrite[1])),
        Suspect("flipped kernel gradient", "dW[u, v] = sum_ij dout[i, j] * x_pad[i*s + u, j*s + v]: no flip",
                _part(1, M.flip_kernel(expected[1]))),
        Suspect("weight gradient not summed over the batch", "sum the weight gradient over the batch too",
                _part_shape(1, (n, c_out, c_in, kh, kw))),
        Suspect("dbias averaged instead of summed", "every output value adds the bias once, so its gradient "
                "is the plain sum: dbias = dout.sum(axis=(0, 2, 3)), not the mean", _part(2, dout.mean(axis=(0, 2, 3)))),
        Suspect("dbias not summed over the batch", "the bias is shared by every example too: sum over axis 0 as well",
                _part(2, dout[0].sum(axis=(1, 2))) if n > 1 else None),
        Suspect("dweight divided by the batch size", "the loss here is a plain sum, so the weight gradient is too: "
                "do not divide by N", _part(1, expected[1] / n) if n > 1 else None),
        Suspect("parts returned in the wrong order", "return the tuple (dx, dweight, dbias) in that order",
                lambda r: _permutation_of(r, expected)),
        Suspect("dbias: sum dout over the batch and both spatial axes", "dbias = dout.sum(axis=(0, 2, 3))",
                lambda r: isinstance(r[2], np.ndarray) and r[2].shape in
                {(c_out, h_out, w_out), (n, c_out), (n,), (h_out, w_out), (n, h_out, w_out)}
                and r[2].shape != (c_out,)),
    ]
    return [s for s in found if s.output is not None]


#: Share of the points for each output that is right in every case: dx and dweight are the work,
#: dbias (a sum of dout) is one line and earns its share only beside one of them.
PART_CREDIT = {"dx": 0.4, "dweight": 0.4, "dbias": 0.2}


def _backward_credit(results):
    """The shares (PART_CREDIT) of the outputs among dx, dweight and dbias that are right in every case."""
    right = set(PARTS)
    for _, received, expected in results:
        if not isinstance(received, (tuple, list)) or len(received) != 3:
            return 0.0
        for part, got, want in zip(PARTS, received, expected):
            if same_array()(got, want, part) is not None:
                right.discard(part)
    if right <= {"dbias"}:
        return 0.0
    return sum(PART_CREDIT[part] for part in right)


def check_conv2d_backward(fn, hidden=False):
    """``conv2d_backward(dout, x, weight, stride=1, padding=0)`` -> (dx, dweight, dbias)."""
    __tracebackhide__ = True
    rng = seeded(507)
    cases = [
        Case("basic", dout=np.array([[[[1.0, 0, 2], [0, -1, 0], [1, 1, 0]]]]), x=LECTURE_A[None, None],
             weight=LECTURE_W[None, None], stride=1, padding=0),
        _backward_case("padding and batches", rng, 2, 2, 3, 5, 5, 3, 3, stride=1, padding=1),
        _backward_case("stride", rng, 1, 1, 2, 5, 5, 3, 3, stride=2, padding=0),   # overlapping windows, stride 2
        _backward_case("stride and padding pairs", rng, 1, 2, 2, 6, 5, 3, 2, stride=(2, 1), padding=(1, 0)),
    ]
    if hidden:
        rng = fresh_rng()
        cases += [
            _backward_case("basic", rng, 1, 3, 2, 5, 7, 3, 3),                      # H != W
            _backward_case("basic", rng, 1, 1, 1, 4, 4, 4, 4),                      # kernel = input size
            _backward_case("stride", rng, 2, 2, 2, 9, 8, 2, 2, stride=3),          # stride > kernel
            _backward_case("stride and padding pairs", rng, 3, 2, 4, 6, 5, 3, 2, stride=(2, 1), padding=(1, 0)),
            _backward_case("stride and padding pairs", rng, 1, 2, 3, 7, 8, 2, 3, stride=(1, 2), padding=(0, 2)),
            _backward_case("padding and batches", rng, 1, 4, 3, 6, 6, 3, 3, stride=2, padding=2),
            _backward_case("padding and batches", rng, 3, 1, 2, 4, 5, 2, 2, padding=1),
        ]
    return run_check("conv2d_backward", fn, cases, _conv_backward, _compare_backward, _backward_mistakes,
                     hidden=hidden, credit=_backward_credit, still_checked=("stride larger than the kernel", "a kernel as large as the "
                                                   "input", "batches of 1 and 3", "pairs in either order"))


# --------------------------------------------------------------------------
# gradient_check: the student's conv2d_backward against the student's numerical_gradient
# --------------------------------------------------------------------------

#: sum(G * conv2d(x, W, B, stride, padding)) in plain NumPy, one source per variable
_CONV_SUM = ("np.sum(G * (np.moveaxis(np.tensordot(np.lib.stride_tricks.sliding_window_view("
             "np.pad({x}, ((0, 0), (0, 0), (PH, PH), (PW, PW))), {w}.shape[2:], axis=(2, 3))"
             "[:, :, ::SH, ::SW], {w}, axes=([1, 4, 5], [1, 2, 3])), -1, 1) + {b}[None, :, None, None]))")


def _loss_functions(G, x, w, b, stride, padding):
    (sh, sw), (ph, pw) = as_pair(stride, "stride"), as_pair(padding, "padding")
    bound = dict(G=G, X=x, W=w, B=b, SH=sh, SW=sw, PH=ph, PW=pw)
    return {
        "dx": SourceFunction("lambda x_: " + _CONV_SUM.format(x="x_", w="W", b="B"), **bound),
        "dweight": SourceFunction("lambda w_: " + _CONV_SUM.format(x="X", w="w_", b="B"), **bound),
        "dbias": SourceFunction("lambda b_: " + _CONV_SUM.format(x="X", w="W", b="b_"), **bound),
    }


def check_gradient_check(conv2d_backward, numerical_gradient, hidden=False):
    """The student's ``conv2d_backward`` agrees with their ``numerical_gradient`` (relative error < 1e-6)."""
    __tracebackhide__ = True
    try:
        return _gradient_check(conv2d_backward, numerical_gradient, hidden)
    except CheckFailure:
        raise
    except AssertionError as failure:   # the student's code raised: keep their line in the traceback
        raise CheckFailure(str(failure)) from failure.__cause__


def _gradient_check(conv2d_backward, numerical_gradient, hidden):
    __tracebackhide__ = True
    settings = [((1, 2, 5, 5), (3, 2, 3, 3), 1, 0), ((2, 3, 5, 6), (2, 3, 3, 2), 1, 1),
                ((1, 2, 7, 7), (2, 2, 3, 3), 2, 0)]
    rng = seeded(551)
    if hidden:
        settings += [((2, 2, 6, 5), (3, 2, 2, 3), (2, 1), (0, 1)), ((1, 3, 8, 7), (2, 3, 3, 3), 3, 2)]
        rng = fresh_rng()
    for shape_x, shape_w, stride, padding in settings:
        x, w, b = rng.normal(size=shape_x), rng.normal(size=shape_w), rng.normal(size=shape_w[0])
        G = rng.normal(size=F.conv2d(x, w, b, stride, padding).shape)
        exact = F.conv2d_backward(G, x, w, stride, padding)
        setting = f"x {shape_x}, weight {shape_w}, stride={stride}, padding={padding}"
        analytic = call_student(conv2d_backward, "conv2d_backward",
                                dict(dout=G, x=x, weight=w, stride=stride, padding=padding))
        if not isinstance(analytic, (tuple, list)) or len(analytic) != 3:
            raise CheckFailure(f"conv2d_backward must return a tuple (dx, dweight, dbias), got "
                               f"{type(analytic).__name__} ({setting}).")
        losses = _loss_functions(G, x, w, b, stride, padding)
        for part, got, right, variable in zip(PARTS, analytic, exact, (x, w, b)):
            numeric = call_student(numerical_gradient, "numerical_gradient", dict(f=losses[part], x=variable))
            for label, value in ((f"{part} from conv2d_backward", got), (f"numerical_gradient for {part}", numeric)):
                if type(value) is not np.ndarray or value.shape != right.shape or value.dtype.kind not in "fiu":
                    raise CheckFailure(f"{label} must be an array of numbers of shape {right.shape}, got "
                                       f"{type(value).__name__} {getattr(value, 'shape', '')} "
                                       f"{getattr(value, 'dtype', '')} ({setting}).")
            error = relative_error(got, numeric)
            if not error < 1e-6:
                blame = []
                if relative_error(got, right) > 1e-6:
                    blame.append(f"your conv2d_backward's {part} is wrong")
                if relative_error(numeric, right) > 1e-6:
                    blame.append("your numerical_gradient is wrong")
                raise CheckFailure(
                    f"{part}: conv2d_backward and numerical_gradient disagree ({setting}): relative error "
                    f"{error:.2e} (needs < 1e-6).\nLikely mistake: " + " and ".join(blame or ["?"])
                    + ". Fix the exercise above that gives it, then run this cell again.")
    return CheckResult("gradient_check", len(settings), hidden,
                       still_checked=("stride and padding pairs", "stride 3 with padding 2"))

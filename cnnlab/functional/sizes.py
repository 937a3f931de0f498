"""Output sizes of convolutions and pooling (one spatial axis at a time)."""

from cnnlab._validation import check_int


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Number of positions a kernel takes along one axis.

    ``floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1``

    A dilated kernel spans ``dilation*(kernel_size - 1) + 1`` inputs; windows that do
    not fit entirely inside the padded input are dropped (floor). Raises ``ValueError``
    when the kernel span is larger than the padded input (no window fits).

    Lecture 2 (output size): a 3x3 kernel over 5 inputs with padding 1 and stride 2 gives 3.

    >>> conv_output_size(5, kernel_size=3, stride=2, padding=1)
    3
    >>> conv_output_size(7, kernel_size=3, dilation=2)       # a dilated 3-tap kernel spans 5
    3
    """
    size = check_int(size, "size", minimum=1)
    kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
    stride = check_int(stride, "stride", minimum=1)
    padding = check_int(padding, "padding", minimum=0)
    dilation = check_int(dilation, "dilation", minimum=1)
    span = dilation * (kernel_size - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        raise ValueError(
            f"kernel_size={kernel_size} with dilation={dilation} spans {span} inputs, larger than "
            f"the padded input size {padded} (size={size} + 2*padding={2 * padding})"
        )
    return (padded - span) // stride + 1


def conv_transpose_output_size(size, kernel_size, stride=1, padding=0, output_padding=0, dilation=1):
    """Output size of a transposed convolution along one axis (as ``torch.nn.ConvTranspose2d``).

    ``(size - 1)*stride - 2*padding + dilation*(kernel_size - 1) + output_padding + 1``

    ``output_padding`` picks one of the ``stride`` input sizes that a strided convolution
    maps to the same output size, so it must be smaller than ``stride`` or ``dilation``.
    """
    size = check_int(size, "size", minimum=1)
    kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
    stride = check_int(stride, "stride", minimum=1)
    padding = check_int(padding, "padding", minimum=0)
    output_padding = check_int(output_padding, "output_padding", minimum=0)
    dilation = check_int(dilation, "dilation", minimum=1)
    if output_padding >= max(stride, dilation):
        raise ValueError(
            f"output_padding must be smaller than stride or dilation, got output_padding={output_padding} "
            f"with stride={stride}, dilation={dilation}"
        )
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out < 1:
        raise ValueError(
            f"padding={padding} removes the whole output: (size-1)*stride - 2*padding + "
            f"dilation*(kernel_size-1) + output_padding + 1 = {out} < 1"
        )
    return out


def pool_output_size(size, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Number of windows a pooling kernel takes along one axis, as torch's pooling layers.

    ``stride`` defaults to ``kernel_size``. With ``ceil_mode=False`` (the default) this is
    :func:`conv_output_size`; with ``ceil_mode=True`` the division rounds up, but the last
    window must still start inside the input or the left padding. Raises ``ValueError``
    when the padding breaks :func:`check_pool_padding` or no window fits.

    >>> pool_output_size(28, 2)                      # lecture 4: 2x2 max pooling halves 28
    14
    >>> pool_output_size(5, 2, 2, ceil_mode=True)    # the last window hangs over the edge
    3
    """
    kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
    stride = kernel_size if stride is None else check_int(stride, "stride", minimum=1)
    padding = check_int(padding, "padding", minimum=0)
    check_pool_padding((kernel_size,), (padding,))
    if not ceil_mode:
        return conv_output_size(size, kernel_size, stride, padding, dilation)
    size = check_int(size, "size", minimum=1)
    dilation = check_int(dilation, "dilation", minimum=1)
    span = size + 2 * padding - dilation * (kernel_size - 1) - 1
    out = -(-span // stride) + 1  # ceil division
    if (out - 1) * stride >= size + padding:  # the last window would start in the right padding
        out -= 1
    if out < 1:
        raise ValueError(
            f"kernel_size={kernel_size} with dilation={dilation} does not fit the padded input size "
            f"{size + 2 * padding} (size={size} + 2*padding={2 * padding}), even with ceil_mode"
        )
    return out


def check_pool_padding(kernel, padding):
    """The pooling padding rule (torch's too): ``padding <= kernel_size // 2`` on every axis.

    ``kernel`` and ``padding`` are tuples of ints (one per axis). With more padding, a
    window could hold only padding and no input value. Returns ``padding``.
    """
    half = tuple(k // 2 for k in kernel)
    if any(p > h for p, h in zip(padding, half)):
        show = (lambda t: t[0]) if len(kernel) == 1 else tuple
        raise ValueError(
            f"padding {show(padding)} must be at most half of kernel_size {show(kernel)}, i.e. <= {show(half)}: "
            f"with more than half, a window could hold only padding and no input value "
            f"(pooling padding must be at most half of kernel_size, as in torch)"
        )
    return padding


def output_hw(in_hw, kernel_hw, stride, padding, dilation):
    """(H_out, W_out) of a 2-D window operation; every argument is an (h, w) pair of checked ints.

    The error message shows both axes when the (dilated) kernel does not fit the padded input.
    """
    spans = [d * (k - 1) + 1 for k, d in zip(kernel_hw, dilation)]
    padded = [n + 2 * p for n, p in zip(in_hw, padding)]
    if spans[0] > padded[0] or spans[1] > padded[1]:
        raise ValueError(
            f"kernel {tuple(kernel_hw)} with dilation {tuple(dilation)} spans {spans[0]}x{spans[1]}, "
            f"larger than the padded input {padded[0]}x{padded[1]} "
            f"(input {in_hw[0]}x{in_hw[1]}, padding {tuple(padding)})"
        )
    return tuple(conv_output_size(n, k, s, p, d) for n, k, s, p, d in zip(in_hw, kernel_hw, stride, padding, dilation))

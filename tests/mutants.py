"""Buggy student answers: each must lose points, most must be diagnosed.

The list grows with every mistake a class makes (issue 12): each new entry names the
phrase of its diagnosis. ``UNUSUAL`` lists correct answers written in unusual ways;
each must keep full marks.

``MUTANTS`` is a list of ``(exercise, diagnosis, source)``. ``source`` defines
the student's function exactly as an answer cell would; ``diagnosis`` is a
phrase the feedback must contain (None for answers that are only
shape-correct, where no specific mistake can be named).
"""

MUTANTS = [
    ("correlate1d", "flipped kernel", '''
def correlate1d(x, w, mode="valid"):
    w = np.asarray(w, float)[::-1]
    k = len(w)
    if mode == "full":
        x = np.pad(x, k - 1)
    elif mode == "same":
        x = np.pad(x, ((k - 1) // 2, k // 2))
    return np.array([np.sum(x[i:i + k] * w) for i in range(len(x) - k + 1)])
'''),
    ("correlate1d", "padding not applied", '''
def correlate1d(x, w, mode="valid"):
    n, k = len(x), len(w)
    return np.array([np.sum(x[i:i + k] * w) for i in range(n - k + 1)])
'''),
    ("correlate1d", "off-by-one output size", '''
def correlate1d(x, w, mode="valid"):
    x = np.asarray(x, float)
    k = len(w)
    if mode == "full":
        x = np.pad(x, k - 1)
    elif mode == "same":
        x = np.pad(x, ((k - 1) // 2, k // 2))
    return np.array([np.sum(x[i:i + k] * w) for i in range(len(x) - k)])
'''),
    ("convolve1d", "flipped kernel", '''
def convolve1d(x, w, mode="valid"):
    k = len(w)
    if mode == "full":
        x = np.pad(x, k - 1)
    elif mode == "same":
        x = np.pad(x, (k // 2, (k - 1) // 2))
    return np.array([np.sum(x[i:i + k] * w) for i in range(len(x) - k + 1)])
'''),
    ("zero_pad", "padding on one side only", '''
def zero_pad(x, padding):
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    out = np.zeros((x.shape[0] + ph, x.shape[1] + pw))
    out[:x.shape[0], :x.shape[1]] = x
    return out
'''),
    ("zero_pad", "height and width padding swapped", '''
def zero_pad(x, padding):
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    return np.pad(x, ((pw, pw), (ph, ph)))
'''),
    ("correlate2d", "flipped kernel", '''
def correlate2d(image, kernel, mode="valid"):
    kernel = kernel[::-1, ::-1]
    kh, kw = kernel.shape
    if mode == "full":
        image = np.pad(image, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    elif mode == "same":
        image = np.pad(image, (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)))
    h, w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    return np.array([[np.sum(image[i:i + kh, j:j + kw] * kernel) for j in range(w)] for i in range(h)])
'''),
    ("correlate2d", "height and width", '''
def correlate2d(image, kernel, mode="valid"):
    kh, kw = kernel.shape
    if mode == "full":
        image = np.pad(image, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
    elif mode == "same":
        image = np.pad(image, (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)))
    h, w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    return np.array([[np.sum(image[i:i + kh, j:j + kw] * kernel) for i in range(h)] for j in range(w)])
'''),
    ("conv_output_size", "forgot the +1", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride
'''),
    ("conv_output_size", "dilation ignored", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - kernel_size) // stride + 1
'''),
    ("conv_output_size", "must return an int", '''
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride + 1
'''),
    ("conv2d_single", "forgot the bias", '''
def conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    s, p, d = (stride, stride), (padding, padding), (dilation, dilation)
    if not np.isscalar(stride): s = stride
    if not np.isscalar(padding): p = padding
    if not np.isscalar(dilation): d = dilation
    x = np.pad(image, ((p[0], p[0]), (p[1], p[1])))
    kh, kw = kernel.shape
    h = (x.shape[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    w = (x.shape[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    out = np.zeros((h, w))
    for i in range(h):
        for j in range(w):
            for u in range(kh):
                for v in range(kw):
                    out[i, j] += x[i * s[0] + u * d[0], j * s[1] + v * d[1]] * kernel[u, v]
    return out
'''),
    ("conv2d_single", "stride ignored", '''
def conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    p = (padding, padding) if np.isscalar(padding) else padding
    d = (dilation, dilation) if np.isscalar(dilation) else dilation
    x = np.pad(image, ((p[0], p[0]), (p[1], p[1])))
    kh, kw = kernel.shape
    h = x.shape[0] - d[0] * (kh - 1)
    w = x.shape[1] - d[1] * (kw - 1)
    out = np.full((h, w), float(bias))
    for i in range(h):
        for j in range(w):
            for u in range(kh):
                for v in range(kw):
                    out[i, j] += x[i + u * d[0], j + v * d[1]] * kernel[u, v]
    return out
'''),
    ("conv2d_single", "padding not applied", '''
def conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    s = (stride, stride) if np.isscalar(stride) else stride
    d = (dilation, dilation) if np.isscalar(dilation) else dilation
    x = np.asarray(image, float)
    kh, kw = kernel.shape
    h = (x.shape[0] - d[0] * (kh - 1) - 1) // s[0] + 1
    w = (x.shape[1] - d[1] * (kw - 1) - 1) // s[1] + 1
    out = np.full((h, w), float(bias))
    for i in range(h):
        for j in range(w):
            for u in range(kh):
                for v in range(kw):
                    out[i, j] += x[i * s[0] + u * d[0], j * s[1] + v * d[1]] * kernel[u, v]
    return out
'''),
    ("conv2d_single", "dilation ignored", '''
def conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    x = np.pad(image, ((p[0], p[0]), (p[1], p[1])))
    kh, kw = kernel.shape
    h = (x.shape[0] - kh) // s[0] + 1
    w = (x.shape[1] - kw) // s[1] + 1
    out = np.full((h, w), float(bias))
    for i in range(h):
        for j in range(w):
            out[i, j] += np.sum(x[i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw] * kernel)
    return out
'''),
    ("conv2d", "flipped kernel", '''
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    d = (dilation, dilation) if np.isscalar(dilation) else dilation
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    weight = weight[:, :, ::-1, ::-1]
    n, c_in, hp, wp = x.shape
    c_out, _, kh, kw = weight.shape
    h = (hp - d[0] * (kh - 1) - 1) // s[0] + 1
    w = (wp - d[1] * (kw - 1) - 1) // s[1] + 1
    out = np.zeros((n, c_out, h, w))
    for i in range(h):
        for j in range(w):
            win = x[:, :, i * s[0]:i * s[0] + d[0] * (kh - 1) + 1:d[0], j * s[1]:j * s[1] + d[1] * (kw - 1) + 1:d[1]]
            out[:, :, i, j] = np.einsum("nckl,ockl->no", win, weight)
    if bias is not None:
        out += bias[None, :, None, None]
    return out
'''),
    ("conv2d", "bias added once per input channel", '''
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    d = (dilation, dilation) if np.isscalar(dilation) else dilation
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    n, c_in, hp, wp = x.shape
    c_out, _, kh, kw = weight.shape
    h = (hp - d[0] * (kh - 1) - 1) // s[0] + 1
    w = (wp - d[1] * (kw - 1) - 1) // s[1] + 1
    out = np.zeros((n, c_out, h, w))
    for b in range(n):
        for o in range(c_out):
            for c in range(c_in):
                for i in range(h):
                    for j in range(w):
                        win = x[b, c, i * s[0]:i * s[0] + d[0] * (kh - 1) + 1:d[0], j * s[1]:j * s[1] + d[1] * (kw - 1) + 1:d[1]]
                        out[b, o, i, j] += np.sum(win * weight[o, c]) + (0 if bias is None else bias[o])
    return out
'''),
    ("conv2d", None, '''
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    s = stride if np.isscalar(stride) else stride[0]
    p = padding if np.isscalar(padding) else padding[0]
    d = dilation if np.isscalar(dilation) else dilation[0]
    size = lambda n, k, s_, p_, d_: (n + 2 * p_ - d_ * (k - 1) - 1) // s_ + 1
    sh, ph, dh = ((stride, padding, dilation) if np.isscalar(stride) and np.isscalar(padding) and np.isscalar(dilation)
                  else (s, p, d))
    st = (stride, stride) if np.isscalar(stride) else stride
    pt = (padding, padding) if np.isscalar(padding) else padding
    dt = (dilation, dilation) if np.isscalar(dilation) else dilation
    h = size(x.shape[2], weight.shape[2], st[0], pt[0], dt[0])
    w = size(x.shape[3], weight.shape[3], st[1], pt[1], dt[1])
    return np.zeros((x.shape[0], weight.shape[0], h, w))
'''),
    ("max_pool2d", "stride ignored", '''
def max_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    n, c, h, w = x.shape
    out = np.zeros((n, c, h - kh + 1, w - kw + 1))
    for i in range(h - kh + 1):
        for j in range(w - kw + 1):
            out[:, :, i, j] = x[:, :, i:i + kh, j:j + kw].max(axis=(2, 3))
    return out
'''),
    ("max_pool2d", "mean instead of max", '''
def max_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].mean(axis=(2, 3))
    return out
'''),
    ("avg_pool2d", "sum instead of mean", '''
def avg_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].sum(axis=(2, 3))
    return out
'''),
    ("avg_pool2d", None, '''
def avg_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    return np.random.default_rng(0).normal(size=(n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
'''),
    ("max_pool2d_backward", "`=` instead of `+=`", '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    dx = np.zeros_like(x, dtype=float)
    n, c, ho, wo = dout.shape
    for b in range(n):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    win = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    u, v = np.unravel_index(np.argmax(win), win.shape)
                    dx[b, ch, i * sh + u, j * sw + v] = dout[b, ch, i, j]
    return dx
'''),
    ("max_pool2d_backward", "gradient spread over the whole window", '''
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    dx = np.zeros_like(x, dtype=float)
    n, c, ho, wo = dout.shape
    for i in range(ho):
        for j in range(wo):
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += dout[:, :, i:i + 1, j:j + 1]
    return dx
'''),
    ("conv2d_backward", "`=` instead of `+=`", '''
def conv2d_backward(dout, x, weight, stride=1, padding=0):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    n, c_out, ho, wo = dout.shape
    kh, kw = weight.shape[2:]
    dxp = np.zeros_like(xp, dtype=float)
    dw = np.zeros_like(weight, dtype=float)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                g = dout[b, :, i, j]
                win = xp[b, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw]
                dxp[b, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw] = np.einsum("o,oikl->ikl", g, weight)
                dw += np.einsum("o,ikl->oikl", g, win)
    dx = dxp[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))
'''),
    ("conv2d_backward", "sum dout over the batch and both spatial axes", '''
def conv2d_backward(dout, x, weight, stride=1, padding=0):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    n, c_out, ho, wo = dout.shape
    kh, kw = weight.shape[2:]
    dxp = np.zeros_like(xp, dtype=float)
    dw = np.zeros_like(weight, dtype=float)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                g = dout[b, :, i, j]
                win = xp[b, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw]
                dxp[b, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw] += np.einsum("o,oikl->ikl", g, weight)
                dw += np.einsum("o,ikl->oikl", g, win)
    dx = dxp[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]]
    return dx, dw, dout.sum(axis=0)
'''),
    ("conv2d_backward", "flipped kernel gradient", '''
def conv2d_backward(dout, x, weight, stride=1, padding=0):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    n, c_out, ho, wo = dout.shape
    kh, kw = weight.shape[2:]
    dxp = np.zeros_like(xp, dtype=float)
    dw = np.zeros_like(weight, dtype=float)
    for b in range(n):
        for i in range(ho):
            for j in range(wo):
                g = dout[b, :, i, j]
                win = xp[b, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw]
                dxp[b, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw] += np.einsum("o,oikl->ikl", g, weight)
                dw += np.einsum("o,ikl->oikl", g, win)
    dx = dxp[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]]
    return dx, dw[..., ::-1, ::-1], dout.sum(axis=(0, 2, 3))
'''),
    ("numerical_gradient", "forward difference", '''
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    fx = f(x)
    for index in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += eps
        grad[index] = (f(shifted) - fx) / eps
    return grad
'''),
    ("numerical_gradient", None, '''
def numerical_gradient(f, x, eps=1e-5):
    return np.zeros_like(x, dtype=float)
'''),
    ("conv2d", "ready-made implementation", '''
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    import torch
    out = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(weight),
                                     None if bias is None else torch.tensor(bias), stride, padding, dilation)
    return out.numpy()
'''),
    ("correlate1d", "ready-made implementation", '''
def correlate1d(x, w, mode="valid"):
    return np.correlate(x, w, mode)
'''),
    ("conv_params", "forgot the bias", '''
def conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return c_out * (c_in // groups) * kh * kw
'''),
    ("conv_params", "groups ignored", '''
def conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return c_out * c_in * kh * kw + (c_out if bias else 0)
'''),
    ("linear_params", "swapped in/out features", '''
def linear_params(in_features, out_features, bias=True):
    return in_features * out_features + (in_features if bias else 0)
'''),
    ("conv_macs", "counted the bias", '''
def conv_macs(c_in, c_out, kernel_size, output_size, groups=1):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    oh, ow = (output_size, output_size) if np.isscalar(output_size) else output_size
    return oh * ow * c_out * ((c_in // groups) * kh * kw + 1)
'''),
    ("build_numpy_cnn", "forgot Flatten", '''
def build_numpy_cnn(seed=0):
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1, seed=seed, dtype=np.float32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, kernel_size=3, padding=1, seed=seed + 1, dtype=np.float32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Linear(16 * 7 * 7, 10, seed=seed + 2, dtype=np.float32),
    )
'''),
    ("build_torch_cnn", "softmax", '''
def build_torch_cnn():
    return tnn.Sequential(
        tnn.Conv2d(1, 16, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 7 * 7, 10), tnn.Softmax(dim=1),
    )
'''),
    ("confusion_counts", "rows and columns swapped", '''
def confusion_counts(y_true, y_pred, num_classes=10):
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        counts[p, t] += 1
    return counts
'''),

    # ---- issue 12: what a class of students got through or got the wrong explanation for ----
    ("correlate1d", "integer truncation", """
def correlate1d(x, w, mode="valid"):
    if len(w) > len(x):
        return correlate1d(w, x, mode)[::-1]
    k = len(w)
    left, right = {"valid": (0, 0), "same": (k // 2, (k - 1) // 2), "full": (k - 1, k - 1)}[mode]
    xp = np.pad(x, (left, right))
    out = np.zeros(len(xp) - k + 1, dtype=np.asarray(x).dtype)
    for i in range(len(out)):
        out[i] = np.sum(xp[i:i + k] * w)
    return out
"""),
    ("correlate1d", "extra zero on the wrong side", """
def correlate1d(x, w, mode="valid"):
    x, w = np.asarray(x, float), np.asarray(w, float)
    if len(w) > len(x):
        return correlate1d(w, x, mode)[::-1]
    k = len(w)
    left, right = {"valid": (0, 0), "same": ((k - 1) // 2, k // 2), "full": (k - 1, k - 1)}[mode]
    xp = np.pad(x, (left, right))
    return np.array([np.sum(xp[i:i + k] * w) for i in range(len(xp) - k + 1)])
"""),
    ("correlate1d", "kernel longer than the signal not swapped", """
def correlate1d(x, w, mode="valid"):
    x, w = np.asarray(x, float), np.asarray(w, float)
    k = len(w)
    left, right = {"valid": (0, 0), "same": (k // 2, (k - 1) // 2), "full": (k - 1, k - 1)}[mode]
    xp = np.pad(x, (left, right))
    return np.array([np.sum(xp[i:i + k] * w) for i in range(max(len(xp) - k + 1, 0))])
"""),
    ("convolve1d", "flip without the swap for K > N", """
def convolve1d(x, w, mode="valid"):
    return correlate1d(x, np.asarray(w, float)[::-1], mode)
"""),
    ("output_length", "forgot the +1", """
def output_length(n, k, mode):
    return {"valid": n - k, "same": n, "full": n + k - 1}[mode]
"""),
    ("output_length", "must return an int", """
def output_length(n, k, mode):
    return float({"valid": n - k + 1, "same": n, "full": n + k - 1}[mode])
"""),
    ("w_diff", "sign reversed", """
w_diff = np.array([1.0, -1.0])
"""),
    ("zero_pad", "return floats", """
def zero_pad(x, padding):
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    out = np.zeros((x.shape[0] + 2 * ph, x.shape[1] + 2 * pw), dtype=x.dtype)
    out[ph:ph + x.shape[0], pw:pw + x.shape[1]] = x
    return out
"""),
    ("zero_pad", "np.pad(x, (ph, pw))", """
def zero_pad(x, padding):
    return np.pad(np.asarray(x, float), padding)
"""),
    ("correlate2d", "integer truncation", """
def correlate2d(image, kernel, mode="valid"):
    kh, kw = kernel.shape
    pads = {"valid": ((0, 0), (0, 0)), "same": (((kh - 1) // 2, kh // 2), ((kw - 1) // 2, kw // 2)),
            "full": ((kh - 1, kh - 1), (kw - 1, kw - 1))}[mode]
    p = np.pad(image, pads)
    out = np.zeros((p.shape[0] - kh + 1, p.shape[1] - kw + 1), dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(p[i:i + kh, j:j + kw] * kernel)
    return out
"""),
    ("correlate2d", "extra zero on the wrong side", """
def correlate2d(image, kernel, mode="valid"):
    image, kernel = np.asarray(image, float), np.asarray(kernel, float)
    kh, kw = kernel.shape
    pads = {"valid": ((0, 0), (0, 0)), "same": ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2)),
            "full": ((kh - 1, kh - 1), (kw - 1, kw - 1))}[mode]
    p = np.pad(image, pads)
    return np.array([[np.sum(p[i:i + kh, j:j + kw] * kernel) for j in range(p.shape[1] - kw + 1)]
                     for i in range(p.shape[0] - kh + 1)])
"""),
    ("conv_output_size", "round instead of floor", """
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return round((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
"""),
    ("conv2d_single", "integer truncation", """
def conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    kh, kw = kernel.shape
    x = np.pad(image, ((ph, ph), (pw, pw)))
    out = np.zeros(((x.shape[0] - dh * (kh - 1) - 1) // sh + 1, (x.shape[1] - dw * (kw - 1) - 1) // sw + 1),
                   dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            win = x[i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[i, j] = np.sum(win * kernel) + bias
    return out
"""),
    ("conv2d_single", "stride pair order swapped", """
def conv2d_single(image, kernel, bias=0.0, stride=1, padding=0, dilation=1):
    sw, sh = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    image = np.asarray(image, float)
    kh, kw = kernel.shape
    x = np.pad(image, ((ph, ph), (pw, pw)))
    out = np.zeros(((x.shape[0] - dh * (kh - 1) - 1) // sh + 1, (x.shape[1] - dw * (kw - 1) - 1) // sw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            win = x[i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[i, j] = np.sum(win * kernel) + bias
    return out
"""),
    ("same_padding", "padding on one side only", """
def same_padding(kernel_size):
    return kernel_size - 1
"""),
    ("same_padding", "must return an int", """
def same_padding(kernel_size):
    return (kernel_size - 1) / 2
"""),
    ("left_difference", "sign reversed", """
left_difference = np.array([[1.0, -1.0]])
"""),
    ("left_difference", "shape (1, 2)", """
left_difference = np.array([-1.0, 1.0])
"""),
    ("conv2d", "channels last", """
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c_in, hp, wp = xp.shape
    c_out, _, kh, kw = weight.shape
    h, w = (hp - dh * (kh - 1) - 1) // sh + 1, (wp - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, h, w, c_out))
    for i in range(h):
        for j in range(w):
            win = xp[:, :, i * sh:i * sh + dh * (kh - 1) + 1:dh, j * sw:j * sw + dw * (kw - 1) + 1:dw]
            out[:, i, j, :] = np.tensordot(win, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias
    return out
"""),
    ("conv2d", "only the first number of the stride pair used", """
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    s = stride if np.isscalar(stride) else stride[0]
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, c_in, hp, wp = xp.shape
    c_out, _, kh, kw = weight.shape
    h, w = (hp - dh * (kh - 1) - 1) // s + 1, (wp - dw * (kw - 1) - 1) // s + 1
    out = np.zeros((n, c_out, h, w))
    for i in range(h):
        for j in range(w):
            win = xp[:, :, i * s:i * s + dh * (kh - 1) + 1:dh, j * s:j * s + dw * (kw - 1) + 1:dw]
            out[:, :, i, j] = np.tensordot(win, weight, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias[None, :, None, None]
    return out
"""),
    ("count_conv_params", "forgot the bias", """
def count_conv_params(c_in, c_out, kernel_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return c_out * c_in * kh * kw
"""),
    ("count_conv_params", "must return an int", """
def count_conv_params(c_in, c_out, kernel_size, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return float(c_out * c_in * kh * kw + (c_out if bias else 0))
"""),
    ("max_pool2d", "running maximum started at 0", """
def max_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            for u in range(kh):
                for v in range(kw):
                    out[:, :, i, j] = np.maximum(out[:, :, i, j], x[:, :, i * sh + u, j * sw + v])
    return out
"""),
    ("max_pool2d", "kernel pair order swapped", """
def max_pool2d(x, kernel_size, stride=None):
    kw, kh = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
    return out
"""),
    ("max_pool2d", "ceil instead of floor", """
def max_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    ho, wo = -(-(h - kh) // sh) + 1, -(-(w - kw) // sw) + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
    return out
"""),
    ("avg_pool2d", "integer truncation", """
def avg_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    out = np.zeros((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1), dtype=x.dtype)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].mean(axis=(2, 3))
    return out
"""),
    ("avg_pool2d", "must return a numpy array", """
def avg_pool2d(x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, h, w = x.shape
    return [[[[float(x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw].mean()) for j in range((w - kw) // sw + 1)]
              for i in range((h - kh) // sh + 1)] for ch in range(c)] for b in range(n)]
"""),
    ("numerical_gradient", "x not restored", """
def numerical_gradient(f, x, eps=1e-5):
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f(x)
        x[index] = old - eps
        f_minus = f(x)
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad
"""),
    ("numerical_gradient", "integer truncation", """
def numerical_gradient(f, x, eps=1e-5):
    x = x.copy()
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f(x)
        x[index] = old - eps
        f_minus = f(x)
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad
"""),
    ("max_pool2d_backward", "fancy-index += with repeated indices", """
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    n, c, ho, wo = dout.shape
    dx = np.zeros(x.shape)
    rows, cols, nn_, cc = [], [], [], []
    for b in range(n):
        for ch in range(c):
            for i in range(ho):
                for j in range(wo):
                    win = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    u, v = np.unravel_index(np.argmax(win), win.shape)
                    nn_.append(b); cc.append(ch); rows.append(i * sh + u); cols.append(j * sw + v)
    dx[nn_, cc, rows, cols] += dout.ravel()
    return dx
"""),
    ("conv2d_backward", "kernel the wrong way round", """
def conv2d_backward(dout, x, weight, stride=1, padding=0):
    s = (stride, stride) if np.isscalar(stride) else stride
    p = (padding, padding) if np.isscalar(padding) else padding
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    n, c_out, ho, wo = dout.shape
    kh, kw = weight.shape[2:]
    wf = weight[:, :, ::-1, ::-1]
    dxp = np.zeros(xp.shape)
    dw = np.zeros(weight.shape)
    for i in range(ho):
        for j in range(wo):
            rows, cols = slice(i * s[0], i * s[0] + kh), slice(j * s[1], j * s[1] + kw)
            g = dout[:, :, i, j]
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(g, wf, axes=([1], [0]))
    return dxp[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]], dw, dout.sum(axis=(0, 2, 3))
"""),
    ("max_pool2d_backward", "gradient sent to every tied maximum", """
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    dx = np.zeros(x.shape)
    n, c, ho, wo = dout.shape
    for i in range(ho):
        for j in range(wo):
            win = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            mask = win == win.max(axis=(2, 3), keepdims=True)
            dx[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += mask * dout[:, :, i:i + 1, j:j + 1]
    return dx
"""),
    ("conv_params", "must return an int", """
def conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return c_out * (c_in / groups) * kh * kw + (c_out if bias else 0)
"""),

    # ---- notebook 06 (trusted-grading helper): return types, a missing ReLU, in_features, a library model ----
    ("confusion_counts", "numpy array of integers", """
def confusion_counts(y_true, y_pred, num_classes=10):
    counts = np.zeros((num_classes, num_classes))
    for t, p in zip(y_true, y_pred):
        counts[t, p] += 1
    return counts
"""),
    ("confusion_counts", "numpy array of integers", """
def confusion_counts(y_true, y_pred, num_classes=10):
    counts = [[0] * num_classes for _ in range(num_classes)]
    for t, p in zip(y_true, y_pred):
        counts[t][p] += 1
    return counts
"""),
    ("build_numpy_cnn", "missing ReLU", """
def build_numpy_cnn(seed=0):
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1, seed=seed, dtype=np.float32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, kernel_size=3, padding=1, seed=seed + 1, dtype=np.float32),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 7 * 7, 10, seed=seed + 2, dtype=np.float32),
    )
"""),
    ("build_torch_cnn", "in_features is wrong", """
def build_torch_cnn():
    return tnn.Sequential(
        tnn.Conv2d(1, 16, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(16, 32, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(32 * 14 * 14, 10),
    )
"""),
    ("build_torch_cnn", "fast_mnist_cnn", """
def build_torch_cnn():
    from cnnlab.models import fast_mnist_cnn
    return fast_mnist_cnn()
"""),
    # ---- end of notebook 06 block ----
]

#: Correct answers written in unusual ways: each keeps full marks, visible and hidden.
UNUSUAL = [
    ("correlate1d", """
def correlate1d(x, w, mode="valid"):
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    if len(w) > len(x):
        return correlate1d(w, x, mode)[::-1]
    k = len(w)
    left, right = {"valid": (0, 0), "same": (k // 2, (k - 1) // 2), "full": (k - 1, k - 1)}[mode]
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(x, (left, right)), k)
    return windows @ w
"""),
    ("convolve1d", """
def convolve1d(x, w, mode="valid"):
    x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
    if len(w) > len(x):
        x, w = w, x
    k = len(w)
    left, right = {"valid": (0, 0), "same": (k // 2, (k - 1) // 2), "full": (k - 1, k - 1)}[mode]
    xp = np.pad(x, (left, right))
    out = []
    for i in range(len(xp) - k + 1):
        total = 0.0
        for u in range(k):
            total += xp[i + u] * w[k - 1 - u]
        out.append(total)
    return np.array(out)
"""),
    ("output_length", """
def output_length(n, k, mode):
    if mode == "valid":
        return np.int64(n - k + 1)
    return n if mode == "same" else n + k - 1
"""),
    ("w_diff", """
w_diff = [-1, 1]
"""),
    ("zero_pad", """
def zero_pad(x, padding):
    ph, pw = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
    return np.pad(x.astype(np.float32), ((ph, ph), (pw, pw)))
"""),
    ("conv_output_size", """
import math
def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return math.floor((size + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1
"""),
    ("same_padding", """
def same_padding(kernel_size):
    return np.int64(kernel_size // 2)
"""),
    ("left_difference", """
left_difference = np.array([[-1, 1]])
"""),
    ("conv2d", """
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    kh, kw = weight.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]
    out = np.einsum("nchwij,ocij->nohw", win, weight)
    return out if bias is None else out + np.asarray(bias)[None, :, None, None]
"""),
    ("count_conv_params", """
def count_conv_params(c_in, c_out, kernel_size, bias=True):
    kh, kw = np.broadcast_to(kernel_size, (2,))
    return np.int64(c_out) * c_in * kh * kw + (c_out if bias else 0)
"""),
    ("max_pool2d", """
def max_pool2d(x, kernel_size, stride=None):
    kh, kw = np.broadcast_to(kernel_size, (2,))
    sh, sw = (kh, kw) if stride is None else np.broadcast_to(stride, (2,))
    win = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return win.max(axis=(4, 5))
"""),
    ("avg_pool2d", """
def avg_pool2d(x, kernel_size, stride=None):
    kh, kw = np.broadcast_to(kernel_size, (2,))
    sh, sw = (kh, kw) if stride is None else np.broadcast_to(stride, (2,))
    n, c, h, w = x.shape
    out = np.empty((n, c, (h - kh) // sh + 1, (w - kw) // sw + 1))
    for idx in np.ndindex(out.shape):
        b, ch, i, j = idx
        out[idx] = np.mean(x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out
"""),
    ("numerical_gradient", """
def numerical_gradient(f, x, eps=1e-5):
    x = np.array(x, dtype=float)
    flat = x.reshape(-1)
    grad = np.empty_like(flat)
    for k in range(flat.size):
        step = np.zeros_like(flat)
        step[k] = eps
        grad[k] = (f((flat + step).reshape(x.shape)) - f((flat - step).reshape(x.shape))) / (2 * eps)
    return grad.reshape(x.shape)
"""),
    ("max_pool2d_backward", """
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    kh, kw = np.broadcast_to(kernel_size, (2,))
    sh, sw = (kh, kw) if stride is None else np.broadcast_to(stride, (2,))
    dx = np.zeros(x.shape)
    for b, ch, i, j in np.ndindex(dout.shape):
        win = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
        u, v = divmod(int(np.argmax(win)), win.shape[1])
        np.add.at(dx, (b, ch, i * sh + u, j * sw + v), dout[b, ch, i, j])
    return dx
"""),
    ("max_pool2d_backward", """
def max_pool2d_backward(dout, x, kernel_size, stride=None):
    # ties go to the LAST maximum of the window: as valid a choice as np.argmax's first one
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    sh, sw = (kh, kw) if stride is None else ((stride, stride) if np.isscalar(stride) else stride)
    dx = np.zeros(x.shape)
    for b, ch, i, j in np.ndindex(dout.shape):
        win = x[b, ch, i * sh:i * sh + kh, j * sw:j * sw + kw]
        last = win.size - 1 - int(np.argmax(win.ravel()[::-1]))
        u, v = np.unravel_index(last, win.shape)
        dx[b, ch, i * sh + u, j * sw + v] += dout[b, ch, i, j]
    return dx
"""),
    ("conv_params", """
def conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    kh, kw = np.broadcast_to(kernel_size, (2,))
    return np.int64(c_out * (c_in // groups) * kh * kw + bias * c_out)
"""),

    # ---- notebook 06 (trusted-grading helper) ----
    ("build_torch_cnn", """
class MnistNet(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 16, 5, padding="same")
        self.conv2 = tnn.Conv2d(16, 32, 5, padding=2)
        self.fc = tnn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = tnn.functional.max_pool2d(tnn.functional.relu(self.conv1(x)), 2)
        x = tnn.functional.max_pool2d(self.conv2(x).relu(), kernel_size=2)
        return self.fc(x.view(x.size(0), -1))

def build_torch_cnn():
    return MnistNet()
"""),
    ("build_numpy_cnn", """
def build_numpy_cnn(seed=0):
    layers = [nn.Conv2d(1, 8, (3, 3), padding=(1, 1), seed=3 * seed, dtype=np.float32), nn.ReLU(),
              nn.MaxPool2d(2, stride=2)]
    layers += [nn.Conv2d(8, 16, 3, padding=1, seed=3 * seed + 1, dtype=np.float32), nn.ReLU(), nn.MaxPool2d((2, 2))]
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(784, 10, seed=3 * seed + 2, dtype=np.float32))
"""),
    ("confusion_counts", """
def confusion_counts(y_true, y_pred, num_classes=10):
    flat = np.bincount(np.asarray(y_true) * num_classes + np.asarray(y_pred), minlength=num_classes ** 2)
    return flat.reshape(num_classes, num_classes).astype(np.int32)
"""),
]

"""Buggy student answers: each must lose points, most must be diagnosed.

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
    ("conv2d", "calls torch", '''
def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1):
    import torch
    out = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(weight),
                                     None if bias is None else torch.tensor(bias), stride, padding, dilation)
    return out.numpy()
'''),
    ("correlate1d", "calls numpy", '''
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
]

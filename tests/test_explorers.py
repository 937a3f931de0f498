"""The explorers for your own image, your own network and your trained network (issue 14).

State logic is checked without a browser, against PyTorch as the oracle (convolution, transposed
convolution, autograd gradients) and against brute force (receptive fields, top activations).
"""

from html.parser import HTMLParser

import numpy as np
import pytest
import torch

from cnnlab import nn
from cnnlab.widgets.filter import (
    CONV,
    TRANSPOSED,
    FilterExplorerState,
    filter_explorer,
    render_filter_html,
)
from cnnlab.widgets.picture import MIN_BOX_PIXELS, box_pixels, display_scale
from cnnlab.widgets.receptive import (
    ReceptiveFieldState,
    clip_box,
    layer_specs,
    network_gradient,
    nonzero_box,
    receptive_field,
    receptive_field_explorer,
    structural_gradient,
)
from cnnlab.widgets.trained import (
    TrainedNetState,
    drawing_to_input,
    render_trained_html,
    trained_net_explorer,
)


class Tags(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, text):
        super().__init__()
        self.tags = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def with_class(self, css):
        return [a for _, a in self.tags if css in (a.get("class") or "").split()]


def torch_conv(image, kernel, stride, padding):
    return torch.nn.functional.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None],
                                      stride=stride, padding=padding)[0, 0].numpy()


def torch_conv_transpose(image, kernel, stride, padding):
    return torch.nn.functional.conv_transpose2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None],
                                                stride=stride, padding=padding)[0, 0].numpy()


# ----------------------------------------------------------------------------- filter explorer

@pytest.mark.parametrize("shape, kshape, stride, padding", [
    ((9, 11), (3, 2), 2, 1), ((28, 28), (5, 5), 1, 2), ((40, 17), (1, 4), 3, 0), ((6, 6), (6, 6), 1, 0)])
def test_filter_convolution_matches_torch_and_its_window(shape, kshape, stride, padding):
    rng = np.random.default_rng(sum(shape))
    image, kernel = rng.normal(size=shape), rng.normal(size=kshape)
    state = FilterExplorerState(image, kernel, stride, padding)
    want = torch_conv(image, kernel, stride, padding)
    assert state.output_shape == want.shape
    assert np.allclose(state.output, want)
    for row in range(want.shape[0]):
        for col in range(want.shape[1]):
            state.update(row=row, col=col)
            assert np.isclose(np.sum(state.window_values() * kernel), want[row, col])
            r0, c0, r1, c1 = state.block()
            assert (r0, c0) == (row * stride - padding, col * stride - padding)
            assert (r1 - r0 + 1, c1 - c0 + 1) == kshape


@pytest.mark.parametrize("shape, kshape, stride, padding", [((3, 3), (3, 3), 2, 0), ((5, 4), (3, 2), 2, 1),
                                                            ((4, 6), (4, 4), 3, 2)])
def test_filter_transposed_matches_torch_and_spreads_each_value_as_a_stamp(shape, kshape, stride, padding):
    rng = np.random.default_rng(7)
    image = rng.normal(size=shape)
    kernel = rng.uniform(0.5, 1.5, size=kshape) * rng.choice([-1, 1], size=kshape)   # no zero taps
    state = FilterExplorerState(image, kernel, stride, padding, TRANSPOSED)
    want = torch_conv_transpose(image, kernel, stride, padding)
    assert state.output_shape == want.shape == tuple(stride * (n - 1) + k - 2 * padding
                                                     for n, k in zip(shape, kshape))
    assert np.allclose(state.output, want)
    for row in range(shape[0]):
        for col in range(shape[1]):
            state.update(row=row, col=col)
            alone = np.zeros(shape)
            alone[row, col] = image[row, col]
            contribution = torch_conv_transpose(alone, kernel, stride, padding)
            spread = state.spread()
            assert set(spread) == {tuple(c) for c in np.argwhere(contribution != 0)}
            assert all(np.isclose(contribution[cell], value) for cell, value in spread.items())


def test_filter_transposed_is_the_adjoint_of_the_convolution():
    rng = np.random.default_rng(3)
    x, kernel = rng.normal(size=(7, 9)), rng.normal(size=(3, 3))
    forward = FilterExplorerState(x, kernel, stride=2, padding=1)
    y = rng.normal(size=forward.output_shape)
    back = FilterExplorerState(y, kernel, stride=2, padding=1, mode=TRANSPOSED)
    assert forward.output_shape == (4, 5) and back.output_shape == x.shape
    assert np.isclose(np.sum(forward.output * y), np.sum(x * back.output))      # <conv(x), y> = <x, conv^T(y)>


def test_filter_errors_name_the_problem():
    assert "larger than the padded input" in FilterExplorerState(np.ones((3, 3)), np.ones((5, 5))).error
    state = FilterExplorerState(np.ones((2, 2)), np.ones((1, 1)), padding=3, mode=TRANSPOSED)
    assert state.output is None and "crops away" in state.error
    assert "mode must be" in FilterExplorerState(np.ones((3, 3)), np.ones((1, 1)), mode="flip").error
    with pytest.raises(TypeError, match="no field"):
        FilterExplorerState(np.ones((3, 3)), np.ones((1, 1))).update(strides=2)
    with pytest.raises(ValueError, match="image must be 2-D"):
        FilterExplorerState(np.ones((1, 3, 3)), np.ones((1, 1)))


def test_filter_html_labels_input_and_output_and_keeps_the_window_legible_on_a_big_image():
    rng = np.random.default_rng(0)
    state = FilterExplorerState(rng.normal(size=(300, 500)), np.ones((3, 3)), stride=2, row=40, col=100)
    page = Tags(render_filter_html(state))
    (inp,), (out,) = page.with_class("cnnlab-filter-input"), page.with_class("cnnlab-filter-output")
    assert inp["alt"].startswith("Input X (300×500") and out["alt"].startswith("Output Z")
    assert inp["data-window-box"] == ",".join(map(str, state.block())) == "80,200,82,202"
    scale = float(inp["data-scale"])
    assert scale == pytest.approx(display_scale((300, 500))) and scale < 1
    x0, y0, x1, y1 = box_pixels(state.block(), scale, (round(500 * scale), round(300 * scale)))
    assert x1 - x0 >= MIN_BOX_PIXELS - 1 and y1 - y0 >= MIN_BOX_PIXELS - 1
    values = page.with_class("cnnlab-window-values")
    assert len(values) == 1


def test_filter_widget_kernel_grid_size_preset_and_mode():
    explorer = filter_explorer(np.arange(30.0).reshape(5, 6), kernel=np.array([[1.0, 0], [0, -1]]))
    assert explorer.state.output_shape == (4, 5)
    explorer.grid.boxes[0][1].value = 2.0                       # typing a number
    assert np.array_equal(explorer.state.kernel, [[1, 2], [0, -1]])
    explorer.controls["KH"].value = 3                           # a bigger kernel keeps the typed numbers
    assert np.array_equal(explorer.state.kernel, [[1, 2], [0, -1], [0, 0]])
    explorer.controls["preset"].value = "sharpen (−1, 9)"
    assert explorer.state.kernel[1, 1] == 9 and explorer.state.kernel.sum() == 1
    explorer.controls["mode"].value = TRANSPOSED
    assert explorer.state.output_shape == (7, 8) and explorer.controls["row"].description == "input row"
    assert explorer.controls["row"].max == 4 and explorer.controls["col"].max == 5
    explorer.controls["col"].value = 5
    assert explorer.state.col == 5 and "cnnlab-spread-values" in explorer.view.value
    explorer.controls["mode"].value = CONV
    assert explorer.state.col <= explorer.state.output_shape[1] - 1


# ----------------------------------------------------------------------------- receptive field

def numpy_net():
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(3, 4, 3, stride=2, seed=1), nn.ReLU(), nn.AvgPool2d(2, 1),
                         nn.Flatten(), nn.Linear(4 * 4 * 3, 10, seed=2))   # for 23x21 inputs


def torch_net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(3, 2, 1),
                               torch.nn.Conv2d(4, 4, (3, 1), stride=(1, 2), padding=(1, 0)), torch.nn.BatchNorm2d(4),
                               torch.nn.ReLU(), torch.nn.Flatten())


@pytest.mark.parametrize("make, channels, size", [(numpy_net, 1, (23, 21)), (torch_net, 2, (20, 17))])
def test_receptive_field_formula_equals_the_reach_of_a_positive_network(make, channels, size):
    specs = layer_specs(make())
    from cnnlab.widgets.receptive import output_sizes
    sizes = output_sizes(specs, size)
    for layer in range(len(specs)):
        h, w = sizes[layer + 1]
        for unit in {(0, 0), (h // 2, w // 2), (h - 1, w - 1), (0, w - 1)}:
            grad = structural_gradient(specs, size, layer, unit)
            field = clip_box(receptive_field(specs, layer, unit), size)
            assert nonzero_box(grad) == field, (specs[layer].name, unit)


def test_receptive_field_known_sizes():
    three_convs = nn.Sequential(*[nn.Conv2d(1, 1, 3, seed=i) for i in range(3)])
    specs = layer_specs(three_convs)
    assert [receptive_field(specs, i, (0, 0)) for i in range(3)] == [(0, 0, 2, 2), (0, 0, 4, 4), (0, 0, 6, 6)]
    # conv 3 + pool 2 + conv 3: R = 3, 4, 4 + 2*2 = 8 (as in the MNIST network's second block)
    specs = layer_specs(nn.Sequential(nn.Conv2d(1, 1, 3, seed=0), nn.MaxPool2d(2), nn.Conv2d(1, 1, 3, seed=1)))
    assert receptive_field(specs, 2, (0, 0)) == (0, 0, 7, 7) and receptive_field(specs, 2, (1, 2)) == (2, 4, 9, 11)
    # a dilated 3x3 kernel spans 5 but has gaps: the reach matches, the inside does not fill
    specs = layer_specs(nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2, seed=0)))
    grad = structural_gradient(specs, (9, 9), 0, (1, 1))
    assert receptive_field(specs, 0, (1, 1)) == nonzero_box(grad) == (1, 1, 5, 5) and np.count_nonzero(grad) == 9


def test_network_gradient_of_numpy_layers_equals_torch_autograd_and_stays_in_the_field():
    net = numpy_net()
    twin = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(), torch.nn.AvgPool2d(2, 1)).double()
    with torch.no_grad():
        for ours, theirs in ((net[0], twin[0]), (net[3], twin[3])):
            theirs.weight.copy_(torch.tensor(ours.params["weight"]))
            theirs.bias.copy_(torch.tensor(ours.params["bias"]))
    x = np.random.default_rng(1).normal(size=(1, 1, 23, 21))
    for layer, unit in ((0, (5, 7)), (2, (3, 2)), (5, (2, 1)), (5, (0, 2))):
        ours = network_gradient(net, x, layer, 1, unit)
        theirs = network_gradient(twin, x, layer, 1, unit)
        assert np.allclose(ours, theirs)
        state = ReceptiveFieldState(net, x, layer, 1, *unit)
        check = state.check()
        assert check["network_inside"] and check["structural_box"] == check["field"]


def test_receptive_field_rejects_layers_it_cannot_read():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.Upsample(scale_factor=2))
    with pytest.raises(TypeError, match="Upsample"):
        layer_specs(model)
    with pytest.raises(TypeError, match="padding='same'"):
        layer_specs(torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3, padding="same")))
    with pytest.raises(ValueError, match="no convolution or pooling"):
        ReceptiveFieldState(nn.Sequential(nn.Flatten(), nn.Linear(4, 2, seed=0)), np.zeros((1, 1, 2, 2)))


def test_receptive_field_widget_click_selects_a_unit():
    explorer = receptive_field_explorer(numpy_net(), np.zeros((1, 23, 21)))
    explorer.controls["layer"].value = 5
    h, w = explorer.state.output_hw
    assert len(explorer.units.children) == h * w          # small map: one button per unit
    target = next(b for b in explorer.units.children if b.unit == (3, 2))
    target.click()
    assert (explorer.state.row, explorer.state.col) == (3, 2)
    page = Tags(explorer.view.value)
    (picture,) = page.with_class("cnnlab-rf-input")
    assert picture["data-field"] == ",".join(map(str, explorer.state.field))
    assert "= the formula ✓" in explorer.view.value and "inside the field ✓" in explorer.view.value


# ----------------------------------------------------------------------------- trained network

def tiny_torch_classifier():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                               torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 10))


def test_trained_state_probabilities_layers_and_top_images():
    images = np.random.default_rng(0).normal(size=(60, 1, 28, 28)).astype(np.float32)
    labels = np.arange(60) % 10
    model = tiny_torch_classifier()
    state = TrainedNetState(model, images, labels, search=50)
    state.index = 7
    with torch.no_grad():
        want = torch.softmax(model(torch.tensor(images[7:8])), dim=1)[0].numpy()
    assert np.allclose(state.probabilities(), want, atol=1e-6)
    assert state.names[0] == "0 Conv2d" and state.conv_layers() == [0] and state.spatial_layers() == [0, 1, 2]
    top, peaks = state.top_images(2, 3, k=5)
    with torch.no_grad():
        maps = model[:3](torch.tensor(images[:50]))[:, 3].amax(dim=(1, 2)).double().numpy()
    assert np.allclose(peaks, np.sort(maps)[::-1][:5]) and np.allclose(maps[top], peaks)
    assert all(t < 50 for t in top)
    assert state.filters(0).shape == (4, 1, 3, 3)
    page = Tags(render_trained_html(state, 2, 3))
    probs = page.with_class("cnnlab-prob")
    assert [int(p["data-class"]) for p in probs] == list(range(10))
    assert np.isclose(sum(float(p["data-prob"]) for p in probs), 1, atol=1e-4)
    assert len(page.with_class("cnnlab-top-digit")) == 8 and len(page.with_class("cnnlab-filter")) == 4


def test_drawing_becomes_a_normalised_mnist_input():
    blank = drawing_to_input(np.zeros((14, 14)))
    assert blank.shape == (1, 1, 28, 28) and blank.dtype == np.float32
    assert np.allclose(blank, (0 - 0.1307) / 0.3081, atol=1e-4)
    stroke = np.zeros((14, 14))
    stroke[2:12, 7] = 1
    x = drawing_to_input(stroke)
    assert np.isclose(x.max(), (1 - 0.1307) / 0.3081, atol=1e-3)
    assert np.all(x[0, 0, 4:24, 14:16] > 2.5) and np.allclose(x[0, 0, :, :10], blank[0, 0, :, :10])
    with pytest.raises(ValueError, match="14x14"):
        drawing_to_input(np.zeros((28, 28)))


def test_trained_widget_draws_and_keeps_numpy_model_mode():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1, seed=0), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2 * 14 * 14, 10, seed=1))
    images = np.random.default_rng(2).normal(size=(20, 1, 28, 28))
    explorer = trained_net_explorer(net, images, search=20)
    assert net.training                                     # looking does not switch training off
    explorer.controls["source"].value = "draw"
    explorer.cells[3 * 14 + 5].value = True
    assert explorer.state.use_drawing and explorer.state.drawing[3, 5] == 1
    assert np.allclose(explorer.state.x, drawing_to_input(explorer.state.drawing))
    assert "your drawing" in explorer.view.value
    explorer.clear()
    assert explorer.state.drawing.sum() == 0

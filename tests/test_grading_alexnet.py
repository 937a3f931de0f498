"""Notebook 07's checks: the reference passes, buggy answers fail and the mistake is named."""

import numpy as np
import pytest
import torch

from cnnlab import grading, models
from cnnlab.grading import alexnet as A
from cnnlab.summary import layer_table

# --------------------------------------------------------------------------
# Reference numbers, independently of cnnlab.summary: torch's own parameter counts
# --------------------------------------------------------------------------


@pytest.mark.parametrize("variant, shape, total", [
    ("original", (3, 227, 227), 60_965_224),
    ("original-ungrouped", (3, 227, 227), 62_378_344),
    ("torchvision", (3, 224, 224), 61_100_840),
])
def test_reference_table_matches_torch(variant, shape, total):
    model = models.alexnet(variant)
    rows = A.reference_alexnet_table(variant)
    assert sum(w + b for _, _, w, b in rows) == total == sum(p.numel() for p in model.parameters())
    modules = dict(model.named_children())
    x = torch.zeros((1,) + shape)
    shapes = {}
    with torch.no_grad():
        for name, module in modules.items():
            x = module(x)
            shapes[name] = tuple(x.shape[1:])
    for name, out, weights, biases in rows:
        module = modules[name]
        assert shapes[name] == out, name
        assert weights == sum(p.numel() for n, p in module.named_parameters() if n == "weight"), name
        assert biases == sum(p.numel() for n, p in module.named_parameters() if n == "bias"), name


def test_reference_functions_match_torch():
    conv = torch.nn.Conv2d(96, 256, 5, padding=2, groups=2)
    assert A.reference_conv_params(96, 256, 5, groups=2) == sum(p.numel() for p in conv.parameters())
    conv = torch.nn.Conv2d(3, 10, (3, 5), bias=False)
    assert A.reference_conv_params(3, 10, (3, 5), bias=False) == conv.weight.numel()
    fc = torch.nn.Linear(9216, 4096)
    assert A.reference_linear_params(9216, 4096) == sum(p.numel() for p in fc.parameters())
    table = layer_table(models.alexnet("original"), (3, 227, 227))
    assert A.reference_conv_macs(96, 256, 5, 27, groups=2) == table["conv2"].macs == 223_948_800
    assert A.reference_conv_macs(3, 96, 11, 55) == table["conv1"].macs == 105_415_200


# --------------------------------------------------------------------------
# The small functions
# --------------------------------------------------------------------------

def conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return c_out * (c_in // groups) * kh * kw + (c_out if bias else 0)


def linear_params(in_features, out_features, bias=True):
    return in_features * out_features + (out_features if bias else 0)


def conv_macs(c_in, c_out, kernel_size, output_size, groups=1):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    return oh * ow * c_out * (c_in // groups) * kh * kw


@pytest.mark.parametrize("hidden", [False, True])
def test_correct_functions_pass(hidden):
    assert grading.check_conv_params(conv_params, hidden=hidden).n_cases >= 5
    assert grading.check_linear_params(linear_params, hidden=hidden).n_cases >= 4
    assert grading.check_conv_macs(conv_macs, hidden=hidden).n_cases >= 3


def test_counts_must_be_ints_numpy_ints_are_fine():
    def float_params(c_in, c_out, kernel_size, groups=1, bias=True):
        return float(conv_params(c_in, c_out, kernel_size, groups, bias))

    with pytest.raises(AssertionError, match="must return an int"):
        grading.check_conv_params(float_params)

    def numpy_params(c_in, c_out, kernel_size, groups=1, bias=True):
        return np.int64(conv_params(c_in, c_out, kernel_size, groups, bias))

    grading.check_conv_params(numpy_params, hidden=True)


def _pair(k):
    return (k, k) if isinstance(k, int) else k


CONV_PARAM_MUTANTS = [
    ("forgot the bias",
     lambda c_in, c_out, kernel_size, groups=1, bias=True:
     c_out * (c_in // groups) * _pair(kernel_size)[0] * _pair(kernel_size)[1]),
    ("forgot the input channels",
     lambda c_in, c_out, kernel_size, groups=1, bias=True:
     c_out * _pair(kernel_size)[0] * _pair(kernel_size)[1] + (c_out if bias else 0)),
    ("groups ignored",
     lambda c_in, c_out, kernel_size, groups=1, bias=True:
     c_out * c_in * _pair(kernel_size)[0] * _pair(kernel_size)[1] + (c_out if bias else 0)),
    ("divided by groups twice",
     lambda c_in, c_out, kernel_size, groups=1, bias=True:
     (c_out // groups) * (c_in // groups) * _pair(kernel_size)[0] * _pair(kernel_size)[1]
     + (c_out if bias else 0)),
    ("counted the bias",  # ignores bias=False
     lambda c_in, c_out, kernel_size, groups=1, bias=True:
     c_out * (c_in // groups) * _pair(kernel_size)[0] * _pair(kernel_size)[1] + c_out),
    ("one kernel side used twice",
     lambda c_in, c_out, kernel_size, groups=1, bias=True:
     c_out * (c_in // groups) * _pair(kernel_size)[0] ** 2 + (c_out if bias else 0)),
]


@pytest.mark.parametrize("diagnosis, fn", CONV_PARAM_MUTANTS, ids=[m[0] for m in CONV_PARAM_MUTANTS])
def test_conv_params_mutants_are_diagnosed(diagnosis, fn):
    with pytest.raises(AssertionError) as failure:
        grading.check_conv_params(fn, hidden=True)
    message = str(failure.value)
    assert "Expected" in message and "Called conv_params with:" in message
    assert f"Likely mistake: {diagnosis}" in message, message


LINEAR_MUTANTS = [
    ("forgot the bias", lambda in_features, out_features, bias=True: in_features * out_features),
    ("swapped in/out features",
     lambda in_features, out_features, bias=True: in_features * out_features + (in_features if bias else 0)),
    ("counted the bias", lambda in_features, out_features, bias=True: in_features * out_features + out_features),
    ("added instead of multiplied",
     lambda in_features, out_features, bias=True: in_features + out_features + (out_features if bias else 0)),
]


@pytest.mark.parametrize("diagnosis, fn", LINEAR_MUTANTS, ids=[m[0] for m in LINEAR_MUTANTS])
def test_linear_params_mutants_are_diagnosed(diagnosis, fn):
    with pytest.raises(AssertionError) as failure:
        grading.check_linear_params(fn, hidden=True)
    assert f"Likely mistake: {diagnosis}" in str(failure.value), str(failure.value)


MAC_MUTANTS = [
    ("counted the bias",
     lambda c_in, c_out, kernel_size, output_size, groups=1:
     conv_macs(c_in, c_out, kernel_size, output_size, groups) + _pair(output_size)[0] * _pair(output_size)[1] * c_out),
    ("forgot the output positions",
     lambda c_in, c_out, kernel_size, output_size, groups=1: conv_params(c_in, c_out, kernel_size, groups, False)),
    ("groups ignored",
     lambda c_in, c_out, kernel_size, output_size, groups=1: conv_macs(c_in, c_out, kernel_size, output_size, 1)),
]


@pytest.mark.parametrize("diagnosis, fn", MAC_MUTANTS, ids=[m[0] for m in MAC_MUTANTS])
def test_conv_macs_mutants_are_diagnosed(diagnosis, fn):
    with pytest.raises(AssertionError) as failure:
        grading.check_conv_macs(fn, hidden=True)
    assert f"Likely mistake: {diagnosis}" in str(failure.value), str(failure.value)


def test_function_failures_are_explained():
    def todo(c_in, c_out, kernel_size, groups=1, bias=True):
        raise NotImplementedError()

    with pytest.raises(AssertionError, match="not implemented yet"):
        grading.check_conv_params(todo)

    def forgot_return(in_features, out_features, bias=True):
        in_features * out_features

    with pytest.raises(AssertionError, match="forget the `return`"):
        grading.check_linear_params(forgot_return)

    def crashes(c_in, c_out, kernel_size, groups=1, bias=True):
        return kernel_size[0] * c_in  # int kernel_size is not subscriptable

    with pytest.raises(AssertionError, match="raised TypeError"):
        grading.check_conv_params(crashes)


def test_calling_the_course_summary_is_refused():
    def lazy(c_in, c_out, kernel_size, groups=1, bias=True):
        spec = [{"type": "conv", "out_channels": c_out, "kernel_size": kernel_size, "groups": groups,
                 "bias": bias, "padding": "same"}]
        return layer_table(spec, (c_in, 16, 16))[0].params

    with pytest.raises(AssertionError, match="ready-made implementation"):
        grading.check_conv_params(lazy)

    def with_torch(in_features, out_features, bias=True):
        return sum(p.numel() for p in torch.nn.Linear(in_features, out_features, bias).parameters())

    with pytest.raises(AssertionError, match="ready-made implementation"):
        grading.check_linear_params(with_torch)


# --------------------------------------------------------------------------
# Knowledge checks
# --------------------------------------------------------------------------

def test_knowledge_checks():
    assert grading.check_filter_weights(27)
    assert grading.check_filter_weights("b")
    assert grading.check_filter_count(96)
    assert grading.check_filter_count("(c)")
    for answer, phrase in [(9, "forgot the input channels"), (28, "bias"), (864, "INPUT depth"), ("c", "number of filters")]:
        with pytest.raises(AssertionError, match=phrase):
            grading.check_filter_weights(answer)
    for answer, phrase in [(3, "INPUT depth"), ("d", "one output map"), (27, "weights in one")]:
        with pytest.raises(AssertionError, match=phrase):
            grading.check_filter_count(answer)
    with pytest.raises(AssertionError, match="None"):
        grading.check_filter_count(None)
    with pytest.raises(AssertionError, match="letters"):
        grading.check_filter_count("e")


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------

def reference_rows(variant="original"):
    return [list(r) for r in A.reference_alexnet_table(variant)]


def row(table, name):
    return next(r for r in table if r[0] == name)


@pytest.mark.parametrize("variant", ["original", "original-ungrouped", "torchvision"])
def test_reference_table_passes(variant):
    result = grading.check_alexnet_table(A.reference_alexnet_table(variant), variant=variant)
    assert result.n_cases == 3 * len(A.reference_alexnet_table(variant))


def test_table_formats_accepted():
    table = reference_rows()
    as_dicts = [dict(layer=n, output_shape=s, weights=w, biases=b) for n, s, w, b in table]
    grading.check_alexnet_table(as_dicts)
    bare_fc = [[n, s[0] if len(s) == 1 else list(s), float(w), b] for n, s, w, b in table]
    grading.check_alexnet_table(bare_fc)
    with_relu = table[:1] + [["relu1", (96, 55, 55), 0, 0]] + table[1:]
    grading.check_alexnet_table(with_relu)
    with_macs = [r + [m] for r, m in zip(table, [105_415_200, 0, 0, 223_948_800, 0, 0, 149_520_384,
                                                  112_140_288, 74_760_192, 0, 37_748_736, 16_777_216,
                                                  4_096_000])]
    assert grading.check_alexnet_table(with_macs).n_cases == 4 * 13


def mutate(**changes):
    """A reference table with some cells replaced: name=(column_index, value)."""
    table = reference_rows()
    for name, (column, value) in changes.items():
        row(table, name)[column] = value
    return table


SHAPES_224 = {"conv1": (96, 54, 54), "norm1": (96, 54, 54), "pool1": (96, 26, 26), "conv2": (256, 26, 26),
              "norm2": (256, 26, 26), "pool2": (256, 12, 12), "conv3": (384, 12, 12),
              "conv4": (384, 12, 12), "conv5": (256, 12, 12), "pool5": (256, 5, 5)}


def table_224():
    table = reference_rows()
    for name, shape in SHAPES_224.items():
        row(table, name)[1] = shape
    row(table, "fc6")[2] = 256 * 5 * 5 * 4096
    return table


TABLE_MUTANTS = [
    # (description, table, layer, column, diagnosis)
    ("conv1 without bias", mutate(conv1=(3, 0)), "conv1", "biases", "forgot the bias"),
    ("fc7 without bias", mutate(fc7=(3, 0)), "fc7", "biases", "forgot the bias"),
    ("K*K*C_out", mutate(conv1=(2, 11 * 11 * 96)), "conv1", "weights", "forgot the input channels"),
    ("conv3 K*K*C_out", mutate(conv3=(2, 3 * 3 * 384)), "conv3", "weights", "forgot the input channels"),
    ("conv2 ungrouped", mutate(conv2=(2, 256 * 96 * 25)), "conv2", "weights", "groups ignored"),
    ("conv5 ungrouped", mutate(conv5=(2, 256 * 384 * 9)), "conv5", "weights", "groups ignored"),
    ("conv3 grouped", mutate(conv3=(2, 384 * 128 * 9)), "conv3", "weights", "groups where there are none"),
    ("224 input", table_224(), "conv1", "output_shape", "used 224 instead of 227"),
    ("conv2 unpadded", mutate(conv2=(1, (256, 23, 23))), "conv2", "output_shape", "forgot the padding"),
    ("conv4 unpadded", mutate(conv4=(1, (384, 11, 11))), "conv4", "output_shape", "forgot the padding"),
    ("conv1 stride 1", mutate(conv1=(1, (96, 217, 217))), "conv1", "output_shape", "stride ignored"),
    ("pool1 stride 1", mutate(pool1=(1, (96, 53, 53))), "pool1", "output_shape", "stride ignored"),
    ("fc6 from 13x13", mutate(fc6=(2, 256 * 13 * 13 * 4096)), "fc6", "weights",
     "FC in_features from the wrong flattened size"),
    ("fc6 from 256 channels", mutate(fc6=(2, 256 * 4096)), "fc6", "weights",
     "FC in_features from the wrong flattened size"),
    ("fc6 odd size", mutate(fc6=(2, 9000 * 4096)), "fc6", "weights", "FC in_features from the wrong flattened size"),
    ("pool weights", mutate(pool1=(2, 9)), "pool1", "weights", "counted max pooling as having parameters"),
    ("LRN params", mutate(norm2=(3, 4)), "norm2", "biases", "counted LRN as having parameters"),
    ("fc6 swapped biases", mutate(fc6=(3, 9216)), "fc6", "biases", "swapped in/out features"),
    ("fc8 swapped shape", mutate(fc8=(1, (4096,))), "fc8", "output_shape", "swapped in/out features"),
    ("channels last", mutate(conv2=(1, (27, 27, 256))), "conv2", "output_shape", "channels last"),
    ("weights + biases", mutate(conv4=(2, 663_936)), "conv4", "weights", "weights include the biases"),
    ("one bias per input channel", mutate(conv2=(3, 96)), "conv2", "biases", "one bias per input channel"),
    ("fc6 as a volume", mutate(fc6=(1, (4096, 1, 1))), "fc6", "output_shape", "not a flat vector"),
    ("fraction", mutate(conv1=(1, (96, 54.25, 54.25))), "conv1", "output_shape", "whole numbers"),
]


@pytest.mark.parametrize("description, table, layer, column, diagnosis", TABLE_MUTANTS,
                         ids=[m[0] for m in TABLE_MUTANTS])
def test_table_mutants_name_layer_column_and_mistake(description, table, layer, column, diagnosis):
    with pytest.raises(AssertionError) as failure:
        grading.check_alexnet_table(table)
    message = str(failure.value)
    assert message.startswith(f"alexnet_table: layer '{layer}', column '{column}' is wrong."), message
    assert "Expected" in message
    assert diagnosis in message.split("other cell")[0], message


def test_carried_forward_errors_point_at_their_cause():
    with pytest.raises(AssertionError) as failure:
        grading.check_alexnet_table(table_224())
    message = str(failure.value)
    assert "pool1 output_shape: got (96, 26, 26) (consistent with your norm1 output" in message
    assert "10 other cell(s)" in message
    assert "fc6 weights: got 26,214,400 (consistent with your pool5 output" in message
    # only the first wrong cell's expected value is shown
    assert "37,748,736" not in message and "(96, 27, 27)" not in message
    # carried-forward cells are not counted again: most of the table's points are kept
    assert failure.value.fraction > 0.9


def test_first_wrong_cell_is_reported_and_the_others_listed():
    table = mutate(conv2=(2, 256 * 96 * 25), fc8=(3, 0))
    with pytest.raises(AssertionError) as failure:
        grading.check_alexnet_table(table)
    message = str(failure.value)
    assert "layer 'conv2', column 'weights'" in message
    assert "Expected 307,200, got 614,400" in message
    assert "fc8 biases: got 0 (forgot the bias)" in message
    n_cells = len(reference_rows()) * 3
    assert failure.value.fraction == pytest.approx((n_cells - 2) / n_cells)


def test_table_structure_errors():
    table = reference_rows()
    with pytest.raises(AssertionError, match="no row for pool2"):
        grading.check_alexnet_table([r for r in table if r[0] != "pool2"])
    with pytest.raises(AssertionError, match="no layer called 'Conv1'.*lower case"):
        grading.check_alexnet_table([["Conv1"] + table[0][1:]] + table[1:])
    with pytest.raises(AssertionError, match="network order"):
        grading.check_alexnet_table([table[1], table[0]] + table[2:])
    with pytest.raises(AssertionError, match="more than once"):
        grading.check_alexnet_table(table + [table[0]])
    with pytest.raises(AssertionError, match="list of rows"):
        grading.check_alexnet_table(None)
    with pytest.raises(AssertionError, match="empty"):
        grading.check_alexnet_table([])
    with pytest.raises(AssertionError, match="row 0"):
        grading.check_alexnet_table([("conv1", (96, 55, 55))] + table[1:])
    with pytest.raises(AssertionError, match="output shape of row 'conv1'"):
        grading.check_alexnet_table([["conv1", "96x55x55", 34_848, 96]] + table[1:])
    with pytest.raises(AssertionError, match="no weights value"):
        grading.check_alexnet_table([dict(layer="conv1", output_shape=(96, 55, 55), biases=96)] + table[1:])


def test_other_variants_diagnose_too():
    table = reference_rows("torchvision")
    row(table, "conv1")[1] = (64, 54, 54)
    with pytest.raises(AssertionError, match="forgot the padding"):
        grading.check_alexnet_table(table, variant="torchvision")
    table = reference_rows("original-ungrouped")
    row(table, "conv2")[2] = 256 * 48 * 25
    with pytest.raises(AssertionError, match="groups where there are none"):
        grading.check_alexnet_table(table, variant="original-ungrouped")
    with pytest.raises(ValueError, match="variant"):
        grading.check_alexnet_table(table, variant="vgg")


# --------------------------------------------------------------------------
# Notebook 07 through the real grader: buggy answers lose exactly their cell's points
# --------------------------------------------------------------------------

NOTEBOOK_MUTANTS = [
    # (student, answer cell, source, test cell, phrase the feedback must contain)
    ("groups", "ex_conv_params", '''
def conv_params(c_in, c_out, kernel_size, groups=1, bias=True):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    return c_out * c_in * kh * kw + (c_out if bias else 0)
''', "test_conv_params", "groups ignored"),
    ("swapped", "ex_linear_params", '''
def linear_params(in_features, out_features, bias=True):
    return in_features * out_features + (in_features if bias else 0)
''', "test_linear_params", "swapped in/out features"),
    ("macbias", "ex_conv_macs", '''
def conv_macs(c_in, c_out, kernel_size, output_size, groups=1):
    kh, kw = (kernel_size, kernel_size) if np.isscalar(kernel_size) else kernel_size
    oh, ow = (output_size, output_size) if np.isscalar(output_size) else output_size
    return oh * ow * c_out * ((c_in // groups) * kh * kw + 1)
''', "test_conv_macs", "counted the bias"),
    ("input224", "ex_alexnet_table", "alexnet_table = " + repr(
        [(n, SHAPES_224.get(n, s), 256 * 5 * 5 * 4096 if n == "fc6" else w, b)
         for n, s, w, b in A.reference_alexnet_table()]), "test_alexnet_table", "used 224 instead of 227"),
    ("nobias", "ex_alexnet_table", "alexnet_table = " + repr(
        [(n, s, w, 0 if n == "conv3" else b) for n, s, w, b in A.reference_alexnet_table()]),
     "test_alexnet_table", "layer 'conv3', column 'biases'"),
]


@pytest.mark.slow
def test_notebook_07_mutants_through_nbgrader(tmp_path):
    from course import autograde, autograded_outputs, make_course, read, replace_answer, scores, \
        solution_notebook, submit

    assignment = "07_alexnet_parameters"
    course = make_course(tmp_path, [assignment])
    solution = read(solution_notebook(assignment))
    for student, cell, source, _, _ in NOTEBOOK_MUTANTS:
        submit(course, student, assignment, replace_answer(solution, cell, source.strip("\n")))
    dicts = "alexnet_table = " + repr([dict(layer=n, output_shape=s, weights=w, biases=b)
                                       for n, s, w, b in A.reference_alexnet_table()])
    submit(course, "dicts", assignment, replace_answer(solution, "ex_alexnet_table", dicts))
    autograde(course, assignment)
    graded = scores(course, assignment)

    score, max_score, _ = graded["dicts"]
    assert score == max_score == 20
    for student, _, _, test_cell, phrase in NOTEBOOK_MUTANTS:
        score, max_score, cells = graded[student]
        lost = {k: v for k, v in cells.items() if v[0] < v[1]}
        assert set(lost) == {test_cell}, (student, lost)
        assert phrase in autograded_outputs(course, student, assignment)[test_cell], student

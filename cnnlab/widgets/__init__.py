"""Interactive explorers for convolution and pooling (ipywidgets 8).

One module per explorer (:mod:`cnnlab.widgets.conv`, :mod:`cnnlab.widgets.pool`)
on top of :mod:`cnnlab.widgets.base`, which holds what they share: the grid
state (:class:`GridState`), the HTML building blocks and the widget base
(:class:`Explorer`). Each explorer is built in three layers, so that the
interesting part can be read (and tested) without a browser:

1. a **state** dataclass (:class:`ConvExplorerState`, :class:`PoolExplorerState`)
   holding the input, the kernel and the hyper-parameters, with properties for
   everything the picture shows: the output (computed by
   :mod:`cnnlab.functional`), the cells under the current window, the
   arithmetic of the current output cell and the output-size formula;
2. a pure **renderer** (:func:`render_conv_html`, :func:`render_pool_html`)
   turning a state into an HTML string: tables with inline styles, so the
   result looks the same in JupyterLab, in a static HTML export and in tests;
3. the **widget** (:func:`conv_explorer`, :func:`pool_explorer`) that only
   wires sliders to the state and puts the HTML into an ``ipywidgets.HTML``.

CSS classes a browser test (or a curious student with the inspector) can use:

=====================  ====================================================
``cnnlab-formula``     the output-size formula with the numbers substituted
``cnnlab-arithmetic``  the arithmetic of the current output cell
``cnnlab-input``       the (zero-padded) input table
``cnnlab-kernel``      the kernel table (convolution explorer)
``cnnlab-output``      the output table
``cnnlab-window``      an input cell under the current window (a kernel tap)
``cnnlab-gap``         a cell skipped by a dilated kernel (inside the window)
``cnnlab-pad``         a padding cell
``cnnlab-current``     the current output cell
``cnnlab-winner``      the cell that max/min pooling picks in the window
``cnnlab-upstream``    the upstream-gradient table (pooling explorer)
``cnnlab-grad``        the input-gradient table (pooling explorer)
``cnnlab-grad-flow``   an input cell that receives gradient
``cnnlab-error``       the friendly message shown for impossible settings
``cnnlab-legend``      the colour legend
=====================  ====================================================

Explorers for your own data and network (issue 14), same three layers:
:func:`filter_explorer` (any image, a kernel typed in a grid, convolution or
transposed convolution; :mod:`cnnlab.widgets.filter`), :func:`receptive_field_explorer`
(click a unit of your network, its receptive field by formula and by gradient;
:mod:`cnnlab.widgets.receptive`) and :func:`trained_net_explorer` (feature maps,
filters, top digits and probabilities of your trained MNIST network;
:mod:`cnnlab.widgets.trained`). Their pictures come from :mod:`cnnlab.widgets.picture`;
their CSS classes: ``cnnlab-filter-explorer``, ``cnnlab-filter-input``/``-output``
(``img`` with ``data-window-box``/``data-spread-box``), ``cnnlab-window-values``,
``cnnlab-spread-values``; ``cnnlab-rf-explorer``, ``cnnlab-rf-unit-button``,
``cnnlab-rf-input`` (``data-field``), ``cnnlab-rf-check``; ``cnnlab-trained-explorer``,
``cnnlab-probabilities`` (``div.cnnlab-prob`` with ``data-class``/``data-prob``),
``cnnlab-feature-maps``, ``cnnlab-top-digits``, ``cnnlab-draw-cell``.

Every table cell carries ``data-row``/``data-col`` (coordinates in the table
shown, i.e. the *padded* input for input tables) and input tables also carry
``data-in-row``/``data-in-col`` (coordinates in the original, unpadded input;
negative or too large for padding cells).
"""

from cnnlab.widgets.base import (
    CELL_STYLE,
    LECTURE_INPUT_A,
    LECTURE_KERNEL,
    LECTURE_POOL_INPUT,
    LEGEND,
    MINUS,
    STYLE_ORDER,
    STYLES,
    TIMES,
    Explorer,
    GridState,
    cell_style,
    error_block,
    format_factor,
    format_number,
    html_table,
    input_cell_attrs,
    legend,
    padded_input_table,
    panel,
    panels_row,
    size_formula,
    slider,
    step_controls,
    sync_step,
    text_block,
)
from cnnlab.widgets.conv import (
    CUSTOM,
    FIXED_KERNELS,
    IMAGE_PRESETS,
    RANDOM,
    SIZED_KERNELS,
    ConvExplorer,
    ConvExplorerState,
    bright_square,
    conv_explorer,
    make_kernel,
    random_ints,
    render_conv_html,
)
from cnnlab.widgets.filter import (
    KERNEL_PRESETS,
    FilterExplorer,
    FilterExplorerState,
    filter_explorer,
    render_filter_html,
)
from cnnlab.widgets.pool import (
    GRAD_SOURCES,
    POOL_FILL,
    POOL_MODES,
    PoolExplorer,
    PoolExplorerState,
    pool_explorer,
    render_pool_html,
)
from cnnlab.widgets.receptive import (
    ReceptiveFieldExplorer,
    ReceptiveFieldState,
    layer_specs,
    receptive_field,
    receptive_field_explorer,
    render_receptive_html,
)
from cnnlab.widgets.trained import (
    TrainedNetExplorer,
    TrainedNetState,
    drawing_to_input,
    render_trained_html,
    trained_net_explorer,
)

OutputSteps = GridState  # the old name of the shared state base

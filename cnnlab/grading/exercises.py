"""Compatibility: the checks of notebooks 01-05 moved to one module per notebook (``nb01_...`` to ``nb05_...``)."""

from cnnlab.grading.nb01_convolution_1d import (
                                                 LECTURE_BOX,
                                                 LECTURE_SIGNAL,
                                                 NUMPY_1D,
                                                 _cases_1d,
                                                 check_convolve1d,
                                                 check_correlate1d,
)
from cnnlab.grading.nb02_convolution_2d import (
                                                 LECTURE_A,
                                                 LECTURE_BOX_IMAGE,
                                                 LECTURE_W,
                                                 check_conv2d_single,
                                                 check_conv_output_size,
                                                 check_correlate2d,
                                                 check_zero_pad,
                                                 reference_conv2d_single,
                                                 reference_zero_pad,
)
from cnnlab.grading.nb03_multichannel import check_conv2d
from cnnlab.grading.nb04_pooling import LECTURE_POOL, check_avg_pool2d, check_max_pool2d
from cnnlab.grading.nb05_backprop import (
                                                 check_conv2d_backward,
                                                 check_max_pool2d_backward,
                                                 check_numerical_gradient,
)

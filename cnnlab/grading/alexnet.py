"""Compatibility: notebook 07's checks moved to :mod:`cnnlab.grading.nb07_alexnet_parameters`."""

from cnnlab.grading.nb07_alexnet_parameters import *
from cnnlab.grading.nb07_alexnet_parameters import (
                                                     INPUT_SHAPES,
                                                     TABLE_KINDS,
                                                     _reference_rows,
                                                     reference_alexnet_table,
                                                     reference_conv_macs,
                                                     reference_conv_params,
                                                     reference_linear_params,
)

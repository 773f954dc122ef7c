"""Codec conditions, named matrices, codec engines (PyAV in-process, ffmpeg CLI) and a cache.

>>> from spoofbench.codecs import get_matrix, apply_condition
>>> coded = apply_condition(wave, 16000, get_matrix("default")[1], key="LA_E_1000147")
"""
from .apply import (NEURAL_BATCH, CodingReport, apply_condition, apply_condition_batch, apply_condition_report,
                    batches_well, condition_provenance, coding_rate, engine_delay)
from .availability import ConditionStatus, check_conditions
from .cache import CacheStats, CodecCache
from .catalog import CONDITIONS, MATRICES, get_condition, get_matrix, load_conditions
from .channel import ChannelCondition, channel_from_dict
from .condition import ChannelChain, CodecCondition, condition_from_dict

__all__ = [
    "CONDITIONS", "MATRICES", "NEURAL_BATCH", "CacheStats", "ChannelChain", "ChannelCondition", "CodecCache",
    "CodecCondition", "CodingReport", "ConditionStatus", "apply_condition", "apply_condition_batch",
    "apply_condition_report", "batches_well", "check_conditions", "channel_from_dict", "coding_rate", "condition_from_dict", "condition_provenance", "engine_delay", "get_condition",
    "get_matrix", "load_conditions",
]

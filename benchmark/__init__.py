"""spoofbench: benchmark audio deepfake detectors out of distribution and through real codecs."""
from .errors import SpoofbenchError

__version__ = "0.1.0"
__all__ = ["SpoofbenchError", "__version__"]

"""assb-lab API client for notebooks: cells, cycles, records, comparisons and uploads as pandas DataFrames."""

from .client import (
    ApiError,
    AuthenticationError,
    Client,
    ImportFailed,
    NotFound,
    PermissionDenied,
    ValidationError,
)

__all__ = ["ApiError", "AuthenticationError", "Client", "ImportFailed", "NotFound", "PermissionDenied",
           "ValidationError"]
__version__ = "0.1.0"

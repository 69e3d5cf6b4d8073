"""kefu (客服): a self-hosted AI customer-service platform."""

__version__ = "0.1.0"
__all__ = ["__version__"]

"""The API's settings; defined with every other setting in mlcycle.settings."""

from mlcycle.settings import MIN_TOKEN_LENGTH, ApiSettings, get_api_settings

__all__ = ["MIN_TOKEN_LENGTH", "ApiSettings", "get_api_settings"]

"""The UI's settings; defined with every other setting in mlcycle.settings."""

from mlcycle.settings import UiSettings, get_ui_settings

__all__ = ["UiSettings", "get_ui_settings"]

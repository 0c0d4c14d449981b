"""The unit suite (a subpackage so its modules have dotted names; see tests/__init__.py)."""

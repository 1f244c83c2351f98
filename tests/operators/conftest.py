from tests.hooks.conftest import log_text, make_hook, sleeps

__all__ = ["log_text", "make_hook", "sleeps"]

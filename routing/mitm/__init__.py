"""The mitmproxy edge: the only part of ``routing`` that imports mitmproxy."""

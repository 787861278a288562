from routing.mitm.script import *  # noqa: F403 — the file given to mitmdump -s: the router's hooks (routing/mitm/script.py)

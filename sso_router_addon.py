from routing.mitm.addon import SSORouter; addons = [SSORouter()]  # noqa: E702 — the file given to mitmdump -s

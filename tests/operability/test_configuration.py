"""Every environment variable the service reads is in docs/configuration.md, with its default, and
everything listed there is read: the settings through their one reader (config/settings/env.py),
the web server's process settings by config/gunicorn.py and wallets/metrics.py."""
import re
from pathlib import Path

from config.settings import env

ROOT = Path(__file__).resolve().parents[2]
PROCESS_FILES = ["config/gunicorn.py", "wallets/metrics.py"]


def documented() -> list[str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", text, flags=re.M)


def read_by_the_process_files() -> set[str]:
    names = set()
    for name in PROCESS_FILES:
        names |= set(re.findall(r"""os\.environ\.get\(["']([A-Z][A-Z0-9_]*)["']""", (ROOT / name).read_text()))
    return names


def test_every_variable_read_is_documented_once_and_every_documented_one_is_read():
    listed = documented()

    assert len(listed) == len(set(listed)), [name for name in listed if listed.count(name) > 1]
    assert set(listed) == set(env.READ) | read_by_the_process_files()


def test_the_settings_read_the_environment_only_through_their_reader():
    for module in (ROOT / "config" / "settings").glob("*.py"):
        if module.name != "env.py":
            assert "os.environ" not in module.read_text(), module.name

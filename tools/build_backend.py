"""PEP 517 backend: setuptools', after writing the man page into build/man (it ships in the wheel)."""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F401,F403 (the hooks we do not change)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build_manpage  # noqa: E402


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build_manpage.write(build_manpage.DEFAULT_OUTPUT)
    return _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    build_manpage.write(build_manpage.DEFAULT_OUTPUT)
    return _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)

"""A Dockerfile (and .dockerignore) for an app, run by Overcast in the container.

The layout follows Azure's Python images (the app in ``/home/site/wwwroot``) so paths in an app's settings keep
working; the app's ``requirements.txt`` installs first, in its own layer, so code changes rebuild in seconds. The
process runs as an unprivileged user on port 8080 (a non-root user cannot bind 80), matching the manifests.
"""

from __future__ import annotations

import sys

from overcast import __version__

APP_DIR = "/home/site/wwwroot"
DOCKERIGNORE = """\
.venv/
.overcast/
.git/
__pycache__/
*.pyc
local.settings.json
.python_packages/
"""


def default_requirement() -> str:
    """This Overcast, with the PostgreSQL driver (pods share no disk: the store is a database)."""
    return f"overcast[postgres]=={__version__}"


def dockerfile(requirement: str | None = None, python: str | None = None) -> str:
    version = python or f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"""\
# Made by `overcast kubernetes manifests --dockerfile`. Build: docker build -t <image> .
FROM python:{version}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR {APP_DIR}
COPY requirements.txt ./
RUN pip install -r requirements.txt "{requirement or default_requirement()}"
COPY . .
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin app
USER 10001
EXPOSE 8080
ENTRYPOINT ["overcast"]
CMD ["start", "--address", "0.0.0.0", "--port", "8080"]
"""

"""``overcast kubernetes manifests``: the job of ``func kubernetes deploy --dry-run``, for a PostgreSQL-backed app.

Reads the app (as ``overcast start`` indexes it) and its ``local.settings.json`` Values, and writes the objects of
:mod:`overcast.deploy.manifests` as one YAML stream (stdout, or a file for ``kubectl apply -f``), optionally with a
Dockerfile for the image. Pods share no disk, so the app's ``AzureWebJobsStorage`` must be a ``postgresql://`` URL
(``--connection`` sets it for the cluster without touching local settings).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from overcast.cli.common import app_environment, location_options, script_root_for
from overcast.errors import ConfigError

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")  # a DNS label, short enough for the derived names
CONNECTION = "AzureWebJobsStorage"


def add_kubernetes_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    kube = subparsers.add_parser("kubernetes", help="Kubernetes manifests with KEDA scaling",
                                 description="Write Kubernetes manifests (and a Dockerfile) for the app.")
    sub = kube.add_subparsers(dest="kubernetes_command", metavar="COMMAND", required=True)
    manifests = sub.add_parser("manifests", help="write the manifests (as `func kubernetes deploy --dry-run`)")
    location_options(manifests)
    manifests.add_argument("--name", required=True, help="the app's name: object names and the host id")
    manifests.add_argument("--image", required=True, help="the container image (see --dockerfile)")
    manifests.add_argument("--namespace", default=None, help="the namespace of every object")
    manifests.add_argument("--connection", default=None, metavar="URL",
                           help="the postgresql:// URL the pods use (default: the app's AzureWebJobsStorage)")
    manifests.add_argument("--output", "-o", default="-", metavar="FILE", help="where to write the YAML (- stdout)")
    manifests.add_argument("--http-replicas", type=int, default=1, help="replicas of the HTTP deployment")
    manifests.add_argument("--min-replicas", type=int, default=0, help="background floor (default 0)")
    manifests.add_argument("--max-replicas", type=int, default=10, help="background ceiling (default 10)")
    manifests.add_argument("--polling-interval", type=int, default=5, help="seconds between KEDA queries")
    manifests.add_argument("--cooldown-period", type=int, default=60, help="idle seconds before scaling to zero")
    manifests.add_argument("--service-type", default="ClusterIP", choices=("ClusterIP", "NodePort", "LoadBalancer"))
    manifests.add_argument("--dockerfile", action="store_true",
                           help="also write Dockerfile and .dockerignore in the app folder (kept if present)")
    manifests.add_argument("--overcast-requirement", default=None, metavar="SPEC",
                           help="what the Dockerfile pip-installs for Overcast (default: overcast[postgres]==<this>)")
    manifests.set_defaults(handler=_manifests)


def _settings(script_root: Path, connection: str | None) -> dict[str, str]:
    from overcast.config.connections import connection_kind
    from overcast.config.local_settings import load_local_settings

    values = dict(load_local_settings(script_root).values)
    if connection:
        values[CONNECTION] = connection
    values.setdefault("FUNCTIONS_WORKER_RUNTIME", "python")
    value = values.get(CONNECTION, "")
    kind = connection_kind(value) if value else "unset"
    if kind != "postgresql":
        what = "unset" if kind == "unset" else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} connection"
        raise ConfigError(
            f"Pods share no disk, so {CONNECTION} must be a postgresql:// URL (it is {what}). Pass --connection "
            f"postgresql://user:password@host:5432/db (see docs/kubernetes.md)."
        )
    return values


def _hub(script_root: Path, environ: dict[str, str]) -> str:
    from overcast.config.host_json import load_host_json

    section = load_host_json(script_root, environ).section("extensions", "durableTask")
    return str(section.get("hubname") or "TestHubName")


def _manifests(args: argparse.Namespace) -> int:
    import yaml

    from overcast.app.index import index_app
    from overcast.deploy.app_shape import shape_of
    from overcast.deploy.dockerfile import DOCKERIGNORE, dockerfile
    from overcast.deploy.manifests import build_manifests
    from overcast.deploy.options import ManifestOptions

    if not _NAME.match(args.name):
        raise ConfigError(f"--name '{args.name}' must be lower-case letters, digits and '-', 1-40 characters.")
    for flag in ("http_replicas", "min_replicas", "max_replicas", "polling_interval", "cooldown_period"):
        if getattr(args, flag) < 0:
            raise ConfigError(f"--{flag.replace('_', '-')} must be 0 or more.")
    script_root = script_root_for(args)
    if not (script_root / "host.json").is_file():
        raise ConfigError(f"No host.json in '{script_root}'. Pass --script-root with your function app's folder.")
    settings = _settings(script_root, args.connection)
    environ = app_environment(script_root)
    environ.update(settings)
    shape = shape_of(index_app(script_root, "function_app.py", None, environ))
    options = ManifestOptions(name=args.name, image=args.image, settings=settings, namespace=args.namespace,
                              http_replicas=args.http_replicas, min_replicas=args.min_replicas,
                              max_replicas=args.max_replicas, polling_interval=args.polling_interval,
                              cooldown_period=args.cooldown_period, service_type=args.service_type,
                              hub=_hub(script_root, environ))
    text = yaml.safe_dump_all(build_manifests(options, shape), sort_keys=False, default_flow_style=False)
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}: apply with kubectl apply -f {args.output}", file=sys.stderr)
    if args.dockerfile:
        for name, content in (("Dockerfile", dockerfile(args.overcast_requirement)), (".dockerignore", DOCKERIGNORE)):
            path = script_root / name
            if path.exists():
                print(f"Kept the existing {path}.", file=sys.stderr)
            else:
                path.write_text(content, encoding="utf-8")
                print(f"Wrote {path}.", file=sys.stderr)
    from overcast.deploy.keda import signals_of

    _, unsignalled = signals_of(shape, options.scope)
    if unsignalled:
        print(f"Note: KEDA has no signal for {', '.join(unsignalled)}; the background deployment keeps one replica.",
              file=sys.stderr)
    return 0

"""Command-line launch of the workbench: argument parsing, auth rules, demo workspace.

    python app.py                                      # the demo workspace ($LVR_DEMO_WORKSPACE or workspaces/demo)
    python app.py --workspace NEW_DIR --demo           # build the demo corpus into NEW_DIR first
    python app.py --workspace ws --host 0.0.0.0 --auth alice:secret

With no --workspace the demo workspace is made ready first (`lvr.recipe.demo.ensure_demo_workspace`:
~30 s the first time, nothing later) and, until it has an SFT checkpoint, a quick demo SFT is
started as a background job (`start_demo_training`; --no-demo-sft skips it); the server then opens
at once while the job trains (Train tab).
"""
from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path

DEFAULT_WORKSPACE = Path(os.environ.get("LVR_DEMO_WORKSPACE", "workspaces/demo"))


def bind_host(host: str | None) -> str:
    """The address Gradio binds, in its own order: --host, else $GRADIO_SERVER_NAME, else 127.0.0.1."""
    return (host or "").strip() or os.environ.get("GRADIO_SERVER_NAME", "").strip() or "127.0.0.1"


def is_loopback(host: str) -> bool:
    """True only when every address `host` stands for is a loopback one ("", 0.0.0.0 and :: are all
    interfaces; a name counts by what it resolves to, so a hosts-file alias cannot pass as local)."""
    host = host.strip().removeprefix("[").removesuffix("]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addrs = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def bound_addresses(demo) -> list[str]:
    """The addresses the running server's sockets are bound to (after launch)."""
    servers = getattr(getattr(demo, "server", None), "servers", None) or []
    return [sock.getsockname()[0] for srv in servers for sock in srv.sockets]


def parse_auth(auth: str | None, auth_file: str | None) -> list[tuple[str, str]]:
    """`user:pass` and/or a file of `user:pass` lines → [(user, pass)]; bad lines name the file and line."""
    pairs: list[tuple[str, str]] = []
    sources = []
    if auth:
        sources.append(("--auth", 1, auth))
    if auth_file:
        try:
            text = Path(auth_file).read_text()
        except OSError as e:
            raise SystemExit(f"--auth-file {auth_file}: cannot read it ({e.strerror or e})") from None
        for i, line in enumerate(text.splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                sources.append((auth_file, i, line.strip()))
    for where, line_no, text in sources:
        user, sep, password = text.partition(":")
        if not sep or not user or not password:
            raise SystemExit(f"{where}:{line_no}: expected user:password")
        pairs.append((user, password))
    return pairs


EPILOG = """\
first start:
  python app.py                          the demo workspace (built on first run, ~30 s; a quick SFT then trains)
  python app.py --workspace DIR --demo   build the same demo corpus into DIR (a new or empty folder)
  python app.py --workspace DIR          your own workspace; an empty one shows how to add videos or the demo

environment:
  LVR_DEMO_WORKSPACE   folder of the demo workspace used without --workspace (default workspaces/demo)
  LVR_PORT             port when --port is not given (default 7860)
  LVR_LLM_BASE_URL     OpenAI-compatible base URL the Generate tab starts with (no default host)
  LVR_LLM_API_KEY      API key sent to that URL only (falls back to OPENAI_API_KEY)
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="app.py", description="LVR Workbench", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workspace", type=Path, default=None,
                   help=f"workspace folder (default: the demo workspace {DEFAULT_WORKSPACE}, created on first run; "
                        "set LVR_DEMO_WORKSPACE to move it)")
    p.add_argument("--demo", action="store_true",
                   help="with --workspace: build the demo corpus there first (6 synthetic videos, a review round, "
                        "a tiny base model; ~30 s once) and start the quick demo SFT")
    p.add_argument("--host", default="127.0.0.1", help="bind address (non-loopback requires --auth/--auth-file)")
    p.add_argument("--port", type=int, default=int(os.environ.get("LVR_PORT", 7860)))
    p.add_argument("--auth", default=None, help="user:password")
    p.add_argument("--auth-file", default=None, help="file with one user:password per line")
    p.add_argument("--no-demo", action="store_true", help="do not build the demo corpus into an empty workspace")
    p.add_argument("--no-demo-sft", action="store_true",
                   help="do not start the quick demo SFT job (the demo workspace's first start does otherwise)")
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    auth = parse_auth(args.auth, args.auth_file)
    host = bind_host(args.host)
    if not is_loopback(host) and not auth:
        sys.exit(f"refusing to bind {host!r} without --auth or --auth-file (the workbench edits data)")
    # imported after the arguments are checked: `python app.py --help` (or a refused bind) takes 0.04 s, the app
    # (gradio, torch, the store) ~8 s to import, measured
    from lvr.recipe.demo import ensure_demo_workspace
    from lvr.store import Workspace
    from workbench.app import build_app, start_demo_training
    from workbench.serving import allowed_paths, blocked_paths

    if args.demo and args.no_demo:
        sys.exit("--demo and --no-demo contradict each other: pick one")
    if args.workspace is None or args.demo:
        ws = ensure_demo_workspace(args.workspace or DEFAULT_WORKSPACE, build=not args.no_demo)
        job = None if args.no_demo or args.no_demo_sft else start_demo_training(ws)
        if job:
            print(f"demo SFT job {job} is training in the background (Train tab); its checkpoint shows up in "
                  "Chat and Evaluate when it finishes (about a minute)", flush=True)
    else:
        ws = Workspace.open(args.workspace, create=True)
        if not ws.list_videos():
            print(f"{ws.root} is an empty workspace: add videos in the Videos tab, or restart with --demo to build "
                  "the demo corpus here (the app offers that too)", flush=True)
    demo = build_app(ws)
    demo.queue(default_concurrency_limit=4).launch(
        server_name=host, server_port=args.port, auth=auth or None, prevent_thread_lock=True, quiet=True,
        allowed_paths=allowed_paths(ws), blocked_paths=blocked_paths(ws), show_error=True,
    )
    bound = bound_addresses(demo)
    if not auth and (not bound or not all(is_loopback(a) for a in bound)):
        demo.close()
        sys.exit(f"refusing to serve on {', '.join(bound) or 'an unknown address'} without --auth or --auth-file")
    print(f"LVR Workbench on http://{host}:{args.port}  (workspace {ws.root})", flush=True)
    demo.block_thread()

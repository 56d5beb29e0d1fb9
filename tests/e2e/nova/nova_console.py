"""Nova's own console token code, driven from the command line for Porthole's tests.

Runs inside the virtualenv of scripts/nova-deps.sh (Nova from PyPI). Every token is minted by Nova's
`ConsoleAuthToken(...).authorize(ttl)`, every deletion done by Nova's own object or DB API calls,
against the database named by `--connection` (an SQLAlchemy URL, as `[database] connection` in
nova.conf). Prints one JSON document on stdout.

    nova_console.py --connection URL schema                     # nova-manage db sync --local_cell
    nova_console.py --connection URL instance UUID [--name N]   # an instance row (Nova refuses tokens without one)
    nova_console.py --connection URL mint UUID HOST PORT BASE [--ttl S]   # {"token": …, "url": …, "expires": …}
    nova_console.py --connection URL clean UUID                 # ConsoleAuthToken.clean_console_auths_for_instance
    nova_console.py --connection URL destroy UUID               # Instance.destroy(): soft-delete, tokens deleted
    nova_console.py --connection URL validate TOKEN             # ConsoleAuthToken.validate: what nova-novncproxy sees
    nova_console.py --connection URL batch                      # the commands above, one a line on stdin,
                                                                # one JSON line out each (Nova imports once)
"""

import argparse
import json
import os
import shlex
import sys
import tempfile

PROJECT = "porthole-e2e"
USER = "porthole-e2e"


def configure(connection):
    """Nova's config with `[database] connection` (no RPC, no API database); once per process."""
    if connection in _configured:
        return
    _configured.add(connection)
    import nova.config
    from nova import objects
    from nova.db.main import api as main_db_api

    objects.register_all()
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("[database]\nconnection = %s\n" % connection)
        path = f.name
    try:
        nova.config.parse_args(["nova_console", "--config-file", path], configure_db=False, init_rpc=False)
    finally:
        os.unlink(path)
    main_db_api.configure(nova.config.CONF)


def context():
    import nova.context

    ctx = nova.context.get_admin_context()
    ctx.project_id = PROJECT
    ctx.user_id = USER
    return ctx


def cmd_schema(args):
    """`nova-manage db sync --local_cell`: Nova's own migrations, as an operator creates the cell
    database (idempotent: an up-to-date database is left as it is)."""
    import subprocess

    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        f.write("[database]\nconnection = %s\n" % args.connection)
        path = f.name
    try:
        manage = os.path.join(os.path.dirname(sys.executable), "nova-manage")
        done = subprocess.run([manage, "--config-file", path, "db", "sync", "--local_cell"], capture_output=True, text=True)
    finally:
        os.unlink(path)
    if done.returncode != 0:
        raise SystemExit("nova-manage db sync failed:\n" + done.stdout + done.stderr)
    return {"synced": True}


def cmd_instance(args):
    from nova import objects

    configure(args.connection)
    inst = objects.Instance(context(), uuid=args.uuid, project_id=PROJECT, user_id=USER,
                            display_name=args.name or args.uuid, host="porthole-e2e-compute")
    inst.create()
    return {"uuid": inst.uuid, "id": inst.id}


def cmd_mint(args):
    from nova import objects

    configure(args.connection)
    tok = objects.ConsoleAuthToken(context=context(), console_type=args.console_type, host=args.host,
                                   port=int(args.port), instance_uuid=args.uuid, access_url_base=args.base)
    token = tok.authorize(args.ttl)
    return {"token": token, "url": tok.access_url, "expires": tok.expires}


def cmd_clean(args):
    from nova import objects

    configure(args.connection)
    objects.ConsoleAuthToken.clean_console_auths_for_instance(context(), args.uuid)
    return {"cleaned": args.uuid}


def cmd_destroy(args):
    from nova import objects

    configure(args.connection)
    inst = objects.Instance.get_by_uuid(context(), args.uuid)
    inst.destroy()
    return {"destroyed": args.uuid}


def cmd_validate(args):
    from nova import exception, objects

    configure(args.connection)
    try:
        info = objects.ConsoleAuthToken.validate(context(), args.token)
    except exception.InvalidToken:
        return {"valid": False}
    return {"valid": True, "host": info.host, "port": info.port, "instance_uuid": info.instance_uuid}


def parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connection", help="SQLAlchemy URL of Nova's cell database")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("schema")
    sub.add_parser("batch")
    s = sub.add_parser("instance")
    s.add_argument("uuid")
    s.add_argument("--name")
    s = sub.add_parser("mint")
    s.add_argument("uuid")
    s.add_argument("host")
    s.add_argument("port")
    s.add_argument("base")
    s.add_argument("--ttl", type=int, default=600)
    s.add_argument("--console-type", default="novnc")
    for name in ("clean", "destroy"):
        sub.add_parser(name).add_argument("uuid")
    sub.add_parser("validate").add_argument("token")
    return p


_configured = set()


def run(args):
    result = globals()["cmd_" + args.cmd](args)
    if result is not None:
        json.dump(result, sys.stdout)
        sys.stdout.write("\n")
        sys.stdout.flush()


def main():
    p = parser()
    args = p.parse_args()
    if not args.connection:
        p.error("--connection is required")
    if args.cmd != "batch":
        run(args)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        one = p.parse_args(["--connection", args.connection] + shlex.split(line))
        try:
            run(one)
        except Exception as e:  # one line back per command, the batch goes on
            json.dump({"error": "%s: %s" % (type(e).__name__, e)}, sys.stdout)
            sys.stdout.write("\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()

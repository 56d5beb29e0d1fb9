"""nova-novncproxy as Nova ships it, with one change: the compute RPC `validate_console_port` is
answered in-process ("the port is right") instead of by nova-compute over RabbitMQ, so the benchmark
needs no broker and no compute service; the real call costs a round trip to nova-compute, which
re-reads the domain XML, on every connection. Everything else is Nova's own: eventlet, websockify's
fork per connection, the token lookup in the cell database, `Instance.get_by_uuid`, the RFB
security proxy, the byte pump.

Usage (in Nova's virtualenv): python bench/nova_novncproxy.py --config-file nova.conf [--web DIR]
"""
import sys

from nova.cmd import novncproxy
from nova.compute import rpcapi


def _no_rpc_client(self, *args, **kwargs):
    """No RPC client: nothing here talks to RabbitMQ."""


def _port_is_right(self, ctxt, instance, port, console_type):
    """What nova-compute answers for a console whose port still belongs to the instance."""
    return True


rpcapi.ComputeAPI.__init__ = _no_rpc_client
rpcapi.ComputeAPI.validate_console_port = _port_is_right
sys.argv[0] = "nova-novncproxy"
sys.exit(novncproxy.main())

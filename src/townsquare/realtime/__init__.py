"""The real-time gateway: Socket.IO v5 over Engine.IO v4 on its own port (see docs/REALTIME.md)."""

from townsquare.realtime.gateway import NAMESPACE, PATH, Gateway
from townsquare.realtime.registry import HandlerContext, HandlerRegistry, registry

__all__ = ["NAMESPACE", "PATH", "Gateway", "HandlerContext", "HandlerRegistry", "registry"]

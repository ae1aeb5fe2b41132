"""Python SDK for townsquare: one async client for the REST API and the real-time gateway.

async with TownsquareClient("https://community.example", gateway_url="https://rt...") as ts:
    await ts.login("ada", "correct horse battery")
    rt = ts.realtime(on_state=print)
    rt.on("notification:new", handle)
    await rt.connect()
    await rt.emit("chat:message", {"chat_id": "1", "text": "hi"})  # queued while offline
"""

from townsquare.client.api import ApiError, TownsquareClient
from townsquare.client.realtime import RealtimeClient, backoff_delay

__all__ = ["ApiError", "RealtimeClient", "TownsquareClient", "backoff_delay"]

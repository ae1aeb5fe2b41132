"""Prometheus metrics of one gateway, on a registry passed in so tests can build many gateways."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class GatewayMetrics:
    """The gateway's counters; names are documented in docs/REALTIME.md."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Gauge(
            "townsquare_gateway_connections", "Open Socket.IO connections", registry=registry
        )
        self.connects = Counter(
            "townsquare_gateway_connects", "Accepted Socket.IO connections", registry=registry
        )
        self.connect_errors = Counter(
            "townsquare_gateway_connect_errors",
            "Refused Socket.IO connections by reason",
            ["reason"],
            registry=registry,
        )
        self.disconnects = Counter(
            "townsquare_gateway_disconnects",
            "Closed Socket.IO connections by reason",
            ["reason"],
            registry=registry,
        )
        self.events_in = Counter(
            "townsquare_gateway_events_in", "Client events received", ["event"], registry=registry
        )
        self.events_out = Counter(
            "townsquare_gateway_events_out",
            "Event deliveries written to clients",
            ["event"],
            registry=registry,
        )
        self.fanout_seconds = Histogram(
            "townsquare_gateway_fanout_seconds",
            "Time to write one broadcast to all its local recipients",
            buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
            registry=registry,
        )
        self.slow_consumers = Counter(
            "townsquare_gateway_slow_consumer_drops",
            "Connections dropped for not keeping up",
            registry=registry,
        )
        self.recovery = Counter(
            "townsquare_gateway_recovery",
            "Reconnections asking for missed events, by outcome",
            ["outcome"],
            registry=registry,
        )
        self.room_evictions = Counter(
            "townsquare_gateway_room_evictions",
            "Connections taken out of a room by a `room:left` event",
            registry=registry,
        )
        self.rate_limited = Counter(
            "townsquare_gateway_rate_limited",
            "Client events refused by a rate limit",
            ["event"],
            registry=registry,
        )

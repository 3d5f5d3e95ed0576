import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { uncaughtErrors } from './lastResort.js';

/** Prometheus metrics of one node, served at GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'switchboard_ws_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  readonly messagesIn = new Counter({
    name: 'switchboard_ws_messages_received_total',
    help: 'Client messages received, by type',
    labelNames: ['type'],
    registers: [this.registry],
  });
  readonly errorsSent = new Counter({
    name: 'switchboard_ws_errors_total',
    help: 'Error replies sent, by code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly disconnects = new Counter({
    name: 'switchboard_ws_disconnects_total',
    help: 'Connections closed by the server, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly refused = new Counter({
    name: 'switchboard_ws_refused_total',
    help: 'WebSocket upgrades refused before a connection was made, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly joinSeconds = new Histogram({
    name: 'switchboard_join_duration_seconds',
    help: 'Time from join request to joined',
    registers: [this.registry],
    buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });

  constructor(gauges: { rooms: () => number; participants: () => number }) {
    collectDefaultMetrics({ register: this.registry });
    this.registry.registerMetric(uncaughtErrors); // the process's last-resort handlers (server/kernel/lastResort.ts)
    new Gauge({
      name: 'switchboard_rooms',
      help: 'Rooms open on this node',
      registers: [this.registry],
      collect() {
        this.set(gauges.rooms());
      },
    });
    new Gauge({
      name: 'switchboard_participants',
      help: 'Participants joined on this node',
      registers: [this.registry],
      collect() {
        this.set(gauges.participants());
      },
    });
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { uncaughtErrors } from './lastResort.js';

/** Prometheus metrics of one node, served at GET /metrics. */
export class Metrics {
  readonly registry = new Registry();
  readonly connections = new Gauge({ name: 'switchboard_ws_connections', help: 'Open WebSocket connections', registers: [this.registry] });
  /** Received messages by type since the last scrape: a plain map on the hot path (prom-client hashes the labels on every inc). */
  private readonly receivedSinceScrape = new Map<string, number>();
  readonly messagesIn = new Counter({
    name: 'switchboard_ws_messages_received_total',
    help: 'Client messages received, by type',
    labelNames: ['type'],
    registers: [this.registry],
    collect: () => {
      for (const [type, n] of this.receivedSinceScrape) this.messagesIn.inc({ type }, n);
      this.receivedSinceScrape.clear();
    },
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

  /** Counts one received message of this type (in switchboard_ws_messages_received_total at the next scrape). */
  messageReceived(type: string): void {
    this.receivedSinceScrape.set(type, (this.receivedSinceScrape.get(type) ?? 0) + 1);
  }
}

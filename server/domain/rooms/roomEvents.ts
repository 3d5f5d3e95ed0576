// The rooms domain's webhook events: each is heard in process first (the
// observer), then written to the outbox before the action is acknowledged;
// events of things that happened anyway are retried until the database is back.

import { EventEmitter } from 'node:events';
import type { EventName, RoomEvent } from '../events.js';
import type { Room } from './room.js';
import type { RoomContext } from './roomContext.js';

/**
 * What the rooms domain tells the rest of the node in process. `event`: every
 * event it records, just before it goes to the webhook outbox (recording
 * listens for room_finished to stop the call's recording).
 */
export interface RoomObserverEvents {
  event: [RoomEvent];
}

export class RoomEvents {
  /** Listeners must not throw: they run inside the action that records the event. */
  readonly observer = new EventEmitter<RoomObserverEvents>();
  /** Rooms whose room_started event was recorded (room_finished follows only those). */
  private readonly announced = new WeakSet<Room>();

  constructor(private readonly ctx: RoomContext) {}

  wasAnnounced(room: Room): boolean {
    return this.announced.has(room);
  }

  markAnnounced(room: Room): void {
    this.announced.add(room);
  }

  /** Records a webhook event (the observer hears it first); the outbox write happens before the action is acknowledged. */
  async emit(name: EventName, room: Room, data: Record<string, unknown>): Promise<void> {
    const event: RoomEvent = { name, room: room.name, data: { call_id: room.callId, ...data } };
    this.observer.emit('event', event);
    await this.ctx.ctl.events.emit(event);
  }

  /**
   * Records an event of something that has happened anyway (a track published
   * or closed): if the database refuses it, it is retried until the database
   * is back instead of being lost. Never rejects.
   */
  async emitDurably(what: string, name: EventName, room: Room, data: Record<string, unknown>): Promise<void> {
    const event = { call_id: room.callId, ...data };
    try {
      await this.emit(name, room, event);
    } catch (err) {
      this.ctx.log.error({ err, room: room.name, event: name }, 'could not record a webhook event; retrying until the database is back');
      this.ctx.deferred.add(what, () => this.emit(name, room, event));
    }
  }
}

// SFU requests of participants: the permission checks of the rooms domain,
// then the room's MediaRoom does the work.

import type { AckResults, ClientPayloads } from '../../../signaling/protocol/protocol.js';
import type { Room } from './room.js';
import type { MediaRoom } from '../../../sfu/mediaRoom.js';
import type { Sfu } from '../../../sfu/sfu.js';
import { AppError } from '../../kernel/errors.js';
import { tellParticipants, type TrackEvent, type TrackPayload } from './mediaNews.js';
import type { Participant } from './participant.js';
import { assertAllowed } from './permissions.js';
import type { RoomService } from './roomService.js';

const EMPTY = Object.freeze({}) as Record<string, never>;

export class MediaService {
  /** Track events being written to the outbox, per room, so `produce` acks only after its event is stored. */
  private readonly recording = new WeakMap<Room, Promise<void>>();
  constructor(
    private readonly rooms: RoomService,
    private readonly sfu: Sfu | null,
  ) {}

  /** The room's MediaRoom, made on first use, with this participant in it. */
  private media(p: Participant): MediaRoom {
    if (!this.sfu) throw new AppError('unavailable', 'this server runs without an SFU (RTC_WORKERS=0)');
    const room = this.rooms.roomOf(p);
    if (!room.media) {
      room.media = this.sfu.createRoom(room.name);
      tellParticipants(room.media, room, (event, track) => this.trackEvent(room, event, track));
    }
    room.media.addPeer(p.id);
    return room.media;
  }

  /**
   * Runs one SFU request on the participant's room. A mediasoup object that
   * closed under the request (the room ended, the participant left, a worker
   * was replaced) is the request's bad luck, not a bug: `not_in_room` or
   * `unavailable` (retry after sfu-reset). Any other error that is no
   * client's mistake may mean a worker stopped answering: the room's workers
   * get a health check at once.
   */
  private async run<T>(p: Participant, fn: (media: MediaRoom) => T | Promise<T>): Promise<T> {
    const media = this.media(p);
    try {
      return await fn(media);
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (media.closed || p.gone) throw new AppError('not_in_room', 'the room closed while the request ran');
      if (err instanceof Error && err.name === 'InvalidStateError') {
        throw new AppError('unavailable', 'the media server reset under this request; try again after sfu-reset');
      }
      media.suspectWorkers(err);
      throw err;
    }
  }

  private mayPublish(p: Participant): void {
    assertAllowed(p.identity.role, 'publish', this.rooms.roomOf(p).settings.type);
  }

  /** track_published / track_unpublished webhooks, in the order the SFU announced the tracks. */
  private trackEvent(room: Room, name: TrackEvent, track: TrackPayload): void {
    const previous = this.recording.get(room) ?? Promise.resolve();
    // A refused write is retried until the database is back (the track exists whatever the database says).
    const recorded = previous.then(() => this.rooms.emitDurably(`${name} of ${track.producer_id}`, name, room, { track }));
    this.recording.set(room, recorded);
  }

  async capabilities(p: Participant): Promise<AckResults['sfu-capabilities']> {
    return { router_rtp_capabilities: await this.run(p, (m) => m.rtpCapabilities()) };
  }

  createTransport(p: Participant, req: ClientPayloads['create-transport']): Promise<AckResults['create-transport']> {
    return this.run(p, async (m) => ({
      transport: await m.createTransport(p.id, req.direction, req.sctp ?? false, req.force_tcp ?? false),
    }));
  }

  async connectTransport(p: Participant, req: ClientPayloads['connect-transport']): Promise<typeof EMPTY> {
    await this.run(p, (m) => m.connectTransport(p.id, req.transport_id, req.dtls_parameters));
    return EMPTY;
  }

  restartIce(p: Participant, req: ClientPayloads['restart-ice']): Promise<AckResults['restart-ice']> {
    return this.run(p, async (m) => ({ ice_parameters: await m.restartIce(p.id, req.transport_id) }));
  }

  async produce(p: Participant, req: ClientPayloads['produce']): Promise<AckResults['produce']> {
    this.mayPublish(p);
    // A participant muted by signaling publishes paused, so mute holds for late tracks too.
    const muted = (req.source === 'mic' && p.audioMuted) || (req.source === 'camera' && p.videoMuted);
    const producerId = await this.run(p, (m) =>
      m.produce(p.id, {
        transportId: req.transport_id,
        kind: req.kind,
        rtpParameters: req.rtp_parameters,
        source: req.source,
        paused: (req.paused ?? false) || muted,
      }),
    );
    await this.recording.get(this.rooms.roomOf(p));
    return { producer_id: producerId };
  }

  async setProducerPaused(p: Participant, producerId: string, paused: boolean): Promise<typeof EMPTY> {
    await this.run(p, (m) => m.setProducerPaused(p.id, producerId, paused));
    return EMPTY;
  }

  async closeProducer(p: Participant, producerId: string): Promise<typeof EMPTY> {
    await this.run(p, (m) => m.closeProducer(p.id, producerId));
    await this.recording.get(this.rooms.roomOf(p)); // its track_unpublished is stored before the ack
    return EMPTY;
  }

  consume(p: Participant, req: ClientPayloads['consume']): Promise<AckResults['consume']> {
    return this.run(p, async (m) => ({
      consumer: await m.consume(p.id, {
        transportId: req.transport_id,
        producerId: req.producer_id,
        rtpCapabilities: req.rtp_capabilities,
      }),
    }));
  }

  async setConsumerPaused(p: Participant, consumerId: string, paused: boolean): Promise<typeof EMPTY> {
    await this.run(p, (m) => m.setConsumerPaused(p.id, consumerId, paused));
    return EMPTY;
  }

  async setConsumerLayers(p: Participant, req: ClientPayloads['set-consumer-layers']): Promise<typeof EMPTY> {
    await this.run(p, (m) => m.setConsumerLayers(p.id, req.consumer_id, req.spatial_layer, req.temporal_layer));
    return EMPTY;
  }

  async produceData(p: Participant, req: ClientPayloads['produce-data']): Promise<AckResults['produce-data']> {
    const id = await this.run(p, (m) =>
      m.produceData(p.id, {
        transportId: req.transport_id,
        sctpStreamParameters: req.sctp_stream_parameters,
        label: req.label ?? '',
        protocol: req.protocol ?? '',
      }),
    );
    return { data_producer_id: id };
  }

  consumeData(p: Participant, req: ClientPayloads['consume-data']): Promise<AckResults['consume-data']> {
    return this.run(p, async (m) => ({ data_consumer: await m.consumeData(p.id, req.transport_id, req.data_producer_id) }));
  }

  closeDataProducer(p: Participant, dataProducerId: string): typeof EMPTY {
    this.media(p).closeDataProducer(p.id, dataProducerId);
    return EMPTY;
  }

  async stats(p: Participant, req: ClientPayloads['get-stats']): Promise<AckResults['get-stats']> {
    const ids = {
      ...(req.transport_id ? { transportId: req.transport_id } : {}),
      ...(req.producer_id ? { producerId: req.producer_id } : {}),
      ...(req.consumer_id ? { consumerId: req.consumer_id } : {}),
    };
    return { stats: await this.run(p, (m) => m.stats(p.id, ids)) };
  }
}

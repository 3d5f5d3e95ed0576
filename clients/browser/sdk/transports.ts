// The WebRTC plumbing under the media session: the mediasoup-client Device
// (loaded with the SFU's capabilities), one send and one receive transport
// made on demand, and ICE restarts when a transport fails or stays
// disconnected. Dropping everything starts a new generation: work begun in an
// older one is stale.

import { Device } from 'mediasoup-client';
import type {
  ConnectionState as TransportConnectionState,
  IceParameters,
  RtpCapabilities,
  Transport,
  TransportOptions,
} from 'mediasoup-client/types';
import { wireTransport } from '../../shared/transportWiring.js';
import { StaleError } from './retry.js';
import type { Signaling } from './signaling.js';
import type { ClientOptions, EmitSdkEvent } from './types.js';

type TransportSettings = Pick<ClientOptions, 'handlerName' | 'iceServers' | 'iceTransportPolicy' | 'forceTcp' | 'iceDisconnectedGraceMs'>;

export class Transports {
  device: Device | null = null;
  /** Bumped whenever transports are dropped: work begun before then is stale. */
  generation = 0;

  private deviceReady: Promise<Device> | null = null;
  private sendTransport: Promise<Transport> | null = null;
  private recvTransport: Promise<Transport> | null = null;
  private readonly open = new Set<Transport>();
  private readonly iceRestarts = new Map<Transport, { attempts: number; timer?: ReturnType<typeof setTimeout> }>();

  constructor(
    private readonly signaling: Signaling,
    private readonly settings: TransportSettings,
    private readonly emit: EmitSdkEvent,
  ) {}

  /** Throws StaleError when the transports were dropped since `generation`. */
  checkGeneration(generation: number): void {
    if (generation !== this.generation) throw new StaleError();
  }

  loadDevice(): Promise<Device> {
    this.deviceReady ??= (async () => {
      const device = await Device.factory(this.settings.handlerName ? { handlerName: this.settings.handlerName } : {});
      const { router_rtp_capabilities } = await this.signaling.request('sfu-capabilities', {});
      await device.load({ routerRtpCapabilities: router_rtp_capabilities as RtpCapabilities });
      this.device = device;
      return device;
    })();
    this.deviceReady.catch(() => (this.deviceReady = null)); // try again next time
    return this.deviceReady;
  }

  send(): Promise<Transport> {
    this.sendTransport ??= this.create('send');
    return this.sendTransport;
  }

  recv(): Promise<Transport> {
    this.recvTransport ??= this.create('recv');
    return this.recvTransport;
  }

  /** Marks all work begun so far as stale (before the transports are closed). */
  nextGeneration(): void {
    this.generation++;
  }

  /** Closes every transport locally (the server's are gone or going); the next send()/recv() makes new ones. */
  closeAll(): void {
    for (const transport of this.open) {
      clearTimeout(this.iceRestarts.get(transport)?.timer);
      transport.close();
    }
    this.open.clear();
    this.iceRestarts.clear();
    this.sendTransport = null;
    this.recvTransport = null;
  }

  private async create(direction: 'send' | 'recv'): Promise<Transport> {
    const generation = this.generation;
    try {
      const device = await this.loadDevice();
      const { transport: remote } = await this.signaling.request('create-transport', {
        direction,
        ...(this.settings.forceTcp ? { force_tcp: true } : {}),
      });
      this.checkGeneration(generation);
      const options: TransportOptions = {
        ...(remote as unknown as TransportOptions),
        ...(this.settings.iceServers ? { iceServers: this.settings.iceServers } : {}),
        ...(this.settings.iceTransportPolicy ? { iceTransportPolicy: this.settings.iceTransportPolicy } : {}),
      };
      const transport = direction === 'send' ? device.createSendTransport(options) : device.createRecvTransport(options);
      wireTransport(transport, this.signaling);
      transport.on('connectionstatechange', (state) => this.onState(transport, state));
      this.open.add(transport);
      return transport;
    } catch (err) {
      // Let the next publish/subscribe try again (unless a reset already did).
      if (generation === this.generation) {
        if (direction === 'send') this.sendTransport = null;
        else this.recvTransport = null;
      }
      throw err;
    }
  }

  /** ICE restart when a transport fails, or stays disconnected past the grace period. */
  private onState(transport: Transport, state: TransportConnectionState): void {
    this.emit('transport-state', { direction: transport.direction, state });
    const entry = this.iceRestarts.get(transport) ?? { attempts: 0 };
    this.iceRestarts.set(transport, entry);
    clearTimeout(entry.timer);
    if (state === 'connected') {
      entry.attempts = 0;
    } else if (state === 'failed' || state === 'disconnected') {
      // First restart right away on failure (after a grace period on disconnected), then backing off.
      const delay =
        state === 'failed' && entry.attempts === 0
          ? 0
          : Math.max(this.settings.iceDisconnectedGraceMs ?? 2000, Math.min(30_000, 1000 * 2 ** entry.attempts));
      entry.timer = setTimeout(() => void this.restartIce(transport, entry), delay);
    }
  }

  private async restartIce(transport: Transport, entry: { attempts: number }): Promise<void> {
    if (transport.closed || !this.open.has(transport) || this.signaling.state !== 'connected') return;
    if (transport.connectionState === 'connected' || transport.connectionState === 'new') return;
    entry.attempts++;
    try {
      const { ice_parameters } = await this.signaling.request('restart-ice', { transport_id: transport.id });
      if (!transport.closed) await transport.restartIce({ iceParameters: ice_parameters as IceParameters });
    } catch (error) {
      if (!transport.closed) this.emit('media-error', { action: 'restart-ice', error: error as Error });
    }
  }
}

// Calls across the cluster: a call rings on the node that opened it (its
// room's node), and its invitees' devices may be on any node. There is no
// presence directory: a ring goes to every live node, which rings the user's
// devices it holds (a dead node's devices are gone with it). Declines come
// back to the call's node over the bus; accepts go there over a relay link
// (ClusterRelay.acceptElsewhere), as joins do.

import type { CallNetwork } from '../../domain/calls/callNetwork.js';
import type { CallService } from '../../domain/calls/callService.js';
import type { CallDeclineReason, CallParty, ServerPayloads } from '../../../signaling/protocol/protocol.js';
import { AppError } from '../../kernel/errors.js';
import type { Logger } from '../../kernel/logger.js';
import type { ClusterNode } from './clusterNode.js';

/** A node that does not answer a ring in time rings nothing (its devices miss this call). */
const RING_TIMEOUT_MS = 2000;

export class ClusterCalls implements CallNetwork {
  private calls: CallService | null = null;

  constructor(
    private readonly cluster: ClusterNode,
    private readonly log: Logger,
  ) {
    const bus = cluster.bus;
    bus.handle('calls.ring', (p) => this.local().ringHere(p.user_id, p.incoming));
    bus.handle('calls.deliver', (p) => this.local().deliverHere(p.user_id, p.text, p.except_device));
    bus.handle('calls.decline', async (p) => {
      await this.local().decline(p.by, p.call_id, p.reason);
      return {};
    });
  }

  /** The node's calls, once app.ts made them (the bus may deliver earlier: those wait for a retry). */
  attach(calls: CallService): void {
    this.calls = calls;
  }

  private local(): CallService {
    if (!this.calls) throw new AppError('unavailable', 'this node is starting');
    return this.calls;
  }

  private others(): string[] {
    const self = this.cluster.bus.nodeId;
    return this.cluster.registry
      .cachedNodes()
      .map((n) => n.id)
      .filter((id) => id !== self);
  }

  async ring(userId: string, incoming: ServerPayloads['call-incoming']): Promise<{ devices: number; busy: boolean }> {
    const answers = await Promise.all(
      this.others().map((node) =>
        this.cluster.bus.request(node, 'calls.ring', { user_id: userId, incoming }, RING_TIMEOUT_MS).catch((err: unknown) => {
          this.log.warn({ err, node, call_id: incoming.call_id }, 'a node did not ring its devices');
          return { devices: 0, busy: false };
        }),
      ),
    );
    return { devices: answers.reduce((n, a) => n + a.devices, 0), busy: answers.some((a) => a.busy) };
  }

  deliver(userId: string, encoded: string, exceptDevice: string | null): void {
    for (const node of this.others())
      this.cluster.bus.send(node, 'calls.deliver', { user_id: userId, text: encoded, except_device: exceptDevice });
  }

  /** A decline from a device here, for a call that rings from another node (false: the call is here or nowhere). */
  async declineElsewhere(callId: string, by: CallParty, reason: CallDeclineReason): Promise<boolean> {
    const owner = await this.local().nodeOf(callId);
    if (owner === null || owner === this.cluster.bus.nodeId) return false;
    await this.cluster.bus.request(owner, 'calls.decline', { call_id: callId, by, reason });
    return true;
  }
}

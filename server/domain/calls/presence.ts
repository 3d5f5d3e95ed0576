// Who can be rung on this node: every authenticated connection, by user. A
// user may have several devices (connections); a call rings all of them.

export interface CallDevice {
  /** Unique in the cluster: a device answering on one node is told apart from the user's others. */
  readonly id: string;
  readonly userId: string;
  /** Sends one encoded server message. */
  send(encoded: string): void;
  /** The room this connection is in or joining, null when it is free. */
  room(): string | null;
}

export class Presence {
  private readonly byUser = new Map<string, Set<CallDevice>>();
  private count = 0;

  add(device: CallDevice): void {
    let devices = this.byUser.get(device.userId);
    if (!devices) this.byUser.set(device.userId, (devices = new Set()));
    if (!devices.has(device)) this.count++;
    devices.add(device);
  }

  remove(device: CallDevice): void {
    const devices = this.byUser.get(device.userId);
    if (!devices?.delete(device)) return;
    this.count--;
    if (devices.size === 0) this.byUser.delete(device.userId);
  }

  devices(userId: string): CallDevice[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  /** The user is in a call (or any room) on one of its devices: a new call would be call waiting. */
  busy(userId: string): boolean {
    return this.devices(userId).some((d) => d.room() !== null);
  }

  get users(): number {
    return this.byUser.size;
  }

  get connections(): number {
    return this.count;
  }
}

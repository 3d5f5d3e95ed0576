// The room -> node directory seam. A single node owns every room it is asked
// about; the Redis implementation (cluster mode) places rooms across nodes.
// Everything above this interface is the same for one node and for a cluster.

export interface RoomDirectory {
  /** This node's id (the owner `claim` and `locate` answer when the room is here). */
  readonly nodeId: string;
  /** Claims the room for this node unless another node owns it; resolves to the owner's node id. */
  claim(room: string): Promise<string>;
  /** Gives up this node's ownership of the room (it emptied or ended). */
  release(room: string): Promise<void>;
  /**
   * Cluster: the node that runs the room, placing it (on the node the
   * selector picks) when it runs nowhere. Two nodes racing on a new room get the same answer.
   */
  locate(room: string): Promise<string>;
  /** The room's owner, or null when it runs nowhere (no placement). */
  owner(room: string): Promise<string | null>;
  close(): Promise<void>;
}

export class LocalRoomDirectory implements RoomDirectory {
  constructor(readonly nodeId: string) {}

  async claim(): Promise<string> {
    return this.nodeId;
  }

  async release(): Promise<void> {}

  async locate(): Promise<string> {
    return this.nodeId;
  }

  async owner(): Promise<string> {
    return this.nodeId;
  }

  async close(): Promise<void> {}
}

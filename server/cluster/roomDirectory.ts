// The room -> node directory seam. A single node owns every room it is asked
// about; the Redis implementation (cluster mode) places rooms across nodes.

export interface RoomDirectory {
  /** Claims the room for this node unless another node owns it; resolves to the owner's node id. */
  claim(room: string): Promise<string>;
  /** Gives up this node's ownership of the room (it emptied or ended). */
  release(room: string): Promise<void>;
  close(): Promise<void>;
}

export class LocalRoomDirectory implements RoomDirectory {
  constructor(private readonly nodeId: string) {}

  async claim(): Promise<string> {
    return this.nodeId;
  }

  async release(): Promise<void> {}

  async close(): Promise<void> {}
}

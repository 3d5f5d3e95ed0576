// Which media an SDP offer/answer would send. Peer-to-peer calls never reach
// the SFU, so a viewer's "listen/watch only" is enforced on the SDP it relays:
// every audio/video section must be recvonly or inactive.

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';
const DIRECTIONS = new Set<string>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/** Kinds of the audio/video sections that would send media (RFC 3264: no attribute means sendrecv). */
export function sendingMedia(sdp: string): string[] {
  const lines = sdp.split(/\r?\n/);
  let sessionDirection: Direction = 'sendrecv';
  const sections: Array<{ kind: string; port: number; direction: Direction | null }> = [];
  for (const line of lines) {
    if (line.startsWith('m=')) {
      const [kind = '', port = '0'] = line.slice(2).split(' ');
      sections.push({ kind, port: Number(port), direction: null });
    } else if (line.startsWith('a=') && DIRECTIONS.has(line.slice(2).trim())) {
      const direction = line.slice(2).trim() as Direction;
      const current = sections[sections.length - 1];
      if (current) current.direction = direction;
      else sessionDirection = direction;
    }
  }
  return sections
    .filter((s) => (s.kind === 'audio' || s.kind === 'video') && s.port !== 0) // port 0: rejected section
    .filter((s) => {
      const d = s.direction ?? sessionDirection;
      return d === 'sendrecv' || d === 'sendonly';
    })
    .map((s) => s.kind);
}

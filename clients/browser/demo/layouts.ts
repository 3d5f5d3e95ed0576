// Where each tile goes: the stage's layouts as a pure function of the tiles,
// the chosen layout, the active speaker and the page. stage.ts applies the
// result to the DOM (featured tile, strip, hidden tiles, the pager).

/** What the user picks; `auto` is presenter while someone shares a screen, else grid. */
export type LayoutChoice = 'auto' | 'grid' | 'speaker';
/** What the stage shows. */
export type Layout = 'grid' | 'speaker' | 'presenter';

export interface TileRef {
  /** `<participant id>:<kind>`. */
  key: string;
  participantId: string;
  kind: 'camera' | 'screen';
  self: boolean;
}

export interface Arrangement {
  layout: Layout;
  /** The big tile (speaker and presenter layouts). */
  featured: string | null;
  /** The tiles shown on this page, in order (the featured one excluded). */
  shown: string[];
  /** Tiles on other pages: hidden, their video paused. */
  hidden: string[];
  page: number;
  pages: number;
}

/**
 * Grid: every tile, `pageSize` a page, this client's own first. Speaker: the
 * active speaker's camera big (else the first other person's), the rest in
 * a paged strip. Presenter: the newest screen share big, cameras in the strip.
 */
export function arrange(tiles: TileRef[], choice: LayoutChoice, activeSpeaker: string | null, pageSize: number, page: number): Arrangement {
  const screens = tiles.filter((t) => t.kind === 'screen');
  const layout: Layout = choice === 'speaker' ? 'speaker' : choice === 'grid' || screens.length === 0 ? 'grid' : 'presenter';
  let featured: string | null = null;
  if (layout === 'presenter') {
    featured = (screens.find((s) => !s.self) ?? screens[0]).key; // someone else's share before one's own
  } else if (layout === 'speaker') {
    const cameras = tiles.filter((t) => t.kind === 'camera');
    const speaker = cameras.find((t) => t.participantId === activeSpeaker && !t.self) ?? cameras.find((t) => !t.self) ?? cameras[0];
    featured = speaker?.key ?? null;
  }
  const rest = tiles.filter((t) => t.key !== featured);
  // Own tile first, then screens, then everyone in the order they came.
  const ordered = [...rest.filter((t) => t.self && t.kind === 'camera'), ...rest.filter((t) => !(t.self && t.kind === 'camera'))];
  const size = Math.max(1, pageSize);
  const pages = Math.max(1, Math.ceil(ordered.length / size));
  const current = Math.min(Math.max(0, page), pages - 1);
  const shown = ordered.slice(current * size, (current + 1) * size).map((t) => t.key);
  const hidden = ordered.map((t) => t.key).filter((k) => !shown.includes(k));
  return { layout, featured, shown, hidden, page: current, pages };
}

/** Columns for a grid of n tiles: as square as the width allows. */
export function gridColumns(n: number, narrow: boolean): number {
  if (narrow) return n <= 1 ? 1 : 2;
  return Math.max(1, Math.ceil(Math.sqrt(n)));
}

/** The simulcast layer that fits a tile this many CSS pixels wide (r0 320, r1 640, r2 1280). */
export function layerForWidth(width: number): number {
  if (width < 320) return 0;
  if (width < 640) return 1;
  return 2;
}

// The reactions a participant may send (`react`), in the order apps show them.
// The same words as the wire catalog's LIVE_REACTIONS, kept here so the bundle
// needs none of the catalog's runtime code; the type check below keeps them equal.

import type { LiveReaction } from '../../../signaling/protocol/protocol.js';

export const REACTIONS = ['heart', 'like', 'fire', 'clap', 'laugh', 'wow', 'sad', 'angry'] as const satisfies readonly LiveReaction[];

/** Fails to compile when the catalog has a reaction this list lacks. */
type Missing = Exclude<LiveReaction, (typeof REACTIONS)[number]>;
const complete: [Missing] extends [never] ? true : Missing = true;
void complete;

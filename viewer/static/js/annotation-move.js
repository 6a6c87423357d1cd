// Moving a point or a line: the draft of the mark being moved, in slide level-0 pixels (as
// stored), and which part of it moves, a line's end or all of it. Pure: the layer that draws
// the draft (annotation-marks.js) converts the pointer and the arrow keys' steps from the
// screen through OpenSeadragon's transform, so a move is right under rotation and zoom.
//
// The keys are the same on the viewer and in the panel (`moveKeyAction`): the arrows move the
// chosen part a step on the screen (Shift: ten steps), E chooses the next part of a line,
// Enter saves, Esc cancels.

/** How far one arrow key moves the mark, in screen pixels; with Shift, `FAST_STEPS` times. */
export const KEY_STEP_PX = 4;
export const FAST_STEPS = 10;

/** The part of a line meaning "all of it" (a point has no other part). */
export const WHOLE = "whole";

const ARROWS = {
  ArrowLeft: [-1, 0],
  ArrowRight: [1, 0],
  ArrowUp: [0, -1],
  ArrowDown: [0, 1],
};

/**
 * What a key does to a move: `{nudge: [dx, dy]}` (screen pixels), `"next-part"`, `"save"`,
 * `"cancel"`, or null (not a key of the move: it does what it did before).
 */
export function moveKeyAction(event) {
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  const arrow = ARROWS[event.key];
  if (arrow) {
    const step = KEY_STEP_PX * (event.shiftKey ? FAST_STEPS : 1);
    return { nudge: [arrow[0] * step, arrow[1] * step] };
  }
  if (event.key === "e" || event.key === "E") return "next-part";
  if (event.key === "Enter") return "save";
  if (event.key === "Escape") return "cancel";
  return null;
}

function copyOf(mark) {
  return mark.type === "point"
    ? { type: "point", position: [...mark.position] }
    : { type: "line", positions: mark.positions.map((p) => [...p]) };
}

/**
 * One mark being moved (`mark`: `{type: "point", position}` or `{type: "line", positions}`,
 * as annotation-geometry.js's displayOfFeature gives it), for the annotation `id`. `draft` is
 * where it is now; `original` where it was; `part` which part moves: a vertex index of a line,
 * or WHOLE.
 */
export class MarkMove {
  constructor(id, mark) {
    this.id = id;
    this.original = copyOf(mark);
    this.draft = copyOf(mark);
    this.part = WHOLE; // a line moves whole until an end is chosen
    this.grabbed = null; // {part, from (level-0 point pressed), draft at the press}
  }

  get isLine() {
    return this.draft.type === "line";
  }

  /** The draft's vertices: a point's one, a line's ends (and any corner between). */
  positions() {
    return this.isLine ? this.draft.positions : [this.draft.position];
  }

  /** Whether the draft is somewhere else than the original. */
  get moved() {
    const before = this.isLine ? this.original.positions : [this.original.position];
    return this.positions().some((p, i) => p[0] !== before[i][0] || p[1] !== before[i][1]);
  }

  /** Choose the next part of a line: its start, its end (each corner between), all of it. */
  nextPart() {
    if (!this.isLine) return;
    const count = this.draft.positions.length;
    if (this.part === WHOLE) this.part = 0;
    else this.part = this.part + 1 < count ? this.part + 1 : WHOLE;
  }

  /** Say which part moves, for the panel and its live region. */
  partName() {
    if (!this.isLine) return "the point";
    if (this.part === WHOLE) return "the whole line";
    if (this.part === 0) return "the line's start";
    if (this.part === this.draft.positions.length - 1) return "the line's end";
    return `corner ${this.part} of the line`;
  }

  /** Level-0 position of the chosen part (a line's whole: its first vertex, as a reference). */
  anchor(part = this.part) {
    return this.positions()[part === WHOLE ? 0 : part];
  }

  /** Move `part` (default the chosen one) by `[dx, dy]` level-0 pixels. */
  translate([dx, dy], part = this.part) {
    const shift = (p) => [p[0] + dx, p[1] + dy];
    if (!this.isLine) {
      this.draft.position = shift(this.draft.position);
      return;
    }
    this.draft.positions = this.draft.positions.map((p, i) =>
      part === WHOLE || part === i ? shift(p) : p,
    );
  }

  /** A drag begins on `part` at level-0 point `from`; it becomes the chosen part. */
  grab(part, from) {
    this.part = part;
    this.grabbed = { part, from, start: copyOf(this.draft) };
  }

  /** The drag is at level-0 point `to`: the grabbed part follows it from where it was. */
  dragTo(to) {
    if (!this.grabbed) return;
    const { part, from, start } = this.grabbed;
    this.draft = copyOf(start);
    this.translate([to[0] - from[0], to[1] - from[1]], part);
  }

  /** The drag ended. */
  release() {
    this.grabbed = null;
  }
}

// Moving a point or a line, for the annotations panel: "Move" in the list, or a click on the
// mark in the viewer, starts it; the mark or its ends are dragged in the viewer, or moved with
// the arrow keys (on the viewer or in the list's item: annotation-move.js's keys); Enter, a
// click beside it or "Save position" saves it through the panel (If-Match, like a reshape),
// Esc or "Cancel move" puts it back. A refused save draws the saved one again and the panel
// says why. Every step is said in the panel's live region.

import { featureFromDrawing } from "/static/js/annotation-geometry.js";
import { MarkMove } from "/static/js/annotation-move.js";
import { problemOf } from "/static/js/panel-kit.js";
import { addListedOnly } from "/static/js/shortcuts.js";

const SAVE_OR_CANCEL = "Enter or a click beside it saves, Esc cancels.";
export const CANCELLED = "Move cancelled: the annotation is back where it was.";

// Listed under the viewer's own arrow keys (the page lists its keys after the modules load):
// while moving, the same keys move the mark.
addListedOnly({
  label: "Arrow keys, Shift + arrow keys",
  description: "Moving a point or line: move it (or the line's chosen end) a step, or ten",
  after: "Arrow keys or W A S D",
});
addListedOnly({
  label: "E",
  description: "Moving a line: move its start, its end, or all of it",
  after: "Arrow keys, Shift + arrow keys",
});
addListedOnly({ label: "Enter", description: "Moving a point or line: save it there", after: "E" });
addListedOnly({
  label: "Esc",
  description: "Moving a point or line: cancel, it goes back",
  after: "Enter",
});

function hintOf(move) {
  if (!move.isLine) {
    return `Moving the point: drag it in the viewer or use the arrow keys. ${SAVE_OR_CANCEL}`;
  }
  return (
    `Moving ${move.partName()}: drag the line or an end in the viewer, or use the arrow keys ` +
    `(E: its start, its end, or all of it). ${SAVE_OR_CANCEL}`
  );
}

/**
 * The move of the panel. `list`: the AnnotationList; `layers()`: the viewer's AnnotationLayers
 * (or null); `records()`: the Map of viewer id -> {annotation, display}; `mayMove(record)`;
 * `prepare()` before a move starts (drawing tools off); `tell(message, {error})`: the live
 * region; `store(id, geojson)` resolves with the stored annotation or rejects, then
 * `refused(error)` says why; `describe(annotation)`; `slideSize()`; `select(id)` shows one
 * selected that may not be moved.
 */
export class MarkMover {
  constructor(parts) {
    Object.assign(this, parts);
    this.move = null;
  }

  /** Start moving the point or line `id`; false if it may not be (read-only, another's). */
  start(id, { focus }) {
    const current = this.records().get(id);
    const layers = this.layers();
    if (!current || !layers || !current.display.movableMark || !this.mayMove(current)) {
      return false;
    }
    if (this.move) this.save(); // the one moved before is kept, as a reshape is
    this.prepare(); // before the move exists: a change of pointer tool cancels a move
    const move = new MarkMove(id, current.display.marks[0]);
    this.move = move;
    layers.startMove(move);
    this.list.moving = { id, part: move.partName() };
    this.list.show(this.records());
    this.list.markSelected([id]);
    if (focus) this.list.focusMove();
    this.tell(hintOf(move));
    return true;
  }

  /** "Move" in the list: the mark framed in the viewer, the focus on the move's buttons. */
  startFromList(id) {
    const current = this.records().get(id);
    if (current) this.layers()?.frame(current);
    this.start(id, { focus: true });
  }

  /** A click on a point or line in the viewer: moved if one may (as a click on a region gives
   * its handles), else selected; true: the click was taken (it does not zoom). */
  pick(id) {
    if (!this.start(id, { focus: false })) this.select(id);
    return true;
  }

  /** What a key or button of the move does ("save", "cancel", "next-part", `{nudge}`). */
  key(action) {
    const { move } = this;
    const layers = this.layers();
    if (!move || move.saving || !layers) return;
    if (action === "save") {
      this.save();
    } else if (action === "cancel") {
      this.cancel(CANCELLED);
    } else if (action === "next-part") {
      move.nextPart();
      layers.startMove(move); // the handles again, the chosen one filled
      this.list.showMovePart(move.partName());
      this.tell(`Moving ${move.partName()}.`);
    } else if (action.nudge) {
      layers.nudge(action.nudge);
    }
  }

  /** A drag in the viewer took a part of the mark: the list says which. */
  dragged() {
    if (this.move) this.list.showMovePart(this.move.partName());
  }

  // The move ends: the stored marks are drawn again, the item shows its buttons.
  stop(move) {
    if (!move || this.move !== move) return;
    this.move = null;
    this.list.moving = null;
    const layers = this.layers();
    if (layers) layers.startMove(null);
    this.list.show(this.records());
  }

  /** Put the mark back where it was (`message`: what the live region says, if anything). */
  cancel(message = "") {
    if (!this.move || this.move.saving) return;
    this.stop(this.move);
    if (message) this.tell(message);
  }

  /** The annotation `id` is gone: its move, if any, ends. */
  forget(id) {
    if (this.move && this.move.id === id) this.stop(this.move);
  }

  /** Save the mark where it is now. */
  async save() {
    const { move } = this;
    if (!move || move.saving) return;
    if (!move.moved) {
      this.stop(move);
      this.tell("Not moved: the annotation is where it was.");
      return;
    }
    let geojson;
    try {
      geojson = featureFromDrawing(move.draft, this.slideSize());
    } catch (error) {
      this.tell(problemOf(error), { error: true }); // still moving: put it on the slide
      return;
    }
    move.saving = true; // the draft stays drawn until the answer
    try {
      const annotation = await this.store(move.id, geojson);
      this.stop(move);
      this.layers()?.showMarks(this.records());
      this.tell(`Annotation moved (${this.describe(annotation)}).`);
    } catch (error) {
      this.stop(move); // the saved one is drawn again
      await this.refused(error);
    }
  }
}

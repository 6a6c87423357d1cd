// Points and lines on the slide viewer: Annotorious 3.8 draws regions only (its tools are the
// rectangle and the polygon), so points and lines are drawn here, in an SVG over the viewer,
// and placed with OpenSeadragon's own pointer events.
//
// Marks live in slide level-0 pixels (as stored); every time the viewport moves (pan, zoom,
// rotation, flip, resize) each is projected again through the viewer's own transform, so they
// stay on the tissue under rotation and zoom exactly as the tiles do.
//
// A mark being moved (annotation-move.js's MarkMove) is drawn from its draft, with a handle
// on each vertex; the pointer and the arrow keys move it through the same transform, back to
// level-0 pixels. The SVG takes no pointer events: what is under the pointer is found here
// from OpenSeadragon's own events, so panning and Annotorious work as before.

import { moveKeyAction, WHOLE } from "/static/js/annotation-move.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const MIN_LINE_PX = 4; // a shorter drag is a slip, not a line
const POINT_RADIUS_PX = 6;
const HANDLE_RADIUS_PX = 7;
// How near the pointer must be, in screen pixels, to take a handle, a line or a point.
const HIT_PX = 10;

function svgElement(tag, attributes = {}) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

function distanceToSegment([px, py], [ax, ay], [bx, by]) {
  const dx = bx - ax;
  const dy = by - ay;
  const lengthSquared = dx * dx + dy * dy;
  const along = lengthSquared ? ((px - ax) * dx + (py - ay) * dy) / lengthSquared : 0;
  const t = Math.max(0, Math.min(1, along));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}

function nearMark(mark, at, screenOf) {
  if (mark.type === "point") {
    const [x, y] = screenOf(mark.position);
    return Math.hypot(x - at[0], y - at[1]) <= HIT_PX;
  }
  const points = mark.positions.map(screenOf);
  return points.slice(1).some((b, i) => distanceToSegment(at, points[i], b) <= HIT_PX);
}

/**
 * The marks of one viewer: `setMarks([{id, marks, colour}])` shows them, `setTool("point" |
 * "line" | null)` lets the user place one, reported to `onDrawn({type: "point", position})`
 * or `onDrawn({type: "line", positions})` in level-0 pixels. With no tool, a click on a mark
 * is `onPicked(id)` (true: it was taken, so the click does not zoom). While `startMove(move)`
 * holds a MarkMove, its handles are dragged (then `onMoveChanged()`), its keys on the viewer
 * go to `onMoveKey(action)` (see moveKeyAction) and a click beside it is `onMoveKey("save")`.
 */
export class MarkLayer {
  constructor(viewer, { onDrawn, onPicked, onMoveKey, onMoveChanged }) {
    this.viewer = viewer;
    this.onDrawn = onDrawn;
    this.onPicked = onPicked;
    this.onMoveKey = onMoveKey;
    this.onMoveChanged = onMoveChanged;
    this.tool = null;
    this.items = [];
    this.highlighted = null;
    this.lineStart = null;
    this.move = null;
    this.justDragged = false; // a drag of a handle ended: its click is not a click beside
    this.draggedMark = false; // a handle is being dragged
    this.svg = svgElement("svg", { class: "annotation-marks", "aria-hidden": "true" });
    this.drawnGroup = svgElement("g");
    this.preview = svgElement("line", { class: "annotation-mark-preview", visibility: "hidden" });
    this.svg.append(this.drawnGroup, this.preview);
    viewer.canvas.append(this.svg);
    this.handlers = {
      "update-viewport": () => this.redraw(),
      resize: () => this.redraw(),
      "canvas-click": (event) => this.click(event),
      "canvas-press": (event) => this.press(event),
      "canvas-drag": (event) => this.drag(event),
      "canvas-drag-end": (event) => this.dragEnd(event),
      "canvas-release": (event) => this.release(event),
      "canvas-key": (event) => this.key(event),
    };
    for (const [name, handler] of Object.entries(this.handlers)) viewer.addHandler(name, handler);
  }

  /** Stop listening and take the layer off the viewer. */
  destroy() {
    for (const [name, handler] of Object.entries(this.handlers)) {
      this.viewer.removeHandler(name, handler);
    }
    this.svg.remove();
  }

  /** Which marking tool the pointer is: "point", "line" or null (the viewer pans). */
  setTool(tool) {
    this.tool = tool === "point" || tool === "line" ? tool : null;
    this.lineStart = null;
    this.preview.setAttribute("visibility", "hidden");
    this.svg.classList.toggle("is-marking", this.tool !== null);
  }

  /** Show these annotations' marks: `[{id, marks: [{type, position | positions}], colour}]`. */
  setMarks(items) {
    this.items = items.filter((item) => item.marks.length > 0);
    this.redraw();
  }

  /** Draw one annotation's marks thicker (null: none). */
  highlight(id) {
    this.highlighted = id;
    this.redraw();
  }

  /** Draw `move`'s draft instead of its annotation's marks, with handles (null: none). */
  startMove(move) {
    this.move = move;
    this.justDragged = false;
    this.svg.classList.toggle("is-moving", move !== null);
    this.redraw();
  }

  /** Move the chosen part of the mark being moved by `[dx, dy]` screen pixels. */
  nudge([dx, dy]) {
    const image = this.image();
    if (!this.move || !image) return;
    const from = this.move.anchor();
    const [sx, sy] = this.toScreen(image, from);
    const to = this.toImage(new OpenSeadragon.Point(sx + dx, sy + dy));
    this.move.translate([to[0] - from[0], to[1] - from[1]]);
    this.redraw();
  }

  /** Show or hide every mark (the preview of a line being drawn stays). */
  setVisible(visible) {
    this.drawnGroup.setAttribute("visibility", visible ? "visible" : "hidden");
  }

  image() {
    return this.viewer.world.getItemAt(0);
  }

  // level-0 pixels -> pixels in the viewer element, through the viewport's rotation and flip
  toScreen(image, [x, y]) {
    const screen = image.imageToViewerElementCoordinates(new OpenSeadragon.Point(x, y));
    return [screen.x, screen.y];
  }

  toImage(position) {
    const image = this.image();
    if (!image) return null;
    const point = image.viewerElementToImageCoordinates(position);
    return [point.x, point.y];
  }

  /** Project every mark again through the viewer's current transform. */
  redraw() {
    const image = this.image();
    this.drawnGroup.replaceChildren();
    if (!image) return;
    for (const item of this.items) {
      const moving = this.move && this.move.id === item.id;
      const emphasis = item.id === this.highlighted || moving ? " is-highlighted" : "";
      for (const mark of moving ? [this.move.draft] : item.marks) {
        if (mark.type === "point") {
          const [cx, cy] = this.toScreen(image, mark.position);
          const attributes = { cx, cy, r: POINT_RADIUS_PX, fill: item.colour };
          const circle = svgElement("circle", attributes);
          circle.setAttribute("class", `annotation-mark annotation-point${emphasis}`);
          circle.dataset.annotationId = item.id;
          this.drawnGroup.append(circle);
        } else {
          const points = mark.positions.map((p) => this.toScreen(image, p).join(",")).join(" ");
          const halo = svgElement("polyline", { points, class: "annotation-mark-halo" });
          const line = svgElement("polyline", { points, stroke: item.colour });
          line.setAttribute("class", `annotation-mark annotation-line${emphasis}`);
          line.dataset.annotationId = item.id;
          this.drawnGroup.append(halo, line);
        }
      }
    }
    if (this.move) this.drawHandles(image);
  }

  // A ring on each vertex of the mark being moved; the chosen one (or all: the whole) filled.
  drawHandles(image) {
    const { move } = this;
    move.positions().forEach((position, index) => {
      const [cx, cy] = this.toScreen(image, position);
      const chosen = move.part === WHOLE || move.part === index ? " is-chosen" : "";
      const radius = move.isLine ? HANDLE_RADIUS_PX : POINT_RADIUS_PX + 5;
      const handle = svgElement("circle", { cx, cy, r: radius });
      handle.setAttribute("class", `annotation-handle${chosen}`);
      this.drawnGroup.append(handle);
    });
  }

  // What of the mark being moved is under `at` (viewer element pixels): a vertex's index, the
  // whole (the line between its ends, or the point), or null.
  partAt(at) {
    const image = this.image();
    if (!this.move || !image) return null;
    const screenOf = (p) => this.toScreen(image, p);
    const target = [at.x, at.y];
    if (this.move.isLine) {
      const vertices = this.move.positions().map(screenOf);
      const distances = vertices.map(([x, y]) => Math.hypot(x - at.x, y - at.y));
      const nearest = distances.indexOf(Math.min(...distances));
      if (distances[nearest] <= HIT_PX) return nearest;
    }
    return nearMark(this.move.draft, target, screenOf) ? WHOLE : null;
  }

  // The id of the annotation whose mark is under `at` (the last drawn, on top, first).
  markAt(at) {
    const image = this.image();
    if (!image) return null;
    const screenOf = (p) => this.toScreen(image, p);
    const target = [at.x, at.y];
    for (const item of [...this.items].reverse()) {
      if (item.marks.some((mark) => nearMark(mark, target, screenOf))) return item.id;
    }
    return null;
  }

  click(event) {
    if (this.justDragged) {
      this.justDragged = false;
      return;
    }
    if (!event.quick) return;
    if (this.move && this.tool === null) {
      if (this.partAt(event.position) !== null) return;
      event.preventDefaultAction = true; // a click beside the mark ends the move, no zoom
      this.onMoveKey("save");
      return;
    }
    if (this.tool === null) {
      const hidden = this.drawnGroup.getAttribute("visibility") === "hidden";
      const id = hidden ? null : this.markAt(event.position);
      if (id !== null && this.onPicked(id)) event.preventDefaultAction = true;
      return;
    }
    if (this.tool !== "point") return;
    event.preventDefaultAction = true; // no click-to-zoom while placing a point
    const position = this.toImage(event.position);
    if (position) this.onDrawn({ type: "point", position });
  }

  press(event) {
    this.justDragged = false;
    if (this.move && this.tool === null) {
      const part = this.partAt(event.position);
      if (part !== null) this.move.grab(part, this.toImage(event.position));
      return;
    }
    if (this.tool !== "line") return;
    this.lineStart = { screen: event.position, image: this.toImage(event.position) };
  }

  drag(event) {
    if (this.move && this.move.grabbed) {
      event.preventDefaultAction = true; // the drag moves the mark instead of panning
      this.draggedMark = true;
      const to = this.toImage(event.position);
      if (to) this.move.dragTo(to);
      this.redraw();
      return;
    }
    if (this.tool !== "line" || !this.lineStart) return;
    event.preventDefaultAction = true; // the drag draws the line instead of panning
    const start = this.lineStart.screen;
    this.preview.setAttribute("x1", start.x);
    this.preview.setAttribute("y1", start.y);
    this.preview.setAttribute("x2", event.position.x);
    this.preview.setAttribute("y2", event.position.y);
    this.preview.setAttribute("visibility", "visible");
  }

  dragEnd(event) {
    // no flick after a line, or after a mark was moved
    if (this.tool === "line" || this.justDragged) event.preventDefaultAction = true;
  }

  release(event) {
    if (this.move && this.move.grabbed) {
      const to = this.toImage(event.position);
      if (to) this.move.dragTo(to);
      this.move.release();
      this.justDragged = this.draggedMark; // its click, if any, is the drag's end
      this.draggedMark = false;
      this.redraw();
      this.onMoveChanged();
      return;
    }
    if (this.tool !== "line" || !this.lineStart) return;
    const start = this.lineStart;
    this.lineStart = null;
    this.preview.setAttribute("visibility", "hidden");
    const length = Math.hypot(event.position.x - start.screen.x, event.position.y - start.screen.y);
    const end = this.toImage(event.position);
    if (length < MIN_LINE_PX || !start.image || !end) return;
    this.onDrawn({ type: "line", positions: [start.image, end] });
  }

  // The keys of a move, while the viewer has the focus: before OpenSeadragon pans with them.
  key(event) {
    if (!this.move) return;
    const action = moveKeyAction(event.originalEvent);
    if (!action) return;
    event.preventDefaultAction = true;
    event.originalEvent.preventDefault(); // and the page's own shortcuts (Esc) leave it alone
    this.onMoveKey(action);
  }

  /** The level-0 position under the centre of the viewer (a point placed from the keyboard). */
  centre() {
    const { x, y } = this.viewer.viewport.getContainerSize();
    return this.toImage(new OpenSeadragon.Point(x / 2, y / 2));
  }
}

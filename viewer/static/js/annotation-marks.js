// Points and lines on the slide viewer: Annotorious 3.8 draws regions only (its tools are the
// rectangle and the polygon), so points and lines are drawn here, in an SVG over the viewer,
// and placed with OpenSeadragon's own pointer events.
//
// Marks live in slide level-0 pixels (as stored); every time the viewport moves (pan, zoom,
// rotation, flip, resize) each is projected again through the viewer's own transform, so they
// stay on the tissue under rotation and zoom exactly as the tiles do.

const SVG_NS = "http://www.w3.org/2000/svg";
const MIN_LINE_PX = 4; // a shorter drag is a slip, not a line
const POINT_RADIUS_PX = 6;

function svgElement(tag, attributes = {}) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  return element;
}

/**
 * The marks of one viewer: `setMarks([{id, marks, colour}])` shows them, `setTool("point" |
 * "line" | null)` lets the user place one, reported to `onDrawn({type: "point", position})`
 * or `onDrawn({type: "line", positions})` in level-0 pixels.
 */
export class MarkLayer {
  constructor(viewer, { onDrawn }) {
    this.viewer = viewer;
    this.onDrawn = onDrawn;
    this.tool = null;
    this.items = [];
    this.highlighted = null;
    this.lineStart = null;
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
      const emphasis = item.id === this.highlighted ? " is-highlighted" : "";
      for (const mark of item.marks) {
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
  }

  click(event) {
    if (this.tool !== "point" || !event.quick) return;
    event.preventDefaultAction = true; // no click-to-zoom while placing a point
    const position = this.toImage(event.position);
    if (position) this.onDrawn({ type: "point", position });
  }

  press(event) {
    if (this.tool !== "line") return;
    this.lineStart = { screen: event.position, image: this.toImage(event.position) };
  }

  drag(event) {
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
    if (this.tool === "line") event.preventDefaultAction = true; // no flick after a line
  }

  release(event) {
    if (this.tool !== "line" || !this.lineStart) return;
    const start = this.lineStart;
    this.lineStart = null;
    this.preview.setAttribute("visibility", "hidden");
    const length = Math.hypot(event.position.x - start.screen.x, event.position.y - start.screen.y);
    const end = this.toImage(event.position);
    if (length < MIN_LINE_PX || !start.image || !end) return;
    this.onDrawn({ type: "line", positions: [start.image, end] });
  }

  /** The level-0 position under the centre of the viewer (a point placed from the keyboard). */
  centre() {
    const { x, y } = this.viewer.viewport.getContainerSize();
    return this.toImage(new OpenSeadragon.Point(x / 2, y / 2));
  }
}

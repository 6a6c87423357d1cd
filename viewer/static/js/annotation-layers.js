// What the annotations look like on the main viewer: Annotorious' layer for regions
// (rectangles, polygons; reshaped with its handles) and the mark layer for points and lines,
// both in slide level-0 pixels and both redrawn through the viewer's transform, so they stay
// on the tissue under pan, zoom and rotation. One `AnnotationLayers` per viewer; Annotorious'
// bundle is loaded once, after the first tile (`annotoriousLoaded`, `afterFirstTile`).

/* global AnnotoriousOSD */

import { boundsOfDisplay } from "/static/js/annotation-geometry.js";
import { MarkLayer } from "/static/js/annotation-marks.js";

const MIN_VIEW_PX = 200; // "Show" frames at least this much slide round a point
// Colours that stand out on H&E and on brown IHC stains; one per configured class, in order.
const PALETTE = ["#ffd400", "#00e0ff", "#39ff14", "#ff4fd8", "#ff8c00", "#ffffff", "#b388ff"];
const NO_CLASS_COLOUR = "#00e0ff";

/** The colour of an annotation of `className` among the configured `classes` (in order). */
export function colourOfClass(classes, className) {
  const index = classes.indexOf(className);
  return index < 0 ? NO_CLASS_COLOUR : PALETTE[index % PALETTE.length];
}

// Read-only layers: nothing is drawn, reshaped or selected ("NONE"), a picked point or line
// is not taken (false), so nothing can be moved.
const DRAW_ONLY_EVENTS = {
  created() {},
  reshaped() {},
  marked() {},
  selected() {},
  picked: () => false,
  moveKey() {},
  moveChanged() {},
};

function shapeAnnotation(id, selector) {
  return { id, bodies: [], target: { annotation: id, selector } };
}

/**
 * The annotation layers of `viewer`. `events`: `created(selector, id)` when a region was drawn,
 * `reshaped(annotation, previous)` when one was reshaped (on deselection), `marked(mark)` when
 * a point or line was placed, `selected(ids)`; `picked(id)` when a point or line was clicked
 * (true: taken), and while one is moved `moveKey(action)` (a key on the viewer, or "save" for a
 * click beside it) and `moveChanged()` (dragged); `selectAction(annotation)` says whether a click
 * may reshape ("EDIT"), only select ("SELECT") or do nothing ("NONE"); `colourOf(id)` gives
 * the colour. Without `events` and `selectAction` the layers only draw (read-only).
 */
export class AnnotationLayers {
  constructor(viewer, { events = DRAW_ONLY_EVENTS, selectAction = () => "NONE", colourOf }) {
    this.viewer = viewer;
    this.colourOf = colourOf;
    this.tool = null;
    this.annotator = AnnotoriousOSD.createOSDAnnotator(viewer, {
      drawingEnabled: false,
      drawingMode: "drag",
      userSelectAction: selectAction,
      style: (annotation, state) => this.style(annotation, state),
    });
    this.selectAction = selectAction;
    this.annotator.on("createAnnotation", (drawn) => events.created(drawn.target.selector, drawn.id));
    this.annotator.on("updateAnnotation", (changed, previous) => events.reshaped(changed, previous));
    this.annotator.on("selectionChanged", (selected) => events.selected(selected.map((a) => a.id)));
    this.marks = new MarkLayer(viewer, {
      onDrawn: (mark) => events.marked(mark),
      onPicked: (id) => events.picked(id),
      onMoveKey: (action) => events.moveKey(action),
      onMoveChanged: () => events.moveChanged(),
    });
    // A polygon is closed with a click on its first corner; a double click must not zoom.
    this.noDoubleClickZoom = (event) => {
      if (this.tool) event.preventDefaultAction = true;
    };
    viewer.addHandler("canvas-double-click", this.noDoubleClickZoom);
  }

  /** Take the layers off the viewer. */
  destroy() {
    this.viewer.removeHandler("canvas-double-click", this.noDoubleClickZoom);
    try {
      this.annotator.destroy();
    } catch {
      // the viewer went first and took Annotorious' layers with it
    }
    this.marks.destroy();
  }

  style(annotation, state) {
    const colour = this.colourOf(annotation.id);
    const selected = Boolean(state && state.selected);
    return {
      fill: colour,
      fillOpacity: selected ? 0.3 : 0.12,
      stroke: colour,
      strokeOpacity: 1,
      strokeWidth: selected ? 3 : 2,
    };
  }

  /** Draw with `tool` ("rectangle", "polygon", "point", "line") or stop drawing (null). */
  setTool(tool) {
    this.tool = tool;
    const region = tool === "rectangle" || tool === "polygon";
    if (region) {
      // A rectangle is dragged; a polygon is clicked corner by corner (in Annotorious' drag
      // mode its first side would have to be dragged, which nobody guesses).
      this.annotator.setDrawingMode(tool === "polygon" ? "click" : "drag");
      this.annotator.setDrawingTool(tool);
    }
    this.annotator.setDrawingEnabled(region);
    this.annotator.setUserSelectAction(this.selectAction); // asked again for the selection
    this.marks.setTool(tool);
  }

  /** Show every annotation of `records` (a Map of viewer id -> {annotation, display}). */
  show(records) {
    const shapes = [];
    for (const [id, record] of records) {
      if (record.display.selector) shapes.push(shapeAnnotation(id, record.display.selector));
    }
    this.annotator.setAnnotations(shapes, true); // the viewer's copies, not a user's edit
    this.showMarks(records);
  }

  /** Draw the points and lines of `records` again (after a change of class: a new colour). */
  showMarks(records) {
    const marks = [...records].map(([id, record]) => ({
      id,
      marks: record.display.marks,
      colour: this.colourOf(id),
    }));
    this.marks.setMarks(marks);
  }

  /** Restyle the regions (their classes changed). */
  restyle() {
    this.annotator.setStyle((annotation, state) => this.style(annotation, state));
  }

  /** Take a drawn region off the viewer (it was not saved, or it was deleted). */
  removeShape(id) {
    this.annotator.removeAnnotation(id);
  }

  /** Put a region back as it was before a refused reshape. */
  restoreShape(previous) {
    this.annotator.updateAnnotation(previous);
  }

  /** Show or hide the annotations. */
  setVisible(visible) {
    this.annotator.setVisible(visible);
    this.marks.setVisible(visible);
  }

  /** Mark one annotation as selected (`editable`: with Annotorious' reshaping handles). */
  select(id, record, { editable = false } = {}) {
    this.marks.highlight(record.display.marks.length ? id : null);
    if (record.display.selector) this.annotator.setSelected(id, editable);
  }

  /** End a reshape (Annotorious then reports it) and any selection. */
  deselect() {
    this.annotator.cancelSelected();
    this.marks.highlight(null);
  }

  /** Move a point or line with handles (`move`: a MarkMove), or stop (null). */
  startMove(move) {
    if (move) this.annotator.cancelSelected(); // one thing at a time has handles
    this.marks.startMove(move);
  }

  /** Move the chosen part of the mark being moved by `[dx, dy]` screen pixels. */
  nudge(step) {
    this.marks.nudge(step);
  }

  /** Pan and zoom to the annotation, with some slide round it. */
  frame(record) {
    const image = this.viewer.world.getItemAt(0);
    const bounds = boundsOfDisplay(record.display);
    if (!image || !bounds) return;
    const width = Math.max(bounds.maxX - bounds.minX, MIN_VIEW_PX);
    const height = Math.max(bounds.maxY - bounds.minY, MIN_VIEW_PX);
    const x = (bounds.minX + bounds.maxX) / 2 - width;
    const y = (bounds.minY + bounds.maxY) / 2 - height;
    this.viewer.viewport.fitBounds(image.imageToViewportRectangle(x, y, width * 2, height * 2));
  }

  /** The level-0 position at the centre of the viewer. */
  centre() {
    return this.marks.centre();
  }
}

let annotorious = null;

/**
 * Annotorious' bundle (700 kB of script), loaded once, when the first slide is on screen:
 * parsed before it, it would hold up the first tile. Its global is `AnnotoriousOSD`.
 */
export function annotoriousLoaded() {
  annotorious ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    // Through the page's import map: the file's versioned URL, which the worklist prefetched.
    script.src = import.meta.resolve("/static/vendor/annotorious/annotorious-openseadragon.js");
    script.addEventListener("load", () => resolve());
    script.addEventListener("error", () => {
      annotorious = null; // the next slide tries again
      reject(new Error("The annotation tools could not be loaded; reload the page to try again."));
    });
    document.head.append(script);
  });
  return annotorious;
}

/**
 * `work()` once the viewer has drawn a tile of what it opened (or after `fallbackMs`). The
 * annotation layer's WebGL renderer takes the main thread for a moment as it starts; started
 * after the first tile, the pathologist sees tissue first and the annotations a moment later.
 */
export function afterFirstTile(viewer, work, fallbackMs = 1500) {
  let done = false;
  let timer = null;
  const run = () => {
    if (done) return;
    done = true;
    viewer.removeHandler("tile-drawn", run);
    clearTimeout(timer);
    requestAnimationFrame(() => work()); // after the frame with the tile is on screen
  };
  const image = viewer.world.getItemAt(0);
  if (image && image.getFullyLoaded()) {
    run();
    return;
  }
  viewer.addHandler("tile-drawn", run);
  timer = setTimeout(run, fallbackMs);
}

/**
 * `work()` once `viewer` has drawn its first tile and Annotorious is loaded (tissue first, the
 * annotations a moment later); `failed(error)` instead when the bundle could not be loaded.
 */
export function whenLayersCanStart(viewer, work, failed) {
  afterFirstTile(viewer, async () => {
    try {
      await annotoriousLoaded();
    } catch (error) {
      failed(error);
      return;
    }
    work();
  });
}

const ANNOTATIONS_CHANGED = "coupe:annotations-changed";

/** Tell the page's other views of slide `slideId` that its annotations changed (saved). */
export function announceAnnotationsChanged(slideId) {
  document.dispatchEvent(new CustomEvent(ANNOTATIONS_CHANGED, { detail: { slideId } }));
}

/** `callback(slideId)` whenever annotations of a slide were saved on this page. */
export function onAnnotationsChanged(callback) {
  document.addEventListener(ANNOTATIONS_CHANGED, (event) => callback(event.detail.slideId));
}

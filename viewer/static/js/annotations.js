// The annotations of the slide in the main viewer: drawn with Annotorious (rectangle, polygon)
// or with annotation-marks.js (point, line), stored through the API as GeoJSON in slide
// level-0 pixels, listed in the panel with their class, label and author, edited (reshaped in
// the viewer; label and class in the panel) and deleted with the version read (If-Match), so
// two editors never overwrite each other unknowingly. A signed-out case's annotations are
// read-only (the API refuses a change with 409): still shown and selectable, without the
// drawing tools or the reshape, move, edit and delete buttons. Points and lines are moved
// with annotation-mover.js, the tool bar is annotation-tools.js.

import { api, ApiError, el } from "/static/js/api.js";
import {
  caseReady,
  firstTileShown,
  onCaseChanged,
  onPointerModeChange,
  onSlideClosed,
  onSlideOpened,
  reloadCase,
  requestPointerMode,
} from "/static/js/case.js";
import { displayOfFeature, featureFromDrawing } from "/static/js/annotation-geometry.js";
import {
  announceAnnotationsChanged,
  AnnotationLayers,
  colourOfClass,
  whenLayersCanStart,
} from "/static/js/annotation-layers.js";
import { AnnotationList } from "/static/js/annotation-list.js";
import { CANCELLED, MarkMover } from "/static/js/annotation-mover.js";
import { DrawingTools } from "/static/js/annotation-tools.js";
import { allItems, problemOf, say, statusRegion } from "/static/js/panel-kit.js";

const POINTER_OWNER = "annotate";
const READ_ONLY_NOTE = "This case is signed out: annotations are read-only.";

const panel = document.getElementById("annotations-panel");

const state = {
  me: null,
  classes: [],
  viewer: null,
  layers: null, // the AnnotationLayers on the main viewer
  slide: null,
  generation: 0, // bumped when another slide opens: late answers for the old one are dropped
  tool: null,
  pointerOwner: "navigate",
  visible: true,
  readOnly: false, // the case is signed out
  records: new Map(), // the viewer's id -> {annotation (API), display}
  pending: new Map(), // the viewer's id of a shape being saved -> its save
  queues: new Map(), // the viewer's id -> the last write queued for it (writes in order)
};

function mayChange(annotation) {
  const { me } = state;
  if (state.readOnly) return false;
  return me.username === annotation.author || me.role === "lab_manager" || me.role === "admin";
}

function viewerId(annotation) {
  return `coupe-${annotation.id}`;
}

function slideSize() {
  const image = state.viewer && state.viewer.world.getItemAt(0);
  if (!image) throw new RangeError("the slide is not open yet");
  const size = image.getContentSize();
  return { width: size.x, height: size.y };
}

// --- the panel's controls -------------------------------------------------------------

const status = statusRegion("Annotation status");
const readOnlyNote = el("p", { class: "panel-hint", id: "annotation-read-only", hidden: true });
const tools = new DrawingTools({
  onChoose: (tool) => chooseTool(tool),
  onCentrePoint: () => placePointAtCentre(),
});
const showToggle = el("input", {
  id: "show-annotations",
  type: "checkbox",
  checked: true,
  onchange: () => setVisible(showToggle.checked),
});
const list = new AnnotationList({
  classes: () => state.classes,
  mayChange,
  onShow: (id) => showAnnotation(id),
  onReshape: (id) => reshape(id),
  onMove: (id) => mover.startFromList(id),
  onMoveKey: (action) => mover.key(action),
  onEdit: (id, change) => edit(id, change),
  onDelete: (id) => remove(id),
  onFocus: (id) => highlight(id),
});

function buildPanel() {
  panel.replaceChildren(
    el("h2", { id: "annotations-heading" }, "Annotations"),
    readOnlyNote,
    tools.element,
    el(
      "div",
      { class: "field field-inline" },
      showToggle,
      el("label", { for: "show-annotations" }, "Show annotations"),
    ),
    status,
    list.element,
  );
}

// --- tools and the pointer ------------------------------------------------------------

// Whether a click on an annotation is the panel's (another tool, the ruler, may have the pointer).
function pointerIsOurs() {
  return state.pointerOwner === POINTER_OWNER || state.pointerOwner === "navigate";
}

function chooseTool(tool) {
  if (tool) mover.cancel(); // a click now draws
  state.tool = tool;
  if (tool) {
    requestPointerMode(POINTER_OWNER);
    state.pointerOwner = POINTER_OWNER;
  } else if (state.pointerOwner === POINTER_OWNER) {
    requestPointerMode("navigate");
    state.pointerOwner = "navigate";
  }
  applyTool();
}

function applyTool() {
  if (state.layers) state.layers.setTool(state.tool);
  tools.show(state.tool);
}

// Reshaping with Annotorious' handles while navigating or annotating; while another tool
// (the ruler) has the pointer, a click on an annotation is the tool's, not a selection.
function selectAction(annotation) {
  if (!pointerIsOurs()) return "NONE";
  const record = state.records.get(annotation.id);
  if (!record) return "SELECT";
  return record.display.editableShape && mayChange(record.annotation) ? "EDIT" : "SELECT";
}

onPointerModeChange((owner) => {
  state.pointerOwner = owner;
  mover.cancel(CANCELLED); // Esc, or the ruler
  if (owner !== POINTER_OWNER && state.tool) {
    state.tool = null;
    if (state.layers) state.layers.deselect(); // a reshape in progress is saved
  }
  applyTool();
});

/** Read-only once the case is signed out (on opening it, or after a sign-out on this page). */
function lockWhenSignedOut(detail) {
  const readOnly = detail.status === "signed_out";
  if (readOnly === state.readOnly) return;
  state.readOnly = readOnly;
  if (readOnly) mover.cancel();
  if (readOnly && state.tool) chooseTool(null);
  if (readOnly && state.layers) state.layers.deselect();
  tools.hidden = readOnly;
  readOnlyNote.hidden = !readOnly;
  readOnlyNote.textContent = readOnly ? READ_ONLY_NOTE : "";
  list.editing = null; // an open edit form closes: nothing can be saved any more
  list.show(state.records);
}

/** No slide in the viewer: no tools, no list, and late answers for the last one dropped. */
function closeSlide() {
  state.generation += 1;
  mover.cancel();
  if (state.tool) chooseTool(null);
  if (state.layers) state.layers.destroy();
  state.layers = null;
  state.slide = null;
  state.records = new Map();
  list.editing = null;
  list.show(state.records);
  tools.hidden = true;
  say(status, "No slide is open: annotations are drawn on an open slide.");
}

function setVisible(visible) {
  if (!visible) mover.cancel("Move cancelled: the annotations are hidden.");
  state.visible = visible;
  if (state.layers) state.layers.setVisible(visible);
}

// --- the viewer -----------------------------------------------------------------------

/** Put the annotation layers on `viewer`; false if they are on it already. */
function attach(viewer) {
  if (state.layers && state.layers.viewer === viewer) return false;
  if (state.layers) state.layers.destroy();
  state.viewer = viewer;
  state.layers = new AnnotationLayers(viewer, {
    events: {
      created: (selector, id) => saveNew(selector, id),
      reshaped: (changed, previous) => reshaped(changed, previous),
      marked: (mark) => saveNew(mark, null),
      selected: (ids) => list.markSelected(ids),
      picked: (id) => pointerIsOurs() && mover.pick(id),
      moveKey: (action) => mover.key(action),
      moveChanged: () => mover.dragged(),
    },
    selectAction,
    colourOf: (id) => {
      const current = state.records.get(id);
      const className = current ? current.annotation.class_name : tools.className;
      return colourOfClass(state.classes, className);
    },
  });
  setVisible(state.visible);
  applyTool();
  return true;
}

function record(annotation) {
  return { annotation, display: displayOfFeature(annotation.geojson) };
}

/** Read the annotations of `slide` afresh; true once they are shown (false: superseded by
 * another slide, or refused, which the status then says). */
async function load(slide) {
  const generation = ++state.generation;
  mover.cancel();
  state.slide = slide;
  state.records = new Map();
  state.pending = new Map();
  state.queues = new Map();
  list.loading();
  showAll();
  try {
    const annotations = await allItems(`/slides/${slide.id}/annotations`);
    if (generation !== state.generation) return false;
    for (const annotation of annotations) state.records.set(viewerId(annotation), record(annotation));
    showAll();
    say(status, "");
    return true;
  } catch (error) {
    if (generation !== state.generation) return false;
    list.show(state.records);
    say(status, problemOf(error), { error: true });
    return false;
  }
}

// --- writes ---------------------------------------------------------------------------

// One write at a time per annotation, in the order asked: a reshape waits for its creation.
function queued(id, write) {
  const previous = state.queues.get(id) || Promise.resolve();
  const next = previous.catch(() => {}).then(write);
  state.queues.set(id, next);
  return next;
}

async function saveNew(drawn, shapeId) {
  const { slide, generation } = state;
  if (!slide) return;
  let geojson;
  try {
    geojson = featureFromDrawing(drawn, slideSize());
  } catch (error) {
    if (shapeId && state.layers) state.layers.removeShape(shapeId);
    say(status, problemOf(error), { error: true });
    return;
  }
  const saving = api(`/slides/${slide.id}/annotations`, {
    method: "POST",
    body: { ...tools.newAnnotationBody(), geojson },
  });
  if (shapeId) state.pending.set(shapeId, saving);
  try {
    const annotation = await saving;
    announceAnnotationsChanged(slide.id);
    if (generation !== state.generation) return;
    // A drawn shape keeps the id Annotorious gave it; a mark takes the stored one's.
    const id = shapeId || viewerId(annotation);
    state.records.set(id, record(annotation));
    if (!shapeId && state.layers) state.layers.showMarks(state.records);
    list.show(state.records);
    say(status, `Annotation saved (${describe(annotation)}).`);
  } catch (error) {
    if (generation !== state.generation) return;
    if (shapeId && state.layers) state.layers.removeShape(shapeId);
    say(status, `The annotation was not saved: ${problemOf(error)}`, { error: true });
  } finally {
    state.pending.delete(shapeId);
  }
}

function describe(annotation) {
  return [annotation.class_name || "no class", annotation.label].filter(Boolean).join(", ");
}

function patch(id, body) {
  const { slide } = state;
  return queued(id, async () => {
    const current = state.records.get(id);
    if (!current) throw new RangeError("the annotation is no longer on this slide");
    const annotation = await api(`/slides/${slide.id}/annotations/${current.annotation.id}`, {
      method: "PATCH",
      body,
      headers: { "If-Match": `"${current.annotation.version}"` },
    });
    state.records.set(id, record(annotation));
    announceAnnotationsChanged(slide.id);
    return annotation;
  });
}

async function afterRefusal(error) {
  if (error instanceof ApiError && error.status === 409 && error.body?.error === "invalid_transition") {
    say(status, problemOf(error), { error: true }); // signed out meanwhile (another page)
    await reloadCase().catch(() => {}); // its onCaseChanged makes the panel read-only
    return;
  }
  const stale = error instanceof ApiError && (error.status === 409 || error.status === 412);
  const message = stale
    ? "Someone changed this annotation meanwhile; the list now shows theirs. Try again."
    : problemOf(error);
  say(status, message, { error: true });
  // The reload ends by clearing the status: say it again, it tells what the list shows now.
  if (stale && state.slide && (await load(state.slide))) say(status, message, { error: true });
}

async function reshaped(changed, previous) {
  const id = changed.id;
  if (state.pending.has(id)) await state.pending.get(id).catch(() => {});
  const current = state.records.get(id);
  if (!current || !state.slide) return;
  let geojson;
  try {
    geojson = featureFromDrawing(changed.target.selector, slideSize());
  } catch (error) {
    if (previous && state.layers) state.layers.restoreShape(previous);
    say(status, problemOf(error), { error: true });
    return;
  }
  try {
    const annotation = await patch(id, { geojson });
    say(status, `Annotation reshaped (${describe(annotation)}).`);
    list.show(state.records);
  } catch (error) {
    if (previous && state.layers) state.layers.restoreShape(previous);
    await afterRefusal(error);
  }
}

async function edit(id, change) {
  try {
    const annotation = await patch(id, change);
    say(status, `Annotation changed (${describe(annotation)}).`);
    if (state.layers) {
      state.layers.showMarks(state.records); // a new class is a new colour
      state.layers.restyle();
    }
    list.show(state.records);
    return true;
  } catch (error) {
    await afterRefusal(error);
    return false;
  }
}

async function remove(id) {
  const { slide } = state;
  try {
    await queued(id, async () => {
      const current = state.records.get(id);
      if (!current) return;
      await api(`/slides/${slide.id}/annotations/${current.annotation.id}`, {
        method: "DELETE",
        headers: { "If-Match": `"${current.annotation.version}"` },
      });
      announceAnnotationsChanged(slide.id);
    });
    const gone = state.records.get(id);
    mover.forget(id);
    state.records.delete(id);
    if (state.layers) {
      if (gone && gone.display.selector) state.layers.removeShape(id);
      state.layers.showMarks(state.records);
    }
    list.show(state.records);
    say(status, `Annotation deleted${gone ? ` (${describe(gone.annotation)})` : ""}.`);
  } catch (error) {
    await afterRefusal(error);
  }
}

// --- finding an annotation on the slide -----------------------------------------------

function showAll() {
  if (state.layers) state.layers.show(state.records);
  list.show(state.records);
}

function showAnnotation(id) {
  const current = state.records.get(id);
  if (!current || !state.layers) return;
  state.layers.frame(current);
  state.layers.select(id, current);
}

function highlight(id) {
  const current = state.records.get(id);
  if (current && state.layers) state.layers.select(id, current);
}

function reshape(id) {
  const current = state.records.get(id);
  if (!current || !state.layers) return;
  if (!pointerIsOurs()) requestPointerMode("navigate");
  state.layers.frame(current);
  state.layers.select(id, current, { editable: true });
  say(status, "Drag the shape or its handles; click beside it when done, and it is saved.");
}

// --- moving a point or a line ----------------------------------------------------------

const mover = new MarkMover({
  list,
  layers: () => state.layers,
  records: () => state.records,
  mayMove: (current) => mayChange(current.annotation) && state.visible,
  prepare: () => {
    if (state.tool) chooseTool(null);
    if (!pointerIsOurs()) requestPointerMode("navigate");
  },
  tell: (message, options) => say(status, message, options),
  store: (id, geojson) => patch(id, { geojson }),
  refused: (error) => afterRefusal(error),
  describe,
  slideSize,
  select: (id) => {
    highlight(id);
    list.markSelected([id]);
  },
});

function placePointAtCentre() {
  const position = state.layers && state.layers.centre();
  if (position) saveNew({ type: "point", position }, null);
}

// --- start ----------------------------------------------------------------------------

async function start() {
  buildPanel();
  let context;
  try {
    context = await caseReady;
  } catch {
    panel.hidden = true; // the case page says why the case cannot be shown
    return;
  }
  lockWhenSignedOut(context.detail); // before the first tile: no tools offered meanwhile
  onCaseChanged(lockWhenSignedOut);
  // At once, not after the first tile: a slide that cannot be opened may come before any.
  onSlideClosed(closeSlide);
  await firstTileShown; // tissue first: see case.js
  state.me = context.me;
  try {
    const rules = await api("/annotation-classes");
    state.classes = rules.classes;
  } catch (error) {
    say(status, problemOf(error), { error: true });
  }
  tools.fillClasses(state.classes);
  onSlideOpened(({ viewer, slide }) => {
    tools.hidden = state.readOnly; // a slide again: its tools, unless signed out
    if (state.layers && state.layers.viewer !== viewer) {
      state.layers.destroy(); // its viewer is gone: nothing may draw into it meanwhile
      state.layers = null;
    }
    if (!state.slide || state.slide.id !== slide.id) load(slide); // the list, beside the tiles
    whenLayersCanStart(
      viewer,
      () => {
        if (attach(viewer)) showAll();
      },
      (error) => say(status, problemOf(error), { error: true }),
    );
  });
}

start();

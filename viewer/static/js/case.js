// The case view: the case's header, its slides as a strip of thumbnails, the main viewer and
// its tools, side by side (side-by-side-tools.js), label and macro, "Next case" (prefetched).
//
// The panels (annotations, comments, consults, report) are other modules; they import what
// this one exports (ES modules are singletons): `caseReady`, `onSlideOpened`,
// `requestPointerMode`/`onPointerModeChange`, `reloadCase`/`onCaseChanged`.

import { api, currentUser, el, formatDateTime } from "/static/js/api.js";
import { createMeasureTool } from "/static/js/measure.js";
import { allItems } from "/static/js/panel-kit.js";
import { setUpNextCase } from "/static/js/next-case.js";
import { thumbnailUrl } from "/static/js/prefetch.js";
import { addListedOnly, addShortcut, installShortcuts } from "/static/js/shortcuts.js";
import { setUpSideBySide } from "/static/js/side-by-side-tools.js";
import {
  associatedImageFigure,
  attachProblemNote,
  attachScaleBar,
  createViewer,
  descriptorOf,
  markTimings,
  mppOf,
  openSlideImage,
  rotationDegrees,
  setRotationDegrees,
  viewerIdle,
  zoomToFullResolution,
} from "/static/js/viewer.js";

const $ = (id) => document.getElementById(id);
const status = $("case-status");

function caseIdFromPath() {
  const match = /^\/case\/(\d+)\/?$/.exec(location.pathname);
  return match ? Number(match[1]) : null;
}

// --- The contract with the panels ------------------------------------------------------------

const caseId = caseIdFromPath();

// The slides are asked first and on their own: the viewer opens the first one as soon as they
// are known, without waiting for the rest of the case (one round trip less to the first tile).
const slidesReady =
  caseId === null
    ? Promise.reject(new Error("this address names no case"))
    : allItems(`/cases/${caseId}/slides`);

/** `{caseId, detail, me, slides}` once the case is loaded (rejects with the ApiError). */
export const caseReady = (async () => {
  if (caseId === null) throw new Error("this address names no case");
  const [detail, me, slides] = await Promise.all([
    api(`/cases/${caseId}`),
    currentUser(),
    slidesReady,
  ]);
  return { caseId, detail, me, slides };
})();

const slideListeners = [];
let opened = null; // {viewer, slide, descriptor, mppUm} of the slide in the main viewer

/** `callback({viewer, slide, descriptor, mppUm})` on every slide opened, now for the open one. */
export function onSlideOpened(callback) {
  slideListeners.push(callback);
  if (opened) callback(opened);
}

const closeListeners = [];

/** `callback()` when the main viewer holds no slide any more (the one chosen could not be
 * opened): nothing may be drawn or measured on the slide that was open before. */
export function onSlideClosed(callback) {
  closeListeners.push(callback);
}

const modeListeners = [];
let pointerMode = "navigate";

/** Give the pointer to `owner` ("navigate", "measure", "annotate"); the others turn off. */
export function requestPointerMode(owner) {
  pointerMode = owner;
  for (const viewer of [mainViewer, sideBySide?.viewer]) {
    // A click places a point or ends a line while a tool is on; it must not zoom.
    if (viewer) viewer.gestureSettingsMouse.clickToZoom = owner === "navigate";
  }
  const measureButton = $("measure-tool");
  measureButton.setAttribute("aria-pressed", String(owner === "measure"));
  for (const callback of modeListeners) callback(owner);
}

/** `callback(owner)` whenever the pointer tool changes. */
export function onPointerModeChange(callback) {
  modeListeners.push(callback);
}

/** The pointer tool now ("navigate", "measure", "annotate"). */
export function currentPointerMode() {
  return pointerMode;
}

/** The side-by-side viewer (OpenSeadragon), or null until side by side was first shown. */
export function secondViewer() {
  return sideBySide?.viewer ?? null;
}

const caseListeners = [];

/** Fetch the case again and tell `onCaseChanged` listeners (after sign-out, start-review...). */
export async function reloadCase() {
  const detail = await api(`/cases/${caseId}`);
  showCase(detail);
  for (const callback of caseListeners) callback(detail);
  return detail;
}

/** `callback(detail)` after every `reloadCase()`. */
export function onCaseChanged(callback) {
  caseListeners.push(callback);
}

// --- The case header -------------------------------------------------------------------------

const STATUS_TEXT = {
  assigned: "Assigned",
  in_review: "In review",
  consult_pending: "Consult pending",
  signed_out: "Signed out",
  unassigned: "Unassigned",
};

function words(value) {
  const text = String(value ?? "");
  return (STATUS_TEXT[text] ?? text.replaceAll("_", " ")).replace(/^./, (c) => c.toUpperCase());
}

function showCase(detail) {
  document.title = `${detail.accession_number} - Coupe`;
  $("case-title").textContent = `Case ${detail.accession_number}`;
  const overdue = !detail.signed_out_at && new Date(detail.due_at) < new Date();
  const facts = [
    ["Patient", detail.patient_pseudonym],
    ["Status", words(detail.status)],
    ["Priority", words(detail.priority)],
    ["Due", `${formatDateTime(detail.due_at)}${overdue ? " (overdue)" : ""}`],
    ["Tumour group", detail.tumour_group],
    ["Department", detail.department_code],
  ];
  $("case-facts").replaceChildren(
    ...facts.flatMap(([term, value]) => [
      el("dt", {}, term),
      el("dd", { class: term === "Due" && overdue ? "overdue" : null }, value),
    ]),
  );
}

// --- The slide strip --------------------------------------------------------------------------

function slideName(slide) {
  return `${slide.block_label} ${slide.stain}`;
}

function showStrip(slides) {
  const groups = new Map();
  for (const slide of slides) {
    if (!groups.has(slide.specimen_label)) groups.set(slide.specimen_label, []);
    groups.get(slide.specimen_label).push(slide);
  }
  const container = $("slide-groups");
  if (slides.length === 0) {
    container.replaceChildren(el("p", {}, "This case has no slides yet."));
    return;
  }
  container.replaceChildren(
    ...[...groups].map(([specimen, members]) =>
      el(
        "div",
        { class: "specimen", role: "group", "aria-label": `Specimen ${specimen}` },
        el("h3", { class: "specimen-label" }, `Specimen ${specimen}`),
        el(
          "ul",
          { class: "slide-list" },
          members.map((slide) =>
            el(
              "li",
              {},
              el(
                "button",
                {
                  type: "button",
                  class: "slide-thumb",
                  "data-slide-id": slide.id,
                  disabled: Boolean(slide.withdrawn_at),
                  onclick: () => openSlide(slide),
                },
                slide.withdrawn_at
                  ? el("span", { class: "thumb-missing" }, "withdrawn")
                  : el("img", {
                      "data-src": thumbnailUrl(slide.id), // set after the first tile
                      alt: "",
                      // No file to draw it from (missing, damaged): say so, not a blank
                      // square. Only "no preview": a pre-built pyramid may still open.
                      onerror: (event) =>
                        event.target.replaceWith(
                          el("span", { class: "thumb-missing" }, "no preview"),
                        ),
                    }),
                el("span", { class: "thumb-name" }, slideName(slide)),
                // Scanned after the case was signed out: the pathologist may owe an addendum.
                // (The overdue flag's look: the app's one "needs you" badge.)
                slide.after_sign_out
                  ? el("span", { class: "overdue-flag late-slide-flag" }, "Added after sign-out")
                  : null,
              ),
            ),
          ),
        ),
      ),
    ),
  );
  // Tissue first: thumbnails would take connections and server time the first tiles need.
  firstTileShown.then(() => {
    for (const image of container.querySelectorAll("img[data-src]")) image.src = image.dataset.src;
  });
}

function markCurrent(slide) {
  for (const button of document.querySelectorAll(".slide-thumb")) {
    const current = Number(button.dataset.slideId) === slide.id;
    button.setAttribute("aria-current", current ? "true" : "false");
  }
  $("viewer-slide-name").textContent = slideName(slide);
}

// --- The main viewer -------------------------------------------------------------------------

const mainViewer = createViewer($("slide-viewer"));
markTimings(mainViewer);

/**
 * Resolves once the first slide's first tile is on screen (after 3 s at the latest, at once
 * when there is no slide to show). What the pathologist does not need to see tissue (the
 * panels' lists, the annotation layer, the next case) waits for it: over a remote site's link
 * every request before the first tile delays it.
 */
export const firstTileShown = new Promise((resolve) => {
  mainViewer.addOnceHandler("tile-drawn", () => requestAnimationFrame(() => resolve()));
  setTimeout(resolve, 3000);
  slidesReady.then(
    (slides) => slides.length || resolve(),
    () => resolve(),
  );
});
let sideBySide = null; // side-by-side-tools.js; null while the case has one slide to show
let openToken = 0;
let slideOpening = Promise.resolve(); // the main viewer's open of the slide chosen last
// The next case's prefetch yields to the open slide for at most this long per request: a view
// that never completes (a tile that fails) must not stop it for good.
const PREFETCH_YIELD_MAX_MS = 3000;

const scaleBar = attachScaleBar(mainViewer, mainViewer.element, () => opened?.mppUm ?? null);
const problemNote = attachProblemNote(mainViewer);
const measure = createMeasureTool({
  viewer: mainViewer,
  isActive: () => pointerMode === "measure",
  getMpp: () => mppOf(opened?.slide),
  readout: $("measurement"),
  // Named once two slides are shown: the readout is the page's, for either viewer's line.
  slideName: () => (sideBySide?.shown() && opened ? slideName(opened.slide) : null),
});
onPointerModeChange(() => measure.toolChanged()); // the centre cross shows while the tool is on

async function openSlide(slide) {
  const token = (openToken += 1);
  markCurrent(slide);
  measure.clear();
  $("associated-images").replaceChildren();
  const metadata = api(`/slides/${slide.id}`).catch(() => null);
  slideOpening = openSlideImage(mainViewer, slide.dzi_url);
  const why = await slideOpening;
  if (why !== null) {
    if (token !== openToken) return;
    opened = null;
    for (const callback of closeListeners) callback();
    problemNote.show(why);
    scaleBar.update(); // no image: no scale bar left over from the slide before
    return;
  }
  const details = await metadata;
  if (token !== openToken) return; // another slide was chosen meanwhile
  const mpp = mppOf(details);
  opened = {
    viewer: mainViewer,
    slide: { ...slide, ...(details ?? {}) },
    descriptor: descriptorOf(mainViewer),
    mppUm: mpp ? mpp.x : null,
  };
  updateRotationControls();
  const images = details?.associated_images ?? [];
  for (const name of ["label", "macro"]) {
    const button = $(`show-${name}`);
    button.disabled = !images.includes(name);
    button.title = button.disabled ? `This slide has no ${name} image` : "";
  }
  for (const callback of slideListeners) callback(opened);
}

// --- Tools -----------------------------------------------------------------------------------

function mainLeads() {
  sideBySide?.mainLeads();
}

function rotateBy(degrees) {
  mainLeads();
  setRotationDegrees(mainViewer, rotationDegrees(mainViewer) + degrees);
}

function updateRotationControls() {
  const degrees = rotationDegrees(mainViewer);
  $("rotation-degrees").value = String(degrees);
  $("rotation-value").textContent = `${degrees}°`;
}

function zoomBy(factor) {
  mainLeads();
  mainViewer.viewport.zoomBy(factor);
  mainViewer.viewport.applyConstraints();
}

function goHome() {
  mainLeads();
  mainViewer.viewport.goHome();
}

function toggleMeasure() {
  requestPointerMode(pointerMode === "measure" ? "navigate" : "measure");
}

function setUpTools(slides) {
  $("zoom-in").addEventListener("click", () => zoomBy(1.5));
  $("zoom-out").addEventListener("click", () => zoomBy(1 / 1.5));
  $("zoom-home").addEventListener("click", goHome);
  $("zoom-full").addEventListener("click", () => {
    mainLeads();
    zoomToFullResolution(mainViewer);
  });
  $("rotate-left").addEventListener("click", () => rotateBy(-90));
  $("rotate-right").addEventListener("click", () => rotateBy(90));
  $("rotation-degrees").addEventListener("input", (event) => {
    mainLeads();
    setRotationDegrees(mainViewer, Number(event.target.value), true);
  });
  mainViewer.addHandler("rotate", updateRotationControls);
  $("measure-tool").addEventListener("click", toggleMeasure);
  sideBySide = setUpSideBySide({ mainViewer, slides, slideName, currentPointerMode, onPointerModeChange });
  $("show-label").addEventListener("click", () => showAssociated("label"));
  $("show-macro").addEventListener("click", () => showAssociated("macro"));
}

async function showAssociated(name) {
  const slide = opened?.slide;
  if (!slide) return;
  const title = `${name === "label" ? "Label" : "Macro"} of slide ${slideName(slide)}`;
  const figure = await associatedImageFigure(slide.id, name, title);
  const container = $("associated-images");
  container.querySelector(`[data-image="${name}"]`)?.remove();
  container.append(figure);
}

// --- Start of the review ---------------------------------------------------------------------

async function startReviewIfMine(detail, me) {
  // Opening an assigned case of one's own is the start of its review.
  if (detail.status !== "assigned" || !me.pathologist_code) return;
  if (detail.primary_pathologist_code !== me.pathologist_code) return;
  try {
    await api(`/cases/${caseId}/start-review`, { method: "POST", body: { expected_version: detail.version } });
    await reloadCase();
    status.textContent = "Review started.";
  } catch (error) {
    status.textContent = `The review could not be started: ${error.message}`;
  }
}

// --- Keyboard shortcuts ----------------------------------------------------------------------

function setUpShortcuts(slides) {
  const usable = slides.filter((slide) => !slide.withdrawn_at);
  const step = (delta) => {
    const index = usable.findIndex((slide) => slide.id === opened?.slide.id);
    const next = usable[(index + delta + usable.length) % usable.length];
    if (next) openSlide(next);
  };
  addShortcut({ key: "r", description: "Rotate right 90°", run: () => rotateBy(90) });
  addShortcut({ key: "R", label: "Shift + R", description: "Rotate left 90°", run: () => rotateBy(-90) });
  addShortcut({ keys: ["+", "="], label: "+", description: "Zoom in", run: () => zoomBy(1.5) });
  addShortcut({ keys: ["-", "_"], label: "-", description: "Zoom out", run: () => zoomBy(1 / 1.5) });
  addShortcut({ key: "0", description: "Whole slide", run: goHome });
  addShortcut({ key: "1", description: "Full resolution", run: () => zoomToFullResolution(mainViewer) });
  addListedOnly({ label: "Arrow keys or W A S D", description: "Pan (when the slide viewer has the focus)" });
  addShortcut({ key: "m", description: "Measuring tool on or off", run: toggleMeasure });
  addShortcut({ key: "Escape", label: "Esc", description: "Back to moving the slide (tools off)", run: () => requestPointerMode("navigate") });
  addShortcut({ key: "]", description: "Next slide of the case", run: () => step(1) });
  addShortcut({ key: "[", description: "Previous slide of the case", run: () => step(-1) });
  addShortcut({ key: "b", description: "Side by side on or off", run: () => $("side-by-side-toggle").click() });
  addShortcut({ key: "n", description: "Next case", run: () => $("next-case").click() });
  addShortcut({
    key: "?",
    description: "Go to this list",
    run: () => {
      const section = $("keyboard-shortcuts");
      section.scrollIntoView();
      section.focus();
    },
  });
  installShortcuts($("shortcut-table").tBodies[0]);
}

// --- Start -----------------------------------------------------------------------------------

async function start() {
  import("/static/js/header.js")
    .then((header) => header.mountHeader("case"))
    .catch(() => {
      /* the header is another module's: the case view works without it */
    });
  slidesReady
    .then((slides) => {
      const first = slides.find((slide) => !slide.withdrawn_at);
      if (first && !opened) openSlide(first);
    })
    .catch(() => {
      /* said below, with the case */
    });
  let loaded;
  try {
    loaded = await caseReady;
  } catch (error) {
    $("case-title").textContent = "Case not available";
    status.setAttribute("role", "alert");
    status.textContent = error.message;
    return;
  }
  const { detail, me, slides } = loaded;
  showCase(detail);
  showStrip(slides);
  setUpTools(slides);
  setUpShortcuts(slides);
  const current = opened?.slide.id ?? slides.find((slide) => !slide.withdrawn_at)?.id;
  if (current !== undefined) markCurrent(slides.find((slide) => slide.id === current));
  else status.textContent = "No slide of this case can be shown.";
  startReviewIfMine(detail, me);
  setUpNextCase({
    button: $("next-case"),
    me,
    caseId,
    viewerElement: $("slide-viewer"),
    afterFirstTile: firstTileShown,
    whenIdle: async () => {
      await slideOpening; // a slide chosen meanwhile is not open yet, its tiles not asked
      await viewerIdle(mainViewer, PREFETCH_YIELD_MAX_MS);
    },
  }).catch(() => {
    $("next-case").disabled = true;
  });
}

start();

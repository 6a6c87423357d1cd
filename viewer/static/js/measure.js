// The measuring tool: drag a line over the slide; its length shows in µm or mm from the
// slide's mpp. Both ends are kept in image coordinates (slide level-0 pixels), converted from
// the screen through OpenSeadragon's viewport, so the length is right at any zoom and rotation
// and the line stays on the tissue when the view moves.
//
// From the keyboard (the slide viewer focused, the tool on): a cross marks the centre of the
// view; Enter or Space puts the line's start there, the arrow keys pan the slide under it, and
// a second Enter or Space puts the end there. The length is announced in the readout (a live
// region) only then, not on every pan, so a screen reader reads it once.

import { addListedOnly } from "/static/js/shortcuts.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const POINT_KEYS = ["Enter", " "];
// Half the length of each arm of the centre cross, in screen pixels.
const CROSS_ARM_PX = 12;
// The keys are listed once in the page's table, however many viewers have the tool.
let keysListed = false;

/** A measured length as shown: µm with one decimal below 1 mm, else mm with three. */
export function formatMeasurement(lengthUm) {
  if (lengthUm >= 1000) return `${(lengthUm / 1000).toFixed(3)} mm`;
  return `${lengthUm.toFixed(1)} µm`;
}

/** The length in µm of the line between two image points, with separate x and y mpp. */
export function lengthUm(start, end, mppXUm, mppYUm) {
  const dxUm = (end.x - start.x) * mppXUm;
  const dyUm = (end.y - start.y) * mppYUm;
  return Math.hypot(dxUm, dyUm);
}

/**
 * The tool on `viewer`: `isActive()` says whether the pointer belongs to it, `getMpp()` gives
 * `{x, y}` in µm per pixel of the open slide (null: lengths in pixels only), `readout` is the
 * status element the length is written to (one for the page: the tools of several viewers
 * share it), `slideName()` names the measured slide in it (null: not named, one slide shown).
 */
export function createMeasureTool({ viewer, isActive, getMpp, readout, slideName = () => null }) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "measure-overlay");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG_NS, "line");
  line.setAttribute("class", "measure-line");
  const cross = document.createElementNS(SVG_NS, "g");
  cross.setAttribute("class", "measure-crosshair");
  // Each arm twice: a wide light stroke under a dark one, visible on tissue and on glass.
  for (const layer of ["measure-crosshair-halo", "measure-crosshair-arm"]) {
    for (const [dx, dy] of [[1, 0], [0, 1]]) {
      const arm = document.createElementNS(SVG_NS, "line");
      arm.setAttribute("class", layer);
      arm.dataset.dx = String(dx);
      arm.dataset.dy = String(dy);
      cross.append(arm);
    }
  }
  svg.append(line, cross);
  viewer.element.append(svg);
  if (!keysListed) {
    keysListed = true;
    addListedOnly({
      label: "Enter or Space",
      description:
        "Measuring tool, slide viewer focused: set the line's start at the centre cross, pan, " +
        "then set its end (Esc cancels)",
      after: "m",
    });
  }

  let start = null;
  let end = null;
  // True between the keyboard's first and second point: the end follows the view's centre.
  let pendingFromKeyboard = false;
  let wasActive = false;
  let written = null; // what this tool last wrote in the shared readout

  function say(text) {
    readout.textContent = text;
    written = text;
  }

  function toImage(position) {
    return viewer.viewport.viewerElementToImageCoordinates(position);
  }

  function centreInImage() {
    // The target centre: where the view is going, so a key pressed mid-animation counts.
    return viewer.viewport.viewportToImageCoordinates(viewer.viewport.getCenter());
  }

  function drawCross() {
    svg.classList.toggle("is-active", isActive());
    const x = viewer.element.clientWidth / 2;
    const y = viewer.element.clientHeight / 2;
    for (const arm of cross.children) {
      const dx = Number(arm.dataset.dx) * CROSS_ARM_PX;
      const dy = Number(arm.dataset.dy) * CROSS_ARM_PX;
      arm.setAttribute("x1", String(x - dx));
      arm.setAttribute("y1", String(y - dy));
      arm.setAttribute("x2", String(x + dx));
      arm.setAttribute("y2", String(y + dy));
    }
  }

  function draw() {
    drawCross();
    if (pendingFromKeyboard) end = centreInImage();
    if (!start || !end) {
      svg.classList.remove("has-line");
      return;
    }
    const a = viewer.viewport.imageToViewerElementCoordinates(start);
    const b = viewer.viewport.imageToViewerElementCoordinates(end);
    line.setAttribute("x1", String(a.x));
    line.setAttribute("y1", String(a.y));
    line.setAttribute("x2", String(b.x));
    line.setAttribute("y2", String(b.y));
    svg.classList.add("has-line");
  }

  function report() {
    if (!start || !end) return;
    const lengthPx = Math.hypot(end.x - start.x, end.y - start.y);
    const mpp = getMpp();
    const name = slideName();
    const measured = name ? `Measured length on ${name}:` : "Measured length:";
    if (!mpp) {
      forgetReadout();
      say(`${measured} ${lengthPx.toFixed(0)} px (this slide has no resolution)`);
      return;
    }
    const um = lengthUm(start, end, mpp.x, mpp.y);
    say(`${measured} ${formatMeasurement(um)}`);
    readout.dataset.lengthUm = um.toFixed(3);
    readout.dataset.lengthPx = lengthPx.toFixed(2);
  }

  function forgetReadout() {
    delete readout.dataset.lengthUm;
    delete readout.dataset.lengthPx;
  }

  function cancelPending() {
    if (!pendingFromKeyboard) return;
    pendingFromKeyboard = false;
    start = null;
    end = null;
    say("Measurement cancelled.");
    draw();
  }

  function placePointFromKeyboard() {
    if (!pendingFromKeyboard) {
      start = centreInImage();
      end = start;
      pendingFromKeyboard = true;
      forgetReadout();
      say("Line started at the centre cross: pan with the arrow keys, then press Enter for its end.");
      draw();
      return;
    }
    pendingFromKeyboard = false;
    end = centreInImage();
    draw();
    report();
  }

  // On the viewer's element, before the page's shortcuts (the document) see the key.
  viewer.element.addEventListener("keydown", (event) => {
    if (!isActive() || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
    if (POINT_KEYS.includes(event.key)) {
      event.preventDefault(); // Space would scroll the page
      placePointFromKeyboard();
    }
  });

  viewer.addHandler("canvas-press", (event) => {
    if (!isActive()) return;
    pendingFromKeyboard = false; // the mouse takes over a line the keyboard began
    start = toImage(event.position);
    end = start;
    draw();
  });
  viewer.addHandler("canvas-drag", (event) => {
    if (!isActive() || !start) return;
    event.preventDefaultAction = true; // the drag draws the line instead of panning
    end = toImage(event.position);
    draw();
    report();
  });
  viewer.addHandler("canvas-release", (event) => {
    if (!isActive() || !start) return;
    end = toImage(event.position);
    draw();
    report();
  });
  viewer.addHandler("update-viewport", draw);
  viewer.addHandler("resize", draw);

  return {
    /** Show or hide the centre cross as the tool turns on or off; leaving drops a half line. */
    toolChanged() {
      const active = isActive();
      if (!active) cancelPending();
      // Said once as the tool turns on: a keyboard user has the focus on the viewer, not on
      // the button whose state changed.
      if (active && !wasActive) {
        forgetReadout();
        say("Measuring: drag a line, or press Enter or Space to start one at the centre cross.");
      }
      wasActive = active;
      draw();
    },

    /** Forget the line (another slide was opened); the readout too, if it says this tool's. */
    clear() {
      pendingFromKeyboard = false;
      start = null;
      end = null;
      draw();
      if (written !== null && readout.textContent === written) {
        readout.textContent = "";
        forgetReadout();
      }
      written = null;
    },
  };
}

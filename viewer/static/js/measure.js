// The measuring tool: drag a line over the slide; its length shows in µm or mm from the
// slide's mpp. Both ends are kept in image coordinates (slide level-0 pixels), converted from
// the screen through OpenSeadragon's viewport, so the length is right at any zoom and rotation
// and the line stays on the tissue when the view moves.

const SVG_NS = "http://www.w3.org/2000/svg";

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
 * status element the length is written to.
 */
export function createMeasureTool({ viewer, isActive, getMpp, readout }) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", "measure-overlay");
  svg.setAttribute("aria-hidden", "true");
  const line = document.createElementNS(SVG_NS, "line");
  line.setAttribute("class", "measure-line");
  svg.append(line);
  viewer.element.append(svg);

  let start = null;
  let end = null;

  function toImage(position) {
    return viewer.viewport.viewerElementToImageCoordinates(position);
  }

  function draw() {
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
    if (!mpp) {
      readout.textContent = `Measured length: ${lengthPx.toFixed(0)} px (this slide has no resolution)`;
      return;
    }
    const um = lengthUm(start, end, mpp.x, mpp.y);
    readout.textContent = `Measured length: ${formatMeasurement(um)}`;
    readout.dataset.lengthUm = um.toFixed(3);
    readout.dataset.lengthPx = lengthPx.toFixed(2);
  }

  viewer.addHandler("canvas-press", (event) => {
    if (!isActive()) return;
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

  return {
    /** Forget the line (another slide was opened). */
    clear() {
      start = null;
      end = null;
      draw();
      readout.textContent = "";
      delete readout.dataset.lengthUm;
      delete readout.dataset.lengthPx;
    },
  };
}

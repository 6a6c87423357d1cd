// One OpenSeadragon viewer on a slide's Deep Zoom pyramid, set up for remote sites, with a
// scale bar, a note for a slide that cannot be opened, and the slide's label and macro. OpenSeadragon is the classic script's global (pinned by package-lock.json).
//
// Image coordinates everywhere are the slide's level-0 pixels (a DZI's full size is level 0).

/* global OpenSeadragon */

import { api, el } from "/static/js/api.js";

const MAX_SCALE_BAR_PX = 160;

/**
 * The viewer's options, each chosen for a pathologist on a wide-area link:
 * - drawer "canvas": raises `tile-drawn` (the timing tests and the first-tile mark listen to
 *   it; the WebGL drawer does not raise it) and draws the same on every GPU or none.
 * - maxZoomPixelRatio 2: zoom to full resolution and at most 2 screen pixels per slide pixel
 *   (beyond that nothing new is seen, only blur).
 * - imageLoaderLimit 6: as many requests as the browser's connections to one host (HTTP/1.1);
 *   more would wait in the browser's queue, where OpenSeadragon can no longer put the newly
 *   visible tiles first after a pan.
 * - maxTilesPerFrame 6 (default 1): a field's requests leave together instead of one per
 *   animation frame; with a busy main thread (frames of 50 ms were seen) one per frame made a
 *   12-tile field wait 12 frames before its last request even left.
 * - immediateRender false (the default, said here on purpose): the coarse levels (a few tiles)
 *   come first and show the whole field at once, then sharpen; with true nothing shows until
 *   the tiles of the final level arrive, which on a 30 ms link is the slower first picture.
 * - no preload, no whole-level prefetch: only visible tiles load (next-case prefetch fetches
 *   the first view's tiles, see prefetch.js).
 * - OpenSeadragon's own buttons are off: the page's toolbar has labelled buttons instead.
 */
export function viewerOptions(element) {
  return {
    element,
    prefixUrl: "/static/vendor/openseadragon/images/",
    drawer: "canvas",
    crossOriginPolicy: false,
    loadTilesWithAjax: false,
    showNavigationControl: false,
    showNavigator: true,
    navigatorPosition: "BOTTOM_RIGHT",
    navigatorAutoFade: false,
    maxZoomPixelRatio: 2,
    minZoomImageRatio: 0.8,
    visibilityRatio: 0.5,
    imageLoaderLimit: 6,
    maxTilesPerFrame: 6,
    immediateRender: false,
    blendTime: 0,
    preload: false,
    animationTime: 0.6,
    rotationIncrement: 90,
    gestureSettingsMouse: { clickToZoom: true, dblClickToZoom: true },
    gestureSettingsTouch: { pinchRotate: true },
  };
}

/** A new OpenSeadragon viewer in `element` (the element keeps its role and label). */
export function createViewer(element) {
  const viewer = OpenSeadragon(viewerOptions(element));
  // Flipping a slide in diagnostics confuses more than it helps; the page/sequence keys of
  // OpenSeadragon (j, k) do nothing here. Everything else (arrows, w/a/s/d, r, 0, -, =) stays.
  viewer.addHandler("canvas-key", (event) => {
    const code = event.originalEvent.code;
    if (code === "KeyF" || code === "KeyJ" || code === "KeyK") event.preventDefaultAction = true;
  });
  return viewer;
}

/** The tiled image of the open slide, or null while none is open. */
export function openImage(viewer) {
  return viewer.world.getItemCount() > 0 ? viewer.world.getItemAt(0) : null;
}

/**
 * Open a slide's `dziUrl` in `viewer`. Resolves to null once it is open, or, when it cannot
 * be, to the words that say why (see `unopenableSlideText`): OpenSeadragon's own message names
 * its source object ("Unable to open [object Object]"), while the server's refusal of the
 * descriptor says why in words (file vanished, pyramid still building, no access).
 */
export async function openSlideImage(viewer, dziUrl) {
  const opened = new Promise((resolve, reject) => {
    // An earlier open may still be under way (a slide chosen, then another at once): its
    // late "open" or "open-failed" is not this one's, told apart by the URL it opened.
    const ours = (event) => {
      const url = typeof event.source === "string" ? event.source : event.source?.url;
      return url === undefined || url === dziUrl;
    };
    const settle = (event, outcome) => {
      if (!ours(event)) return;
      viewer.removeHandler("open", onOpen);
      viewer.removeHandler("open-failed", onFailed);
      outcome();
    };
    const onOpen = (event) => settle(event, resolve);
    const onFailed = (event) => settle(event, () => reject(new Error(event.message)));
    viewer.addHandler("open", onOpen);
    viewer.addHandler("open-failed", onFailed);
  });
  viewer.open(dziUrl);
  try {
    await opened;
    return null;
  } catch {
    // With nothing open OpenSeadragon stops drawing before it clears its canvas: the slide
    // before would stay on screen, under the note that says this one cannot be opened.
    viewer.world.draw();
    const refusal = await api(dziUrl).then(
      () => null,
      (error) => error,
    );
    return unopenableSlideText(refusal);
  }
}

/** The open slide's Deep Zoom descriptor as OpenSeadragon read it (null while none is open). */
export function descriptorOf(viewer) {
  const image = openImage(viewer);
  if (!image) return null;
  const source = image.source;
  return {
    widthPx: source.dimensions.x,
    heightPx: source.dimensions.y,
    tileSizePx: source.getTileWidth(0),
    overlapPx: source.tileOverlap,
    format: source.fileFormat,
  };
}

/** `{x, y}` µm per level-0 pixel from a slide's metadata (`GET /slides/{id}`); null if unknown. */
export function mppOf(metadata) {
  if (!metadata || !metadata.mpp_x_um) return null;
  return { x: metadata.mpp_x_um, y: metadata.mpp_y_um ?? metadata.mpp_x_um };
}

/** Screen (CSS) pixels per slide level-0 pixel at the viewer's current zoom. */
export function screenPxPerImagePx(viewer) {
  const image = openImage(viewer);
  if (!image) return null;
  return image.viewportToImageZoom(viewer.viewport.getZoom(true));
}

/** The rotation in degrees, 0-359: where it is going (or, `current`, where it is now). */
export function rotationDegrees(viewer, current = false) {
  return ((Math.round(viewer.viewport.getRotation(current)) % 360) + 360) % 360;
}

/** Rotate to `degrees` (any number: taken modulo 360). */
export function setRotationDegrees(viewer, degrees, immediately = false) {
  viewer.viewport.setRotation(((degrees % 360) + 360) % 360, immediately);
}

/** Zoom so one screen pixel shows one slide pixel, keeping the centre. */
export function zoomToFullResolution(viewer) {
  const image = openImage(viewer);
  if (!image) return;
  viewer.viewport.zoomTo(image.imageToViewportZoom(1));
}

const NICE_STEPS = [1, 2, 5];

/** The longest "nice" length (1, 2 or 5 x 10^k µm) that fits in `maxPx` screen pixels. */
export function niceScaleLength(umPerScreenPx, maxPx = MAX_SCALE_BAR_PX) {
  const maxUm = umPerScreenPx * maxPx;
  let best = null;
  for (let exponent = -2; exponent <= 6; exponent += 1) {
    for (const step of NICE_STEPS) {
      const lengthUm = step * 10 ** exponent;
      if (lengthUm <= maxUm) best = lengthUm;
    }
  }
  return best;
}

/** A length in µm as people read it: µm below 1 mm, else mm. */
export function formatLengthUm(lengthUm) {
  if (lengthUm >= 1000) {
    const mm = lengthUm / 1000;
    return `${mm >= 10 ? mm.toFixed(1) : mm.toFixed(2)} mm`;
  }
  if (lengthUm >= 100) return `${lengthUm.toFixed(0)} µm`;
  if (lengthUm >= 10) return `${lengthUm.toFixed(1)} µm`;
  return `${lengthUm.toFixed(2)} µm`;
}

function scaleText(lengthUm) {
  return lengthUm >= 1000 ? `${lengthUm / 1000} mm` : `${lengthUm} µm`;
}

/**
 * A scale bar over `viewer` (OpenSeadragon has none): a bar of a nice length in µm or mm from
 * the slide's mpp, redrawn on every viewport change. Rotation does not change the scale: the
 * bar stays horizontal. `getMppUm()` gives the open slide's µm per pixel (null: no bar).
 */
export function attachScaleBar(viewer, container, getMppUm) {
  const bar = document.createElement("div");
  bar.className = "scale-bar";
  bar.setAttribute("role", "img");
  // Named and hidden until a slide with an mpp is open: an image without a name is an axe fault.
  bar.setAttribute("aria-label", "Scale bar");
  bar.hidden = true;
  const line = document.createElement("div");
  line.className = "scale-bar-line";
  const text = document.createElement("span");
  text.className = "scale-bar-text";
  bar.append(line, text);
  container.append(bar);

  function update() {
    const mppUm = getMppUm();
    const pxPerImagePx = screenPxPerImagePx(viewer);
    if (!mppUm || !pxPerImagePx) {
      bar.hidden = true;
      return;
    }
    const umPerScreenPx = mppUm / pxPerImagePx;
    const lengthUm = niceScaleLength(umPerScreenPx);
    if (!lengthUm) {
      bar.hidden = true;
      return;
    }
    bar.hidden = false;
    line.style.width = `${(lengthUm / umPerScreenPx).toFixed(1)}px`;
    text.textContent = scaleText(lengthUm);
    bar.setAttribute("aria-label", `Scale bar: ${scaleText(lengthUm)}`);
    bar.dataset.lengthUm = String(lengthUm);
  }
  viewer.addHandler("update-viewport", update);
  viewer.addHandler("open", update);
  viewer.addHandler("resize", update);
  return { update, element: bar };
}

/**
 * User Timing marks (DevTools' Performance panel shows them; the timing tests read them):
 * `coupe:first-tile` when the first tile of each opened slide is drawn (`detail.tilesUrl`
 * names the slide), `coupe:field-complete` whenever every tile of the view is drawn.
 */
export function markTimings(viewer) {
  const seen = new WeakSet();
  viewer.addHandler("tile-drawn", (event) => {
    if (seen.has(event.tiledImage)) return;
    seen.add(event.tiledImage);
    performance.mark("coupe:first-tile", { detail: { tilesUrl: event.tiledImage.source.tilesUrl } });
  });
  viewer.addHandler("fully-loaded-change", (event) => {
    if (event.fullyLoaded) performance.mark("coupe:field-complete");
  });
}

/**
 * Resolves once every tile of `viewer`'s view is drawn (at once when it is, or when no slide
 * is open), or after `maxWaitMs` at the latest.
 */
export function viewerIdle(viewer, maxWaitMs) {
  const image = openImage(viewer);
  if (!image || image.getFullyLoaded()) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      viewer.removeHandler("fully-loaded-change", loaded);
      resolve();
    };
    const loaded = (event) => {
      if (event.fullyLoaded) done();
    };
    const timer = setTimeout(done, maxWaitMs);
    viewer.addHandler("fully-loaded-change", loaded);
  });
}

/**
 * A note over `viewer` that says in words why no slide is shown (`show(text)`), in place of
 * OpenSeadragon's own message ("Unable to open [object Object]"), which gives no reason a
 * pathologist can act on. An alert: a screen reader says it at once. Hidden again on the
 * next slide that opens.
 */
export function attachProblemNote(viewer) {
  const note = document.createElement("p");
  note.className = "error-message viewer-problem";
  note.setAttribute("role", "alert");
  note.setAttribute("aria-label", "Slide cannot be opened");
  note.hidden = true;
  // Positioned from here (CSSOM, allowed by the CSP): over the viewer, above its canvas.
  Object.assign(note.style, {
    position: "absolute",
    top: "1rem",
    left: "1rem",
    right: "1rem",
    zIndex: "3",
    margin: "0",
  });
  viewer.element.append(note);
  viewer.addHandler("open", () => {
    note.hidden = true;
    note.textContent = "";
  });
  return {
    element: note,
    show(text) {
      const own = viewer.container.querySelector(".openseadragon-message");
      if (own) own.style.display = "none";
      note.textContent = text;
      note.hidden = false;
    },
  };
}

const ASK_FOR_RESCAN = "Ask the lab to rescan it.";
// The API's error codes for a file that is there but cannot be read (services/errors.py).
const DAMAGED_CODES = new Set(["unsupported_slide", "slide_unreadable", "tiling_error"]);

/**
 * Why a slide cannot be opened, in the words a pathologist acts on, from the API's refusal of
 * its descriptor (`error`: an ApiError, or null when the descriptor came but the viewer could
 * not read it). The server's own words follow, for the lab.
 */
export function unopenableSlideText(error) {
  const code = error?.body?.error;
  const server = error?.status && error.message ? ` (The server says: ${error.message})` : "";
  let why = "the server refused it.";
  if (!error) why = "the viewer could not read its descriptor. Try reloading the page.";
  else if (code === "slide_file_missing") {
    why = `its file is missing from the slide store. ${ASK_FOR_RESCAN}`;
  } else if (DAMAGED_CODES.has(code)) why = `its file is damaged or cannot be read. ${ASK_FOR_RESCAN}`;
  else if (code === "slide_withdrawn") why = "it was withdrawn by the lab.";
  else if (error.status === 404) why = "it has not been scanned yet.";
  else if (error.status === 403) why = "its case is not yours to see.";
  else if (error.status === 0) why = "the server cannot be reached. Check the connection and try again.";
  else if (error.status >= 500) why = "the server could not answer. Try again in a moment.";
  return `This slide cannot be opened: ${why}${server}`;
}

/**
 * A figure with the slide's associated image `name` ("label", "macro") under `title`, or the
 * reason it cannot be shown, and a button that takes the figure away. The label and the macro
 * carry patient identifiers: fetched on request only (each view is audited by the API), drawn
 * on a canvas (the page's policy allows no blob: images) and never kept by the browser (the API
 * answers no-store).
 */
export async function associatedImageFigure(slideId, name, title) {
  const figure = el("figure", { class: "associated-image", "data-image": name });
  const caption = el("figcaption", {}, title);
  const closeButton = el(
    "button",
    { type: "button", class: "button", onclick: () => figure.remove() },
    `Hide ${name}`,
  );
  const refused = (detail) => el("p", { role: "alert" }, `The ${name} cannot be shown: ${detail}.`);
  try {
    const answer = await fetch(`/slides/${slideId}/${name}`, { credentials: "same-origin" });
    if (!answer.ok) {
      let detail = `the server answered ${answer.status}`;
      try {
        detail = (await answer.json()).detail ?? detail;
      } catch {
        /* not JSON: keep the status */
      }
      figure.append(caption, refused(detail), closeButton);
    } else {
      const bitmap = await createImageBitmap(await answer.blob());
      const canvas = el("canvas", { role: "img", "aria-label": title });
      canvas.width = bitmap.width;
      canvas.height = bitmap.height;
      canvas.getContext("2d").drawImage(bitmap, 0, 0);
      bitmap.close();
      figure.append(canvas, caption, closeButton);
    }
  } catch {
    figure.append(caption, refused("no connection"), closeButton);
  }
  return figure;
}

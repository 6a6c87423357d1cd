// Side by side: a second viewer on another slide of the case (H&E next to IHC), with pan, zoom
// and rotation kept in step. Two slides of one case are mostly serial sections scanned alike,
// so views of two scans of about the same size are matched in slide pixels: the same image
// point in the centre, the same screen pixels per slide pixel, the same rotation. Scans of
// different sizes (another scan area, a rescan of part of the tissue) are matched relative to
// each one's extent instead: the same fraction across and down in the centre, the same fraction
// of the slide's width on screen; in slide pixels the smaller one would lie beside the view.
//
// The viewer the user last touched leads and the other follows, so the two never chase each
// other's animations.

import { createViewer, openImage, openSlideImage, setRotationDegrees } from "/static/js/viewer.js";

// Two scans this close in width and in height are matched in slide pixels.
const SAME_SIZE_TOLERANCE = 0.1;

function viewOf(viewer) {
  const image = openImage(viewer);
  if (!image) return null;
  const viewport = viewer.viewport;
  return {
    centre: image.viewportToImageCoordinates(viewport.getCenter(true)),
    imageZoom: image.viewportToImageZoom(viewport.getZoom(true)),
    rotation: viewport.getRotation(true),
    size: image.getContentSize(),
  };
}

/** Whether scans of these sizes (level-0 pixels) are matched in slide pixels. */
export function matchedInSlidePixels(a, b) {
  const close = (p, q) => Math.abs(p - q) <= SAME_SIZE_TOLERANCE * Math.max(p, q);
  return close(a.x, b.x) && close(a.y, b.y);
}

function applyView(viewer, view) {
  const image = openImage(viewer);
  if (!image || !view) return;
  const viewport = viewer.viewport;
  const size = image.getContentSize();
  let { centre, imageZoom } = view;
  if (!matchedInSlidePixels(size, view.size)) {
    centre = new OpenSeadragon.Point(
      (centre.x / view.size.x) * size.x,
      (centre.y / view.size.y) * size.y,
    );
    imageZoom *= view.size.x / size.x;
  }
  setRotationDegrees(viewer, view.rotation, true);
  viewport.zoomTo(image.imageToViewportZoom(imageZoom), null, true);
  viewport.panTo(image.imageToViewportCoordinates(centre), true);
}

/**
 * The second viewer in `element`, following `mainViewer` both ways once shown; `container`
 * (the element, or one round it with its tools) is what shows and hides. `created(viewer)`
 * once the second viewer is made, `opened(dziUrl)` when the slide chosen last is open,
 * `failed(dziUrl, why)` when it cannot be (`why` in words, see viewer.js `openSlideImage`).
 * Returns `{viewer, open(dziUrl), show(), hide(), shown(), mainLeads()}`.
 */
export function createSideBySide(
  mainViewer,
  element,
  { container = element, created = () => {}, opened = () => {}, failed = () => {} } = {},
) {
  let second = null; // made when first shown: a viewer in a hidden element has no size
  let leader = mainViewer;
  let shown = false;
  let pendingUrl = null; // the slide chosen for the second viewer
  let openedUrl = null; // the slide it shows (or tried to)
  let opening = 0; // bumped per open: the outcome of one superseded meanwhile is dropped

  async function load(viewer, dziUrl) {
    openedUrl = dziUrl;
    const token = (opening += 1);
    const why = await openSlideImage(viewer, dziUrl);
    if (token !== opening) return;
    if (why === null) opened(dziUrl);
    else failed(dziUrl, why);
  }

  function follow(from, to) {
    return () => {
      if (!shown || !to || leader !== from) return;
      applyView(to, viewOf(from));
    };
  }

  function leadOnTouch(viewer, target) {
    for (const type of ["pointerdown", "wheel", "keydown", "focusin"]) {
      target.addEventListener(
        type,
        () => {
          leader = viewer;
        },
        { capture: true, passive: true },
      );
    }
  }

  mainViewer.addHandler("viewport-change", () => follow(mainViewer, second)());
  // A resize keeps a viewer's bounds, so its screen pixels per slide pixel change without the
  // leader moving (the layout changes when side by side is turned on): the one resized takes
  // the leader's view again.
  mainViewer.addHandler("after-resize", () => follow(second, mainViewer)());
  leadOnTouch(mainViewer, mainViewer.element);

  function ensureViewer() {
    if (second) return second;
    second = createViewer(element);
    second.addHandler("viewport-change", () => follow(second, mainViewer)());
    second.addHandler("after-resize", () => follow(mainViewer, second)());
    leadOnTouch(second, element);
    // A newly opened second slide takes the main viewer's view.
    second.addHandler("open", () => {
      leader = mainViewer;
      applyView(second, viewOf(mainViewer));
    });
    created(second);
    return second;
  }

  return {
    /** The second OpenSeadragon viewer (null until first shown). */
    get viewer() {
      return second;
    },
    /** Open `dziUrl` in the second viewer (now if shown, else when shown). */
    open(dziUrl) {
      pendingUrl = dziUrl;
      if (shown) load(ensureViewer(), dziUrl);
    },
    show() {
      shown = true;
      container.hidden = false;
      element.hidden = false;
      leader = mainViewer;
      const viewer = ensureViewer();
      // The viewers' sizes changed with the layout: both measure again, then match.
      requestAnimationFrame(() => {
        mainViewer.forceResize();
        viewer.forceResize();
        if (pendingUrl && openedUrl !== pendingUrl) {
          load(viewer, pendingUrl);
        } else {
          applyView(viewer, viewOf(mainViewer));
        }
      });
    },
    hide() {
      shown = false;
      container.hidden = true;
      requestAnimationFrame(() => mainViewer.forceResize());
    },
    shown: () => shown,
    /** The main viewer leads from now (the page's toolbar acts on it). */
    mainLeads() {
      leader = mainViewer;
    },
  };
}

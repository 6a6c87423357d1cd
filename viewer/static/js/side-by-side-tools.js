// Side by side on the case view: the "Side by side" toggle, the choice of the second slide, and
// the second viewer's own tools. Pan, zoom and rotation in step are side-by-side.js's; this
// module gives the second slide what the main one has: a scale bar and the measuring tool from
// its own mpp (two scans of a case need not share one), its annotations drawn read-only, and,
// for a slide that cannot be opened, the reason in words instead of OpenSeadragon's message.

import { api, el } from "/static/js/api.js";
import { createMeasureTool } from "/static/js/measure.js";
import { createReadOnlyAnnotations } from "/static/js/side-by-side-annotations.js";
import { createSideBySide } from "/static/js/side-by-side.js";
import { attachProblemNote, attachScaleBar, mppOf } from "/static/js/viewer.js";

const $ = (id) => document.getElementById(id);

/**
 * Wire side by side for the case's `slides` (strip order) next to `mainViewer`:
 * `slideName(slide)` names a slide as the page does; `currentPointerMode()` and
 * `onPointerModeChange(callback)` are the page's one-owner pointer rule (case.js), which the
 * second viewer's measuring tool follows as the main one's does. Returns side-by-side.js's
 * object, or null when the case has fewer than two slides to show.
 */
export function setUpSideBySide({
  mainViewer,
  slides,
  slideName,
  currentPointerMode,
  onPointerModeChange,
}) {
  const usable = slides.filter((slide) => !slide.withdrawn_at);
  const toggle = $("side-by-side-toggle");
  const select = $("second-slide");
  if (usable.length < 2) {
    toggle.disabled = true;
    toggle.title = "This case has only one slide";
    return null;
  }
  select.replaceChildren(
    ...usable.map((slide) => el("option", { value: slide.id }, slideName(slide))),
  );
  // Start with a slide that is not the main one, an IHC if there is one (H&E next to IHC).
  const ihc = usable.find((slide, index) => index > 0 && !/^H&?E$/i.test(slide.stain));
  select.value = String((ihc ?? usable[1]).id);

  const toolsRow = $("second-viewer-tools");
  let tools = null; // the second viewer's tools, made with it
  let current = null; // {slide, mpp} of the slide open in the second viewer, null while none
  let opening = 0; // bumped per slide: a late answer for the one before is dropped

  const sideBySide = createSideBySide(mainViewer, $("second-viewer"), {
    container: $("second-viewer-column"),
    created: (viewer) => {
      tools = attachTools(viewer);
    },
    opened: (dziUrl) => secondOpened(usable.find((slide) => slide.dzi_url === dziUrl)),
    failed: (_dziUrl, why) => secondFailed(why),
  });

  function attachTools(viewer) {
    const made = {
      scaleBar: attachScaleBar(viewer, viewer.element, () => current?.mpp?.x ?? null),
      problemNote: attachProblemNote(viewer),
      measure: createMeasureTool({
        viewer,
        isActive: () => currentPointerMode() === "measure" && sideBySide.shown() && current !== null,
        getMpp: () => current?.mpp ?? null,
        readout: $("measurement"),
        slideName: () => (current ? slideName(current.slide) : null),
      }),
      annotations: createReadOnlyAnnotations(viewer, { status: $("second-annotations-status") }),
    };
    onPointerModeChange(() => made.measure.toolChanged());
    $("show-second-annotations").addEventListener("change", (event) =>
      made.annotations.setVisible(event.target.checked),
    );
    return made;
  }

  async function secondOpened(slide) {
    const mine = (opening += 1);
    current = null;
    tools.measure.clear(); // a line on the slide before means nothing on this one
    // The slide's own mpp, as the main viewer reads its own (case.js): from its metadata.
    const details = await api(`/slides/${slide.id}`).catch(() => null);
    if (mine !== opening) return;
    current = { slide: { ...slide, ...(details ?? {}) }, mpp: mppOf(details) };
    toolsRow.hidden = false;
    tools.scaleBar.update();
    tools.measure.toolChanged(); // the centre cross, if the tool is on
    tools.annotations.show(slide);
  }

  function secondFailed(why) {
    opening += 1;
    current = null;
    tools.problemNote.show(why);
    tools.scaleBar.update(); // no image: no scale bar left over from the slide before
    tools.measure.clear();
    tools.annotations.clear();
    toolsRow.hidden = true; // nothing to show or hide on a slide that is not there
  }

  const chosen = () => usable.find((slide) => slide.id === Number(select.value));
  select.addEventListener("change", () => sideBySide.open(chosen().dzi_url));
  sideBySide.open(chosen().dzi_url);
  toggle.addEventListener("click", () => {
    const on = !sideBySide.shown();
    // The layout first: the second viewer is made at its side-by-side size.
    toggle.setAttribute("aria-pressed", String(on));
    $("second-slide-field").hidden = !on;
    $("viewers").classList.toggle("side-by-side", on);
    if (on) sideBySide.show();
    else sideBySide.hide();
    if (sideBySide.viewer) {
      sideBySide.viewer.gestureSettingsMouse.clickToZoom = currentPointerMode() === "navigate";
    }
    tools?.measure.toolChanged(); // its cross shows only while the second viewer does
  });
  return sideBySide;
}

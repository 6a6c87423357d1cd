// The second viewer's annotations, read-only: the slide's stored annotations drawn on the
// main viewer's kind of layers (annotation-layers.js: Annotorious for regions, the SVG mark
// layer for points and lines), in slide level-0 pixels through the viewer's own transform, so
// they stay on the tissue under the pan, zoom and rotation side by side keeps in step.
//
// Nothing can be selected, reshaped or placed here: drawing and editing are the main viewer's
// (annotations.js), whose panel lists the slide they are made on; an edit made here would land
// on a slide the panel does not show.

import { api } from "/static/js/api.js";
import { displayOfFeature } from "/static/js/annotation-geometry.js";
import {
  AnnotationLayers,
  colourOfClass,
  onAnnotationsChanged,
  whenLayersCanStart,
} from "/static/js/annotation-layers.js";
import { allItems, problemOf, say } from "/static/js/panel-kit.js";

let classesAsked = null;

/** The configured annotation classes, asked once (an empty list if they cannot be read). */
function annotationClasses() {
  classesAsked ??= api("/annotation-classes").then(
    (rules) => rules.classes,
    () => [],
  );
  return classesAsked;
}

function countText(count) {
  if (count === 0) return "This slide has no annotations.";
  return `This slide has ${count} annotation${count === 1 ? "" : "s"}.`;
}

/**
 * The read-only annotations of the slide in `viewer`: `show(slide)` loads and draws its
 * annotations, `clear()` takes them off (no slide open), `setVisible(visible)` hides or shows
 * them. `status` (a live region) says how many there are, or why they could not be read.
 */
export function createReadOnlyAnnotations(viewer, { status }) {
  let layers = null; // made once, after the first tile of the first slide (as on the main viewer)
  let records = new Map(); // the viewer's id -> {annotation (API), display}
  let classes = [];
  let visible = true;
  let generation = 0; // bumped per slide: late answers for the one before are dropped
  let shownSlide = null;

  function colourOf(id) {
    return colourOfClass(classes, records.get(id)?.annotation.class_name);
  }

  function draw() {
    if (!layers) return;
    layers.show(records);
    layers.setVisible(visible);
  }

  async function show(slide) {
    shownSlide = slide;
    const mine = (generation += 1);
    records = new Map();
    draw();
    say(status, "Loading this slide's annotations…");
    let annotations;
    try {
      [annotations, classes] = await Promise.all([
        allItems(`/slides/${slide.id}/annotations`),
        annotationClasses(),
      ]);
    } catch (error) {
      if (mine === generation) say(status, problemOf(error), { error: true });
      return;
    }
    if (mine !== generation) return;
    for (const annotation of annotations) {
      const display = displayOfFeature(annotation.geojson);
      records.set(`coupe-${annotation.id}`, { annotation, display });
    }
    say(status, countText(annotations.length));
    whenLayersCanStart(
      viewer,
      () => {
        if (mine !== generation) return;
        layers ??= new AnnotationLayers(viewer, { colourOf }); // read-only: it only draws
        draw();
      },
      (error) => say(status, problemOf(error), { error: true }),
    );
  }

  // An annotation saved in the main viewer on the slide shown here shows here too.
  onAnnotationsChanged((slideId) => {
    if (shownSlide && shownSlide.id === slideId) show(shownSlide);
  });

  return {
    show,

    clear() {
      generation += 1;
      shownSlide = null;
      records = new Map();
      draw();
      say(status, "");
    },

    setVisible(shown) {
      visible = shown;
      if (layers) layers.setVisible(shown);
    },
  };
}

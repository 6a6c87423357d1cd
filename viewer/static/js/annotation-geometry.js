// Between what the API stores (GeoJSON in slide level-0 pixels) and what the page draws:
// Annotorious shapes (RECTANGLE, POLYGON, MULTIPOLYGON, in the same image pixels) for regions,
// and "marks" (points and lines) that annotation-marks.js draws itself, since Annotorious 3.8
// has no drawing tool for either. Pure functions: no DOM, no viewer.
//
// A drawn annotation is stored as a Feature whose `properties.shape` names the tool that drew
// it ("rectangle", "polygon", "point", "line"), so a rectangle comes back as a rectangle (with
// its handles) and not as a four-cornered polygon.

/** The drawing tools, in the order the toolbar shows them. */
export const TOOLS = Object.freeze(["rectangle", "polygon", "point", "line"]);

const ROUND_PX = 100; // positions kept to 0.01 px: finer is noise, and it keeps JSON small

function rounded(value) {
  return Math.round(value * ROUND_PX) / ROUND_PX;
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

/** [x, y] inside the slide (the API refuses a position outside 0..width, 0..height). */
export function clampPosition([x, y], size) {
  return [rounded(clamp(x, 0, size.width)), rounded(clamp(y, 0, size.height))];
}

function boundsOf(points) {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  return {
    minX: Math.min(...xs),
    minY: Math.min(...ys),
    maxX: Math.max(...xs),
    maxY: Math.max(...ys),
  };
}

function samePosition(a, b) {
  return a[0] === b[0] && a[1] === b[1];
}

// Consecutive duplicates removed (clamping folds an overhang onto the slide's edge), and the
// ring closed as GeoJSON wants it.
function closedRing(points, size) {
  const ring = [];
  for (const point of points.map((p) => clampPosition(p, size))) {
    if (ring.length === 0 || !samePosition(ring[ring.length - 1], point)) ring.push(point);
  }
  if (ring.length > 1 && samePosition(ring[0], ring[ring.length - 1])) ring.pop();
  if (ring.length < 3) {
    throw new RangeError("the shape lies outside the slide or has no area: draw it on the tissue");
  }
  return [...ring, ring[0]];
}

/** The four corners of Annotorious' rectangle, turned by `rot` radians about its centre. */
export function rectangleCorners({ x, y, w, h, rot = 0 }) {
  const cx = x + w / 2;
  const cy = y + h / 2;
  const cos = Math.cos(rot);
  const sin = Math.sin(rot);
  return [
    [-w / 2, -h / 2],
    [w / 2, -h / 2],
    [w / 2, h / 2],
    [-w / 2, h / 2],
  ].map(([dx, dy]) => [cx + dx * cos - dy * sin, cy + dx * sin + dy * cos]);
}

/**
 * The GeoJSON Feature to store for a drawn shape. `drawn` is an Annotorious selector
 * (`{type: "RECTANGLE" | "POLYGON" | "MULTIPOLYGON", geometry}`) or a mark
 * (`{type: "point", position}` / `{type: "line", positions}`); `size` the slide's level-0
 * `{width, height}`. Throws RangeError when nothing of it lies on the slide.
 */
export function featureFromDrawing(drawn, size) {
  switch (drawn.type) {
    case "RECTANGLE":
      return feature("rectangle", {
        type: "Polygon",
        coordinates: [closedRing(rectangleCorners(drawn.geometry), size)],
      });
    case "POLYGON":
      return feature("polygon", {
        type: "Polygon",
        coordinates: [closedRing(drawn.geometry.points, size)],
      });
    case "MULTIPOLYGON":
      return feature("polygon", {
        type: "MultiPolygon",
        coordinates: drawn.geometry.polygons.map((part) =>
          part.rings.map((ring) => closedRing(ring.points, size)),
        ),
      });
    case "point":
      return feature("point", { type: "Point", coordinates: clampPosition(drawn.position, size) });
    case "line": {
      const positions = drawn.positions.map((p) => clampPosition(p, size));
      if (positions.length < 2 || positions.every((p) => samePosition(p, positions[0]))) {
        throw new RangeError("a line needs two different ends on the slide");
      }
      return feature("line", { type: "LineString", coordinates: positions });
    }
    default:
      throw new RangeError(`cannot store a ${drawn.type}`);
  }
}

function feature(shape, geometry) {
  return { type: "Feature", properties: { shape }, geometry };
}

// A stored document as a list of [shape name or null, geometry]: a Feature, a collection of
// them, or a bare geometry (what another client may have stored through the API).
function geometriesOf(document) {
  if (!document || typeof document !== "object") return [];
  if (document.type === "FeatureCollection") {
    return (document.features || []).flatMap((f) => geometriesOf(f));
  }
  if (document.type === "Feature") {
    const shape = document.properties && document.properties.shape;
    return document.geometry ? [[typeof shape === "string" ? shape : null, document.geometry]] : [];
  }
  return [[null, document]];
}

function openRing(ring) {
  const points = ring.map(([x, y]) => [x, y]);
  if (points.length > 1 && samePosition(points[0], points[points.length - 1])) points.pop();
  return points;
}

// A closed ring of four corners at right angles, read back as Annotorious' rectangle.
function rectangleFromRing(ring) {
  const corners = openRing(ring);
  if (corners.length !== 4) return null;
  const [p0, p1, p2, p3] = corners;
  const side = (a, b) => [b[0] - a[0], b[1] - a[1]];
  const length = (v) => Math.hypot(v[0], v[1]);
  const a = side(p0, p1);
  const b = side(p1, p2);
  const c = side(p2, p3);
  const w = length(a);
  const h = length(b);
  if (w === 0 || h === 0) return null;
  const tolerance = 1e-3 * Math.max(w, h);
  // Right angle at p1, and the opposite side equal and parallel: a rectangle.
  if (Math.abs(a[0] * b[0] + a[1] * b[1]) / Math.max(w, h) > tolerance) return null;
  if (Math.abs(a[0] + c[0]) > tolerance || Math.abs(a[1] + c[1]) > tolerance) return null;
  const rot = Math.abs(a[1]) < tolerance && a[0] > 0 ? 0 : Math.atan2(a[1], a[0]);
  const cx = (p0[0] + p2[0]) / 2;
  const cy = (p0[1] + p2[1]) / 2;
  const geometry = { x: cx - w / 2, y: cy - h / 2, w, h, rot, bounds: boundsOf(corners) };
  return { type: "RECTANGLE", geometry };
}

function polygonSelector(ring) {
  const points = openRing(ring);
  return { type: "POLYGON", geometry: { points, bounds: boundsOf(points) } };
}

function multiPolygonSelector(polygons) {
  const elements = polygons.map((rings) => {
    const opened = rings.map((ring) => ({ points: openRing(ring) }));
    return { rings: opened, bounds: boundsOf(opened[0].points) };
  });
  const corners = elements.flatMap((e) => e.rings[0].points);
  return { type: "MULTIPOLYGON", geometry: { polygons: elements, bounds: boundsOf(corners) } };
}

/**
 * How to show a stored annotation's GeoJSON: `{tool, selector, marks, editableShape,
 * movableMark}`.
 * `selector`: the Annotorious shape for its regions (null if it has none); `marks`: its
 * points and lines (`{type: "point", position}`, `{type: "line", positions}`); `tool`: the
 * tool that drew it, or what it looks like; `editableShape`: whether Annotorious may reshape
 * it (one rectangle or one polygon, nothing else in it); `movableMark`: whether it is one point
 * or one line, nothing else, which annotation-move.js may move.
 */
export function displayOfFeature(document) {
  const polygons = [];
  const marks = [];
  let tool = null;
  for (const [shape, geometry] of geometriesOf(document)) {
    tool ??= shape;
    const coordinates = geometry.coordinates;
    switch (geometry.type) {
      case "Polygon":
        polygons.push(coordinates);
        break;
      case "MultiPolygon":
        polygons.push(...coordinates);
        break;
      case "Point":
        marks.push({ type: "point", position: coordinates });
        break;
      case "MultiPoint":
        marks.push(...coordinates.map((position) => ({ type: "point", position })));
        break;
      case "LineString":
        marks.push({ type: "line", positions: coordinates });
        break;
      case "MultiLineString":
        marks.push(...coordinates.map((positions) => ({ type: "line", positions })));
        break;
      default:
        break;
    }
  }
  let selector = null;
  if (polygons.length === 1 && polygons[0].length === 1) {
    const ring = polygons[0][0];
    selector = (tool !== "polygon" && rectangleFromRing(ring)) || polygonSelector(ring);
  } else if (polygons.length > 0) {
    selector = multiPolygonSelector(polygons);
  }
  if (!tool) {
    if (selector) tool = selector.type === "RECTANGLE" ? "rectangle" : "polygon";
    else tool = marks.length && marks[0].type === "line" ? "line" : "point";
  }
  const editableShape =
    selector !== null && marks.length === 0 && selector.type !== "MULTIPOLYGON";
  const movableMark = selector === null && marks.length === 1;
  return { tool, selector, marks, editableShape, movableMark };
}

/** The level-0 box `{minX, minY, maxX, maxY}` round everything an annotation shows. */
export function boundsOfDisplay({ selector, marks }) {
  const points = marks.flatMap((m) => (m.type === "point" ? [m.position] : m.positions));
  if (selector) {
    const { minX, minY, maxX, maxY } = selector.geometry.bounds;
    points.push([minX, minY], [maxX, maxY]);
  }
  return points.length ? boundsOf(points) : null;
}

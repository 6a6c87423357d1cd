// Prefetching the next case while this one is read: its thumbnails, its first slide's
// descriptor and the tiles of that slide's first view, fetched into the browser's HTTP cache
// (tiles and thumbnails come with Cache-Control max-age from the API), so "Next case" draws
// from the cache instead of the wide-area link.
//
// The tiles of the first view follow from the Deep Zoom geometry alone: the home view shows
// the whole slide fitted into the viewer, and OpenSeadragon draws the levels whose pixels are
// at least half a screen pixel (minPixelRatio 0.5), down to the coarse ones it shows first.

import { api } from "/static/js/api.js";

export const THUMBNAIL_MAX_PX = 160;
const MIN_PIXEL_RATIO = 0.5; // OpenSeadragon's default, which viewer.js keeps
// OpenSeadragon also loads coarser levels than the sharpest it draws (the main viewer two, the
// navigator its own smaller ones): every level down to the first single-tile one is fetched,
// a handful of small tiles, so that no slide's geometry leaves one of them to the network.
const COARSE_LEVELS = 2;
const PARALLEL_REQUESTS = 4; // below the browser's 6 per host: the open case's tiles go first
// The audit then says "fetched ahead", not "looked at": opening the case later is recorded
// when the page asks for the case and the slide's descriptor, which are never cached.
const PREFETCH_HEADERS = { "Coupe-Purpose": "prefetch" };

/** The thumbnail URL the slide strip uses (the same URL, so the same cache entry). */
export function thumbnailUrl(slideId) {
  return `/slides/${slideId}/thumbnail?max_px=${THUMBNAIL_MAX_PX}`;
}

/** Width, height, tile size, overlap and format from a DZI descriptor's XML. */
export function parseDescriptor(xmlText) {
  const xml = new DOMParser().parseFromString(xmlText, "application/xml");
  const image = xml.getElementsByTagName("Image")[0];
  const size = xml.getElementsByTagName("Size")[0];
  if (!image || !size) throw new Error("not a Deep Zoom descriptor");
  return {
    widthPx: Number(size.getAttribute("Width")),
    heightPx: Number(size.getAttribute("Height")),
    tileSizePx: Number(image.getAttribute("TileSize")),
    overlapPx: Number(image.getAttribute("Overlap")),
    format: image.getAttribute("Format"),
  };
}

/** The Deep Zoom level of full resolution (level 0 is 1 x 1 px). */
export function maxLevel(descriptor) {
  return Math.ceil(Math.log2(Math.max(descriptor.widthPx, descriptor.heightPx)));
}

/** A level's size in pixels and tiles (each halving rounds up, as Deep Zoom does). */
export function levelGrid(descriptor, level) {
  const scale = 2 ** (maxLevel(descriptor) - level);
  const zWidthPx = Math.ceil(descriptor.widthPx / scale);
  const zHeightPx = Math.ceil(descriptor.heightPx / scale);
  return {
    zWidthPx,
    zHeightPx,
    columns: Math.ceil(zWidthPx / descriptor.tileSizePx),
    rows: Math.ceil(zHeightPx / descriptor.tileSizePx),
  };
}

/**
 * The tiles of the home view of a slide in a viewer of `viewerWidthPx` x `viewerHeightPx`:
 * `[{level, column, row}]`, sharpest level first. The whole slide is visible at home, so every
 * tile of each drawn level is.
 */
export function homeViewTiles(descriptor, viewerWidthPx, viewerHeightPx) {
  const top = maxLevel(descriptor);
  const screenPxPerImagePx = Math.min(
    viewerWidthPx / descriptor.widthPx,
    viewerHeightPx / descriptor.heightPx,
  );
  // The sharpest level drawn: one of its pixels spans at least MIN_PIXEL_RATIO screen pixels.
  let sharpest = 0;
  for (let level = top; level >= 0; level -= 1) {
    if (screenPxPerImagePx * 2 ** (top - level) >= MIN_PIXEL_RATIO) {
      sharpest = level;
      break;
    }
  }
  const tiles = [];
  for (let level = sharpest; level >= 0; level -= 1) {
    const grid = levelGrid(descriptor, level);
    for (let row = 0; row < grid.rows; row += 1) {
      for (let column = 0; column < grid.columns; column += 1) {
        tiles.push({ level, column, row });
      }
    }
    const single = grid.columns === 1 && grid.rows === 1;
    if (single && level <= sharpest - COARSE_LEVELS) break; // the coarser ones are never drawn
  }
  return tiles;
}

/** A tile's URL next to its descriptor: `/slides/7.dzi` -> `/slides/7_files/12/0_1.jpeg`. */
export function tileUrl(dziUrl, descriptor, { level, column, row }) {
  const base = dziUrl.replace(/\.dzi$/, "_files");
  return `${base}/${level}/${column}_${row}.${descriptor.format}`;
}

async function fetchAll(urls, limit, whenIdle) {
  let next = 0;
  let failed = 0;
  async function worker() {
    while (next < urls.length) {
      await whenIdle();
      if (next >= urls.length) break;
      const url = urls[next];
      next += 1;
      try {
        const answer = await fetch(url, { credentials: "same-origin", headers: PREFETCH_HEADERS });
        // Read the body: only a complete answer is kept in the cache.
        await answer.arrayBuffer();
        if (!answer.ok) failed += 1;
      } catch {
        failed += 1;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, urls.length) }, worker));
  return failed;
}

/**
 * Prefetch case `caseId` for a viewer of the given size: thumbnails, the first slide's
 * descriptor, the tiles of its home view. Before each request it awaits `whenIdle()`: the
 * page's own view goes first (a slide chosen meanwhile, a pan), the prefetch takes what
 * connections are left once that is drawn. Resolves to what was fetched (for the page's
 * status and the tests); never throws: a failed prefetch only means a slower next case.
 */
export async function prefetchCase(
  caseId,
  viewerWidthPx,
  viewerHeightPx,
  { whenIdle = async () => {} } = {},
) {
  const summary = { caseId, thumbnails: 0, tiles: 0, failed: 0, done: false };
  try {
    await whenIdle();
    const page = await api(`/cases/${caseId}/slides`, { headers: PREFETCH_HEADERS });
    const slides = page.items.filter((slide) => !slide.withdrawn_at);
    if (slides.length === 0) return { ...summary, done: true };
    const thumbnails = slides.map((slide) => thumbnailUrl(slide.id));
    summary.failed += await fetchAll(thumbnails, PARALLEL_REQUESTS, whenIdle);
    summary.thumbnails = thumbnails.length;
    const first = slides[0];
    await whenIdle();
    const answer = await fetch(first.dzi_url, {
      credentials: "same-origin",
      headers: PREFETCH_HEADERS,
    });
    if (!answer.ok) return { ...summary, failed: summary.failed + 1 };
    const descriptor = parseDescriptor(await answer.text());
    const tiles = homeViewTiles(descriptor, viewerWidthPx, viewerHeightPx).map((tile) =>
      tileUrl(first.dzi_url, descriptor, tile),
    );
    summary.failed += await fetchAll(tiles, PARALLEL_REQUESTS, whenIdle);
    summary.tiles = tiles.length;
    summary.done = true;
  } catch {
    summary.failed += 1;
  }
  return summary;
}

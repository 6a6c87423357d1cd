// "Next case" on the case view: the button opens the case after this one on the pathologist's
// worklist, and that case's first view is fetched ahead while this one is read
// (prefetch.js), so it opens from the browser's cache instead of the wide-area link.

import { allItems } from "/static/js/panel-kit.js";
import { prefetchCase } from "/static/js/prefetch.js";

/**
 * Wire `button` for `me` on case `caseId`: hidden for an account without a pathologist,
 * disabled when no other case waits. Once `afterFirstTile` has resolved (tissue first), the
 * next case is prefetched for a viewer the size of `viewerElement`, each request after
 * `whenIdle()` (the open slide's view goes first: the first view, another slide chosen, a
 * pan). What the prefetch fetched is said on the button's data attributes (for the tests).
 */
export async function setUpNextCase({
  button,
  me,
  caseId,
  viewerElement,
  afterFirstTile,
  whenIdle,
}) {
  if (!me.pathologist_code) {
    button.hidden = true;
    return;
  }
  await afterFirstTile;
  const items = (await allItems("/worklist/mine?kind=primary")).filter(
    (item) => item.kind === "primary",
  );
  const ids = items.map((item) => item.case.id);
  const here = ids.indexOf(caseId);
  const nextId = here >= 0 ? ids[here + 1] : ids.find((id) => id !== caseId);
  if (nextId === undefined) {
    button.disabled = true;
    button.title = "No other case on your worklist";
    return;
  }
  const next = items.find((item) => item.case.id === nextId).case;
  button.disabled = false;
  button.setAttribute("aria-label", `Next case: ${next.accession_number}`);
  button.addEventListener("click", () => location.assign(`/case/${nextId}`));
  button.dataset.prefetch = "running";
  const done = await prefetchCase(nextId, viewerElement.clientWidth, viewerElement.clientHeight, {
    whenIdle,
  });
  button.dataset.prefetch = done.done ? "done" : "failed";
  button.dataset.prefetchedTiles = String(done.tiles);
  button.dataset.prefetchFailed = String(done.failed);
}

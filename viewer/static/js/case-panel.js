// What every side panel of the case page waits for before it draws: the case read, and its
// first tile drawn (tissue first, the panels after: see case.js).

import { caseReady, firstTileShown } from "/static/js/case.js";

/**
 * The case page's context (`{caseId, detail, me, ...}`) for `panel`, once the case is read and
 * its first tile drawn; null, with the panel hidden, when the case cannot be shown (the page
 * says why).
 */
export async function panelContext(panel) {
  let context;
  try {
    context = await caseReady;
  } catch {
    panel.hidden = true;
    return null;
  }
  await firstTileShown;
  return context;
}

// The header every signed-in page shares: a skip link, the app's name (to the worklist), the
// pages of the user's role (my worklist; the lab manager's desk; the administrator's accounts;
// everyone's benchmarks), the signed-in user's name and role, "Sign out", and on the case page
// a link to its list of keyboard shortcuts (the element with id "keyboard-shortcuts").

import { api, currentUser, el } from "/static/js/api.js";

const ROLE_NAMES = {
  pathologist: "Pathologist",
  lab_manager: "Lab manager",
  admin: "Administrator",
  privacy_officer: "Privacy officer",
  system: "System",
};

/** A role as people read it: "lab_manager" -> "Lab manager". */
export function roleName(role) {
  return ROLE_NAMES[role] ?? role;
}

/** What the header says about `user`: "Dr. W. de Groot (ALR-05)". */
export function userLabel(user) {
  const code = user.pathologist_code ? ` (${user.pathologist_code})` : "";
  return `${user.display_name || user.username}${code}`;
}

async function signOut(button) {
  button.disabled = true;
  try {
    await api("/auth/logout", { method: "POST", signIn: false });
  } catch {
    // Already signed out (the session ended) or the server is unreachable: either way the
    // sign-in page is where the user goes next, and the session is no use to anyone.
  }
  location.assign("/sign-in");
}

const DESK_LINKS = [
  ["desk-queue", "/desk/queue", "Regional queue"],
  ["desk-backlog", "/desk/backlog", "Backlog"],
  ["desk-load", "/desk/load", "Load today"],
  ["desk-round", "/desk/round", "Assignment round"],
  ["desk-rosters", "/desk/rosters", "Rosters"],
  ["desk-imports", "/desk/imports", "Import queue"],
  ["desk-reports", "/desk/reports", "Capacity reports"],
];
const ADMIN_LINKS = [["admin-accounts", "/admin/accounts", "Accounts"]];
// Benchmark results and the server's live figures hold no patient data: every account sees them.
const EVERYONE_LINKS = [["desk-benchmarks", "/desk/benchmarks", "Benchmarks"]];

/** The pages `user` works on, as [page, URL, name]: what the main navigation offers them. */
export function pagesFor(user) {
  const pages = [];
  if (user.pathologist_code) pages.push(["worklist", "/", "My worklist"]);
  if (user.role === "lab_manager" || user.role === "admin") pages.push(...DESK_LINKS);
  if (user.role === "admin") pages.push(...ADMIN_LINKS);
  pages.push(...EVERYONE_LINKS);
  return pages;
}

function navigation(currentPage, user) {
  const links = pagesFor(user).map(([page, href, name]) =>
    el(
      "li",
      {},
      el("a", { href, "aria-current": page === currentPage ? "page" : null }, name),
    ),
  );
  if (currentPage === "case") {
    links.push(el("li", {}, el("a", { href: "#keyboard-shortcuts" }, "Keyboard shortcuts")));
  }
  return el("nav", { "aria-label": "Main" }, el("ul", {}, links));
}

/**
 * Fill the page's `<header class="app-header">` (made at the top of the body if absent) for
 * `currentPage` ("worklist", "case", "desk-queue", ...: the first item of `pagesFor`). Returns the signed-in user (`GET /auth/me`); without a
 * session the API client goes to the sign-in page.
 */
export async function mountHeader(currentPage) {
  let header = document.querySelector("header.app-header");
  if (!header) {
    header = el("header", { class: "app-header" });
    document.body.prepend(header);
  }
  const main = document.querySelector("main");
  if (main && !main.id) main.id = "main";
  const skip = main
    ? el("a", { class: "skip-link", href: `#${main.id}` }, "Skip to main content")
    : null;
  const home = el("a", { class: "app-name", href: "/" }, "Coupe");
  header.replaceChildren(...[skip, home].filter(Boolean));
  const user = await currentUser();
  header.append(navigation(currentPage, user));
  const button = el("button", { type: "button", onclick: () => signOut(button) }, "Sign out");
  header.append(
    el(
      "div",
      { class: "user" },
      el(
        "span",
        {},
        el("span", { class: "visually-hidden" }, "Signed in as "),
        el("strong", { class: "user-name" }, userLabel(user)),
        " ",
        el("span", { class: "user-role" }, `· ${roleName(user.role)}`),
      ),
      button,
    ),
  );
  return user;
}

// The one way the pages talk to the API: same origin, the session cookie, the CSRF token on
// every write, and one kind of error. A 401 (no session, or it ended) sends the user to the
// sign-in page, which brings them back here afterwards.

const CSRF_COOKIE = "coupe_csrf";

/**
 * An API answer that was not 2xx: `status`, the API's `detail` as `message`, the body, and
 * `retryAfterS` (the Retry-After header in seconds, e.g. on 429; null when absent).
 */
export class ApiError extends Error {
  constructor(status, message, body, retryAfterS = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
    this.retryAfterS = retryAfterS;
  }
}

function retryAfterOf(answer) {
  const value = answer.headers.get("Retry-After");
  if (value === null) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const when = Date.parse(value); // the header may also be an HTTP date
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

function cookie(name) {
  const prefix = `${name}=`;
  for (const part of document.cookie.split("; ")) {
    if (part.startsWith(prefix)) return decodeURIComponent(part.slice(prefix.length));
  }
  return null;
}

function messageOf(status, body) {
  if (body && typeof body.detail === "string") return body.detail;
  if (body && Array.isArray(body.detail)) {
    return body.detail.map((d) => d.msg || String(d)).join("; ");
  }
  if (status === 0) return "The server cannot be reached; check the connection and try again.";
  return `The server answered ${status}.`;
}

/**
 * The path to go to after signing in: `raw` if it is a path of this site, else "/". Never an
 * address of another site (`//evil.example`, `https://...`, `/\evil.example` all give "/"),
 * and never the sign-in page itself.
 */
export function safeNextPath(raw, origin = location.origin) {
  if (typeof raw !== "string" || !raw.startsWith("/")) return "/";
  let url;
  try {
    url = new URL(raw, origin);
  } catch {
    return "/";
  }
  // The parser's own verdict decides: browsers read "/\x" and "/<tab>/x" as "//x".
  if (url.origin !== origin || url.pathname === "/sign-in") return "/";
  return url.pathname + url.search + url.hash;
}

/** Where the sign-in page sends the user back to: this page. */
export function signInUrl(next = location.pathname + location.search + location.hash) {
  return `/sign-in?next=${encodeURIComponent(next)}`;
}

/** Go to the sign-in page, and back here after signing in. */
export function redirectToSignIn() {
  location.assign(signInUrl());
}

/**
 * Call the API: `api("/worklist/mine")`, `api("/cases/1/report", {method: "PUT", body: {...}})`.
 * Returns the parsed JSON (null for 204). Throws ApiError; on 401 it first sends the user to the
 * sign-in page (unless `{signIn: false}`).
 */
export async function api(path, { method = "GET", body, headers = {}, signIn = true } = {}) {
  const sent = { ...headers, Accept: "application/json" };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD") {
    const token = cookie(CSRF_COOKIE);
    if (token) sent["X-CSRF-Token"] = token;
  }
  let answer;
  try {
    answer = await fetch(path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    throw new ApiError(0, messageOf(0, null), null);
  }
  const text = await answer.text();
  let parsed = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = null;
    }
  }
  if (!answer.ok) {
    if (answer.status === 401 && signIn) redirectToSignIn();
    throw new ApiError(
      answer.status,
      messageOf(answer.status, parsed),
      parsed,
      retryAfterOf(answer),
    );
  }
  return parsed;
}

let me = null;

/** The signed-in user (`GET /auth/me`), asked once per page. */
export function currentUser() {
  me ??= api("/auth/me");
  return me;
}

/**
 * Build an element: `el("a", {href: "/", class: "link"}, "text", child)`. Strings become text
 * nodes, never HTML: free text from the API is always shown as text.
 */
export function el(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Show `message` in the page's status region (role="status" or "alert"). */
export function announce(region, message) {
  region.textContent = message;
}

/** A date-time from the API as people read it here (local time, day and minutes). */
export function formatDateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString("en-GB", {
    day: "2-digit",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

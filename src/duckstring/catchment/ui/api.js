// The one HTTP client of the web UI. Every URL is relative ("api/status", never "/api/status")
// so the page works under a path prefix. On a 401 it asks for the key once, keeps it in the
// browser (per page path, so two Catchments behind one origin keep their own), and retries.

const KEY_STORE = `duckstring.key:${location.pathname}`;

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

let pendingKey = null; // one prompt answers every request that hit the 401 meanwhile

function storedKey() {
  try {
    return localStorage.getItem(KEY_STORE);
  } catch {
    return null;
  }
}

function keepKey(key) {
  try {
    localStorage.setItem(KEY_STORE, key);
  } catch {
    // a browser that refuses storage still works for this page's life: the prompt asks again
  }
  sessionKey = key;
}

let sessionKey = storedKey();

function askForKey(refused) {
  if (pendingKey) return pendingKey;
  const dialog = document.getElementById("key-prompt");
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("input");
  const note = dialog.querySelector(".key-note");
  note.textContent = refused
    ? "That key was refused. Enter the Catchment's API key."
    : "This Catchment needs an API key.";
  dialog.hidden = false;
  const connection = document.getElementById("connection");
  if (connection) {
    connection.className = "connection offline";
    connection.textContent = "key needed";
  }
  input.value = "";
  input.focus();
  pendingKey = new Promise((resolve) => {
    form.onsubmit = (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      keepKey(key);
      dialog.hidden = true;
      pendingKey = null;
      resolve(key);
    };
  });
  return pendingKey;
}

function describe(body, status) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const where = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
        return where ? `${where}: ${item.msg}` : item.msg;
      })
      .join("; ");
  }
  return `HTTP ${status}`;
}

/** JSON from `path` (relative to the page); throws ApiError with the server's `detail`. */
export async function api(path, { method = "GET", body } = {}) {
  let refused = false;
  for (;;) {
    const headers = { Accept: "application/json" };
    if (sessionKey) headers.Authorization = `Bearer ${sessionKey}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    if (response.status === 401) {
      refused = refused || Boolean(sessionKey);
      await askForKey(refused);
      refused = true;
      continue;
    }
    const text = await response.text();
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    if (!response.ok) throw new ApiError(response.status, describe(parsed, response.status));
    return parsed;
  }
}

/** A Pond line's route: `api/ponds/{name}/{verb}?major=N`. */
export function pondPath(pond, verb) {
  return `api/ponds/${encodeURIComponent(pond.name)}/${verb}?major=${pond.major}`;
}

export function forgetKey() {
  sessionKey = null;
  try {
    localStorage.removeItem(KEY_STORE);
  } catch {
    // nothing kept, nothing to forget
  }
}

export function hasKey() {
  return Boolean(sessionKey);
}

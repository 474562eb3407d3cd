// The public API, with the signed-in user's bearer token. The token is the only thing kept
// in the browser (sessionStorage: gone when the tab closes); no patient data is stored.
const TOKEN_KEY = "vigil.station.token";

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export async function signIn(username, password) {
  const body = new URLSearchParams({ grant_type: "password", username, password });
  const r = await fetch("/v1/auth/token", { method: "POST", body });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new ApiError(r.status, data);
  sessionStorage.setItem(TOKEN_KEY, data.access_token);
  return data;
}

export async function request(method, path, { body, query, headers } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const init = { method, headers: { Accept: "application/json", ...(headers || {}) } };
  const t = token();
  if (t) init.headers.Authorization = `Bearer ${t}`;
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, { detail: "The server cannot be reached. Check the network and try again." });
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (r.status === 401 && path !== "/v1/auth/token") {
    onUnauthorized(data && data.detail);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return { data, etag: r.headers.get("ETag") };
}

export const get = (path, query) => request("GET", path, { query }).then((r) => r.data);
export const post = (path, body) => request("POST", path, { body }).then((r) => r.data);
export const put = (path, body) => request("PUT", path, { body }).then((r) => r.data);

// Every refusal as the API words it: the problem's detail, each validation error and each
// unmet gate item with whether (and who) may override it.
export function describeProblem(err) {
  const p = (err && err.problem) || {};
  const lines = [];
  for (const e of p.errors || []) {
    const where = (e.loc || []).filter((x) => x !== "body").join(" › ");
    lines.push(where ? `${where}: ${e.msg}` : e.msg);
  }
  const unmet = (p.unmet || []).map((u) => ({
    message: u.message,
    override: u.overridable === true
      ? "A clinician may override this with a reason."
      : u.overridable === false ? "No one can override this." : "",
    code: u.code,
  }));
  return { status: err.status, detail: p.detail || String(err.message || err), lines, unmet };
}

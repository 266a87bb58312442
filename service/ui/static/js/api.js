// Talking to the API that serves this page. Paths are relative to the page's parent
// (`/ui/` → `/`), so the dashboard also works behind a proxy that mounts the API under a prefix.

const KEY_STORAGE = "retrospect.apiKey";
const apiRoot = new URL("../", document.baseURI);

/** Fired as "unauthorized" when the server wants a (valid) key: the header asks for one. */
export const authEvents = new EventTarget();

export function getKey() {
  try {
    return localStorage.getItem(KEY_STORAGE) ?? "";
  } catch {
    return ""; // storage disabled: work without a key, as on loopback
  }
}

export function setKey(key) {
  try {
    if (key) localStorage.setItem(KEY_STORAGE, key);
    else localStorage.removeItem(KEY_STORAGE);
  } catch {
    // The key then lasts until the page closes; nothing else to do.
  }
}

/** The API's `{"error": {code, message, field}}`, plus the HTTP status (0: no answer). */
export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** Call the API with the stored key as `Authorization: Bearer`; JSON in, JSON out. */
export async function api(path, { method = "GET", body, signal } = {}) {
  const headers = { Accept: "application/json" };
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(new URL(path, apiRoot), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "unreachable", `the server did not answer (${error.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null; // a proxy's HTML error page, say: the status still tells what happened
  }
  if (!response.ok) {
    const detail = data?.error ?? {};
    const error = new ApiError(
      response.status,
      detail.code ?? "http_error",
      detail.message ?? `${response.status} ${response.statusText}`,
      detail.field ?? null,
    );
    if (response.status === 401) {
      authEvents.dispatchEvent(new CustomEvent("unauthorized", { detail: error }));
    }
    throw error;
  }
  return data;
}

/**
 * An absolute URL for what cannot send headers (EventSource, a download link): the key
 * travels as `?access_token=`, which the server accepts on exactly those routes.
 */
export function authorizedUrl(path, params = {}) {
  const url = new URL(path, apiRoot);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, String(value));
  const key = getKey();
  if (key) url.searchParams.set("access_token", key);
  return url.href;
}

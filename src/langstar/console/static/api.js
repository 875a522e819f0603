// Calls to langstar's API from the console, with the person's API key if one is set.
// The key lives in memory and this tab's sessionStorage, or in localStorage when the
// person asks the page to remember it.

const KEY_NAME = "langstar.apiKey";

// The API is where the page is, less its final "ui": this keeps any mount prefix.
export const base = location.pathname.replace(/ui\/?$/, "");

let apiKey = sessionStorage.getItem(KEY_NAME) ?? localStorage.getItem(KEY_NAME) ?? "";

export function hasKey() {
  return apiKey !== "";
}

export function remembered() {
  return localStorage.getItem(KEY_NAME) !== null;
}

export function setKey(key, remember) {
  apiKey = key;
  sessionStorage.removeItem(KEY_NAME);
  localStorage.removeItem(KEY_NAME);
  if (key) (remember ? localStorage : sessionStorage).setItem(KEY_NAME, key);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
  }
}

function headers(body) {
  const out = {Accept: body === undefined ? "application/json" : "text/event-stream, application/json"};
  if (body !== undefined) out["Content-Type"] = "application/json";
  if (apiKey) out["x-api-key"] = apiKey;
  return out;
}

async function failure(response) {
  let detail = response.statusText;
  try {
    const body = await response.json();
    detail = body.detail ?? body.message ?? JSON.stringify(body);
  } catch {
    // Not JSON: keep the status text.
  }
  return new ApiError(response.status, detail);
}

async function send(method, path, body) {
  const response = await fetch(base + path.replace(/^\//, ""), {
    method,
    headers: headers(body),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await failure(response);
  return response;
}

export async function get(path) {
  return (await send("GET", path)).json();
}

export async function post(path, body = {}) {
  return (await send("POST", path, body)).json();
}

export async function patch(path, body) {
  return (await send("PATCH", path, body)).json();
}

// A run's events as they arrive: calls onEvent(event, data) for each SSE frame.
export async function stream(path, body, onEvent) {
  const response = await send("POST", path, body);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    buffer = (buffer + decoder.decode(value, {stream: true})).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      dispatch(frame, onEvent);
    }
  }
}

function dispatch(frame, onEvent) {
  let event = "message";
  const data = [];
  for (const line of frame.split("\n")) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
  }
  if (data.length === 0) return;
  let parsed = data.join("\n");
  try {
    parsed = JSON.parse(parsed);
  } catch {
    // Keep the text as it came.
  }
  onEvent(event, parsed);
}

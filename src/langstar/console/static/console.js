// The console: pick an assistant, open or start a thread, chat with it as the reply
// streams in, answer interrupts, and inspect the thread's state, history and runs.
import * as api from "./api.js";

const $ = (id) => document.getElementById(id);

const view = {
  thread: null, // the open thread's id
  messages: [], // the thread's messages, as its last values had them
  streaming: new Map(), // message id -> message being streamed in
  running: false,
  threads: [], // the threads last listed, newest first
};

// How many threads the list loads, and so how many the search looks through.
const THREADS_LOADED = 100;

function notice(text, bad = false) {
  $("notice").textContent = text;
  $("notice").classList.toggle("bad", bad);
}

// The key form shows only while the server wants a key it does not have.
function askForKey(ask) {
  $("auth").hidden = !ask;
  $("change-key").hidden = ask || !api.hasKey();
  if (ask) $("api-key").focus();
}

function report(error) {
  if (error instanceof api.ApiError && (error.status === 401 || error.status === 403)) {
    askForKey(true);
    notice(`Not authorized (${error.detail}): enter an API key.`, true);
  } else {
    notice(String(error.message ?? error), true);
  }
}

function element(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  node.append(...children);
  return node;
}

function text(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part === "string" ? part : part.text ?? "")).join("");
  }
  return content == null ? "" : JSON.stringify(content);
}

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function shorten(words, length = 60) {
  const flat = words.replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

// Messages ----------------------------------------------------------------------------

function kind(message) {
  const type = (message.type ?? message.role ?? "").toLowerCase();
  if (type.startsWith("human") || type === "user") return "human";
  if (type.startsWith("tool")) return "tool";
  if (type.startsWith("system")) return "system";
  return "ai";
}

function messageItem(message) {
  const role = kind(message);
  const item = element("li", {className: `msg ${role}`});
  const label = role === "tool" ? `tool result${message.name ? `: ${message.name}` : ""}` : role;
  item.append(element("span", {className: "role", textContent: label}));
  item.append(document.createTextNode(text(message.content)));
  const calls = message.tool_calls?.length ? message.tool_calls : message.tool_call_chunks ?? [];
  for (const call of calls) {
    const args = typeof call.args === "string" ? call.args : JSON.stringify(call.args ?? {});
    item.append(element("span", {className: "call", textContent: `calls ${call.name ?? "…"}(${args})`}));
  }
  return item;
}

function renderMessages() {
  const list = $("messages");
  const known = new Set(view.messages.map((m) => m.id));
  const shown = [...view.messages, ...[...view.streaming.values()].filter((m) => !known.has(m.id))];
  list.replaceChildren(...shown.map(messageItem));
  list.scrollTop = list.scrollHeight;
}

function onChunk([chunk]) {
  if (!chunk || kind(chunk) === "human") return;
  const id = chunk.id ?? `chunk-${view.streaming.size}`;
  const seen = view.streaming.get(id);
  if (!seen || !String(chunk.type).endsWith("Chunk")) {
    view.streaming.set(id, {...chunk, id, content: text(chunk.content)});
  } else {
    seen.content += text(chunk.content);
    for (const part of chunk.tool_call_chunks ?? []) {
      const calls = (seen.tool_call_chunks ??= []);
      const same = calls.find((c) => c.index === part.index);
      if (same) same.args = (same.args ?? "") + (part.args ?? "");
      else calls.push({...part});
    }
  }
  renderMessages();
}

// Runs --------------------------------------------------------------------------------

function showError(message) {
  $("run-error").hidden = !message;
  $("run-error").textContent = message ? `Run failed: ${message}` : "";
}

async function run(body) {
  if (view.running) return;
  view.running = true;
  $("send").disabled = true;
  showError("");
  view.streaming.clear();
  try {
    if (!view.thread) await openThread((await api.post("threads", {metadata: {}})).thread_id);
    const request = {
      assistant_id: $("assistant").value,
      stream_mode: ["messages-tuple", "values"],
      ...body,
    };
    await api.stream(`threads/${view.thread}/runs/stream`, request, (event, data) => {
      if (event === "messages") onChunk(data);
      else if (event === "values" && Array.isArray(data?.messages)) {
        view.messages = data.messages;
        renderMessages();
      } else if (event === "error") showError(data?.message ?? data?.error ?? pretty(data));
    });
  } catch (error) {
    report(error);
  } finally {
    view.running = false;
    $("send").disabled = false;
    await refresh();
  }
}

function send(event) {
  event.preventDefault();
  const content = $("message").value.trim();
  if (!content || view.running) return;
  $("message").value = "";
  view.messages = [...view.messages, {type: "human", content, id: `local-${Date.now()}`}];
  renderMessages();
  run({input: {messages: [{role: "user", content}]}});
}

function resume(event) {
  event.preventDefault();
  const raw = $("resume-value").value.trim();
  let answer = raw;
  try {
    answer = JSON.parse(raw);
  } catch {
    // Plain text is the answer as it is.
  }
  $("resume-value").value = "";
  $("interrupt").hidden = true;
  run({input: null, command: {resume: answer}});
}

function fork(checkpoint) {
  view.messages = checkpoint.values?.messages ?? [];
  renderMessages();
  run({input: null, checkpoint_id: checkpoint.checkpoint.checkpoint_id});
}

// Inspecting a thread -----------------------------------------------------------------

function pendingInterrupts(state) {
  if (state.interrupts?.length) return state.interrupts;
  return (state.tasks ?? []).flatMap((task) => task.interrupts ?? []);
}

function renderState(state) {
  $("state").textContent = pretty(state);
  if (!view.running) view.messages = state.values?.messages ?? [];
  $("thread-title").textContent = titleOf({values: state.values, metadata: {}});
  const pending = pendingInterrupts(state);
  $("interrupt").hidden = pending.length === 0;
  $("interrupt-value").textContent = pending.map((i) => pretty(i.value)).join("\n");
}

function renderHistory(history) {
  $("history").replaceChildren(
    ...history.map((checkpoint) => {
      const next = checkpoint.next ?? [];
      const step = checkpoint.metadata?.step ?? "?";
      const where = next.length ? `→ ${next.join(", ")}` : "(end)";
      const id = element("code", {textContent: checkpoint.checkpoint.checkpoint_id.slice(0, 13)});
      const item = element("li", {}, element("span", {className: "step", textContent: `step ${step}`}), id, element("span", {textContent: where}));
      if (next.length) {
        const again = element("button", {type: "button", className: "link", textContent: "Run again from here"});
        again.addEventListener("click", () => fork(checkpoint));
        item.append(again);
      }
      return item;
    }),
  );
}

function took(runInfo) {
  const ms = Date.parse(runInfo.updated_at) - Date.parse(runInfo.created_at);
  return Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : "";
}

function renderRuns(runs) {
  $("runs").tBodies[0].replaceChildren(
    ...runs.map((r) =>
      element(
        "tr",
        {},
        element("td", {title: r.run_id}, element("code", {textContent: r.run_id.slice(0, 8)})),
        element("td", {className: `status-${r.status}`, textContent: r.status}),
        element("td", {textContent: new Date(r.created_at).toLocaleTimeString()}),
        element("td", {textContent: r.status === "pending" || r.status === "running" ? "" : took(r)}),
      ),
    ),
  );
}

async function refresh() {
  try {
    await loadThreads();
    if (!view.thread) return;
    const id = view.thread;
    const [state, history, runs] = await Promise.all([
      api.get(`threads/${id}/state`),
      api.post(`threads/${id}/history`, {limit: 20}),
      api.get(`threads/${id}/runs?limit=20`),
    ]);
    if (id !== view.thread) return;
    renderState(state);
    renderHistory(history);
    renderRuns(runs);
    view.streaming.clear();
    renderMessages();
  } catch (error) {
    report(error);
  }
}

// The open thread lives in the address (#/threads/<id>), so reload and back/forward work.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function threadInAddress() {
  const id = location.hash.replace(/^#\/threads\//, "");
  return UUID.test(id) ? id : null;
}

async function openThread(id, {remember = true} = {}) {
  view.thread = id;
  view.messages = [];
  view.streaming.clear();
  showError("");
  if (remember && threadInAddress() !== id) history.pushState(null, "", `#/threads/${id}`);
  const listed = view.threads.find((t) => t.thread_id === id);
  $("thread-title").textContent = listed ? titleOf(listed) : "Empty thread";
  for (const button of $("threads").querySelectorAll("button")) {
    button.setAttribute("aria-current", String(button.dataset.id === id));
  }
  document.body.classList.remove("show-threads");
  $("toggle-threads").setAttribute("aria-expanded", "false");
  $("interrupt").hidden = true;
  for (const list of ["history", "state"]) $(list).replaceChildren();
  $("runs").tBodies[0].replaceChildren();
  renderMessages();
}

async function followAddress() {
  const id = threadInAddress();
  if (id === view.thread || view.running) return;
  if (id) {
    await openThread(id, {remember: false});
  } else {
    view.thread = null;
    view.messages = [];
    $("thread-title").textContent = "New thread: send a message to start one.";
    renderMessages();
  }
  await refresh();
}

// Threads and assistants --------------------------------------------------------------

function titleOf(thread) {
  const named = thread.metadata?.title ?? thread.metadata?.name;
  if (typeof named === "string" && named.trim()) return shorten(named);
  const first = (thread.values?.messages ?? []).find((m) => kind(m) === "human");
  return first ? shorten(text(first.content)) || "(empty message)" : "Empty thread";
}

function ago(when) {
  const seconds = (Date.now() - Date.parse(when)) / 1000;
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  if (seconds < 7 * 86400) return `${Math.round(seconds / 86400)} d ago`;
  return new Date(when).toLocaleDateString();
}

// Every message's text, the title and the metadata: what a search looks through.
function searchable(thread) {
  const messages = (thread.values?.messages ?? []).map((m) => text(m.content));
  return [thread.thread_id, JSON.stringify(thread.metadata ?? {}), ...messages].join("\n").toLowerCase();
}

function matches(thread, wanted) {
  const haystack = searchable(thread);
  return wanted.toLowerCase().split(/\s+/).every((word) => haystack.includes(word));
}

function threadItem(thread) {
  const when = element("small", {textContent: `${ago(thread.updated_at)} · ${thread.status}`});
  when.title = new Date(thread.updated_at).toLocaleString();
  const button = element("button", {type: "button", title: thread.thread_id}, element("span", {className: "name", textContent: titleOf(thread)}), when);
  button.dataset.id = thread.thread_id;
  button.setAttribute("aria-current", String(thread.thread_id === view.thread));
  button.addEventListener("click", async () => {
    if (thread.thread_id === view.thread) return document.body.classList.remove("show-threads");
    await openThread(thread.thread_id);
    await refresh();
  });
  return element("li", {}, button);
}

// The search API matches whole values only, so the page searches message text itself,
// through the most recently active threads it loaded.
async function loadThreads() {
  const wanted = $("thread-search").value.trim();
  const query = {limit: THREADS_LOADED, sort_by: "updated_at", sort_order: "desc"};
  if (UUID.test(wanted)) query.ids = [wanted];
  view.threads = await api.post("threads/search", query);
  const shown = view.threads.filter((t) => !wanted || UUID.test(wanted) || matches(t, wanted));
  $("threads").replaceChildren(...shown.map(threadItem));
  const full = view.threads.length >= THREADS_LOADED;
  $("threads-note").textContent = wanted && full ? `Searched the ${THREADS_LOADED} most recent threads.` : "";
}

async function loadAssistants() {
  const assistants = await api.post("assistants/search", {limit: 100});
  const select = $("assistant");
  // The one chosen, else the one the address names, else the built-in agent.
  const chosen = select.value || new URLSearchParams(location.search).get("assistant") || "agent";
  select.replaceChildren(
    ...assistants.map((a) => element("option", {value: a.assistant_id, textContent: a.name || a.graph_id})),
  );
  const match = assistants.find((a) => a.assistant_id === chosen || a.graph_id === chosen);
  if (match) select.value = match.assistant_id;
}

async function start() {
  try {
    await loadAssistants();
    askForKey(false);
    notice(api.hasKey() ? "Using your API key." : "");
    const id = threadInAddress();
    if (id && id !== view.thread) await openThread(id, {remember: false});
    await refresh();
  } catch (error) {
    report(error);
  }
}

function useKey(event) {
  event.preventDefault();
  api.setKey($("api-key").value.trim(), $("remember").checked);
  $("api-key").value = "";
  start();
}

function toggle(name, button) {
  const open = document.body.classList.toggle(name);
  button.setAttribute("aria-expanded", String(open));
}

let searching;
$("thread-search").addEventListener("input", () => {
  clearTimeout(searching);
  searching = setTimeout(() => loadThreads().catch(report), 250);
});
$("new-thread").addEventListener("click", async () => {
  try {
    await openThread((await api.post("threads", {metadata: {}})).thread_id);
    await refresh();
  } catch (error) {
    report(error);
  }
});
$("send-form").addEventListener("submit", send);
$("message").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) send(event);
});
$("resume-form").addEventListener("submit", resume);
$("auth").addEventListener("submit", useKey);
$("change-key").addEventListener("click", () => askForKey(true));
$("toggle-threads").addEventListener("click", (event) => toggle("show-threads", event.currentTarget));
$("toggle-inspect").addEventListener("click", (event) => toggle("show-inspect", event.currentTarget));
window.addEventListener("popstate", () => followAddress().catch(report));
$("remember").checked = api.remembered();
start();

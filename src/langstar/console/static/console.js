// The console: pick an assistant, open or start a thread, chat with it as the reply
// streams in, answer interrupts, and inspect the thread's state, history and runs.
import * as api from "./api.js";

const $ = (id) => document.getElementById(id);

const view = {
  thread: null, // the open thread's id
  messages: [], // the thread's messages, as its last values had them
  streaming: new Map(), // message id -> message being streamed in
  running: false,
};

function notice(text, bad = false) {
  $("notice").textContent = text;
  $("notice").classList.toggle("bad", bad);
}

function report(error) {
  if (error instanceof api.ApiError && (error.status === 401 || error.status === 403)) {
    $("auth").hidden = false;
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
      const item = element("li", {}, element("span", {textContent: `step ${step}`}), id, element("span", {textContent: where}));
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

async function openThread(id) {
  view.thread = id;
  view.messages = [];
  view.streaming.clear();
  showError("");
  $("thread-title").textContent = `Thread ${id}`;
  for (const button of $("threads").querySelectorAll("button")) {
    button.setAttribute("aria-current", String(button.dataset.id === id));
  }
  renderMessages();
}

// Threads and assistants --------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function loadThreads() {
  const wanted = $("thread-search").value.trim();
  const query = {limit: 50, sort_by: "updated_at", sort_order: "desc"};
  if (UUID.test(wanted)) query.ids = [wanted];
  const threads = (await api.post("threads/search", query)).filter(
    (t) => !wanted || UUID.test(wanted) || `${t.thread_id} ${JSON.stringify(t.metadata)}`.includes(wanted),
  );
  $("threads").replaceChildren(
    ...threads.map((t) => {
      const button = element("button", {type: "button"}, t.thread_id.slice(0, 8), element("small", {textContent: `${t.status} · ${new Date(t.updated_at).toLocaleString()}`}));
      button.dataset.id = t.thread_id;
      button.setAttribute("aria-current", String(t.thread_id === view.thread));
      button.addEventListener("click", async () => {
        await openThread(t.thread_id);
        await refresh();
      });
      return element("li", {}, button);
    }),
  );
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
    await loadThreads();
    notice(api.hasKey() ? "Using your API key." : "");
  } catch (error) {
    report(error);
  }
}

function useKey(event) {
  event.preventDefault();
  api.setKey($("api-key").value.trim(), $("remember").checked);
  start();
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
$("remember").checked = api.remembered();
$("auth").hidden = !api.hasKey();
start();

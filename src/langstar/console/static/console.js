// The console: pick an assistant, open or start a thread, chat with it as the reply
// streams in, answer interrupts, and inspect the thread's state, history and runs.
import * as api from "./api.js";
import {line, messageBranches, tip, tree} from "./branches.js";
import {drawGraph} from "./graph.js";

const $ = (id) => document.getElementById(id);

const view = {
  thread: null, // the open thread's id
  messages: [], // the thread's messages, as its last values had them
  streaming: new Map(), // message id -> message being streamed in
  running: false,
  run: null, // the run streaming in ({thread, id}), once the server has named it
  threads: [], // the threads last listed, newest first
  listedFor: "", // the thread id the list was asked for, if it was
  metadata: {}, // the open thread's metadata
  tree: null, // the thread's checkpoints, by parent (see branches.js)
  latest: null, // the thread's newest checkpoint
  head: null, // the checkpoint whose branch is shown, when not the newest
  branches: new Map(), // message id -> its branches, on the line shown
};

// How many checkpoints the history loads: branches older than these are not offered.
const CHECKPOINTS_LOADED = 100;

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

function element(tag, {ariaLabel, ...props} = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  if (ariaLabel) node.setAttribute("aria-label", ariaLabel);
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
  item.append(element("span", {className: "body", textContent: text(message.content)}));
  const calls = message.tool_calls?.length ? message.tool_calls : message.tool_call_chunks ?? [];
  for (const call of calls) {
    const args = typeof call.args === "string" ? call.args : JSON.stringify(call.args ?? {});
    item.append(element("span", {className: "call", textContent: `calls ${call.name ?? "…"}(${args})`}));
  }
  const branches = view.running ? null : view.branches.get(message.id);
  const actions = branches && messageActions(item, message, branches);
  if (actions?.childElementCount) item.append(actions);
  return item;
}

function link(label, onClick, extra = {}) {
  const button = element("button", {type: "button", className: "link", textContent: label, ...extra});
  button.addEventListener("click", onClick);
  return button;
}

function messageActions(item, message, branches) {
  const actions = element("div", {className: "actions"});
  if (branches.options.length > 1) actions.append(switcher(branches));
  if (kind(message) === "human" && branches.from) {
    const said = text(message.content);
    actions.append(
      link("Edit", () => editMessage(item, said, branches.from)),
      link("Run again from here", () => ask(said, branches.from)),
    );
  }
  const before = kind(message) === "ai" ? view.tree?.byId.get(branches.before) : null;
  if (before?.next?.length) actions.append(link("Run again", () => fork(before)));
  return actions;
}

// "‹ 1 / 2 ›": move to the sibling branch, shown up to its newest checkpoint.
function switcher({options, at}) {
  const move = (by) => () => showBranch(tip(view.tree, options[at + by]));
  const previous = link("‹", move(-1), {ariaLabel: "Previous branch", disabled: at <= 0});
  const next = link("›", move(1), {ariaLabel: "Next branch", disabled: at >= options.length - 1});
  const where = element("span", {textContent: `${at + 1} / ${options.length}`});
  return element("span", {className: "branches", title: "Branches of this conversation"}, previous, where, next);
}

function editMessage(item, said, from) {
  const box = element("textarea", {rows: 3, value: said, ariaLabel: "Edit message"});
  const save = element("button", {type: "submit", textContent: "Save and run"});
  const cancel = link("Cancel", () => renderMessages());
  const form = element("form", {}, box, element("div", {}, cancel, save));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (box.value.trim()) ask(box.value.trim(), from);
  });
  item.classList.add("editing");
  item.replaceChildren(form);
  box.focus();
}

// Say `content` from checkpoint `from`: a new branch beside the one that said it first.
function ask(content, from) {
  if (view.running) return;
  const before = view.tree?.byId.get(from)?.values?.messages ?? [];
  view.messages = [...before, {type: "human", content, id: `local-${Date.now()}`}];
  view.head = null;
  renderMessages();
  run({input: {messages: [{role: "user", content}]}, checkpoint_id: from});
}

function showBranch(head) {
  view.head = head === view.latest ? null : head;
  const shown = view.tree.byId.get(head);
  view.messages = shown?.values?.messages ?? [];
  drawThread();
}

// The messages and history of the branch shown, with each message's branches.
function drawThread() {
  const head = view.head ?? view.latest;
  const path = view.tree && head ? line(view.tree, head) : [];
  view.branches = view.tree ? messageBranches(view.tree, path) : new Map();
  renderMessages();
  renderHistory(new Set(path), head);
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

function running(yes) {
  view.running = yes;
  view.run = null;
  $("send").hidden = yes;
  $("stop").hidden = !yes;
}

async function run(body) {
  if (view.running) return;
  running(true);
  showError("");
  view.streaming.clear();
  try {
    if (!view.thread) await openThread((await api.post("threads", {metadata: {}})).thread_id);
    // A message sent while an older branch is shown continues that branch.
    const onBranch = view.head && body.checkpoint_id === undefined ? {checkpoint_id: view.head} : {};
    const request = {
      assistant_id: $("assistant").value,
      stream_mode: ["messages-tuple", "values"],
      ...onBranch,
      ...body,
    };
    view.head = null;
    renderMessages();
    const thread = view.thread;
    await api.stream(`threads/${thread}/runs/stream`, request, (event, data) => {
      if (event === "metadata" && data?.run_id) view.run = {thread, id: data.run_id};
      // Another thread opened meanwhile: the run goes on, out of sight.
      if (view.thread !== thread) return;
      if (event === "messages") onChunk(data);
      else if (event === "values" && Array.isArray(data?.messages)) {
        view.messages = data.messages;
        renderMessages();
      } else if (event === "error") showError(data?.message ?? data?.error ?? pretty(data));
    });
  } catch (error) {
    report(error);
  } finally {
    running(false);
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

// Stop the run streaming in: the server interrupts it, keeping what it has done so far.
async function stop() {
  if (!view.run) return;
  try {
    await api.post(`threads/${view.run.thread}/runs/${view.run.id}/cancel?action=interrupt`);
  } catch (error) {
    report(error);
  }
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
  view.head = null;
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
  showTitle(titleOf({values: state.values, metadata: view.metadata}));
  const pending = pendingInterrupts(state);
  $("interrupt").hidden = pending.length === 0;
  $("interrupt-value").textContent = pending.map((i) => pretty(i.value)).join("\n");
}

function historyItem(checkpoint, path, head) {
  const id = checkpoint.checkpoint.checkpoint_id;
  const next = checkpoint.next ?? [];
  const where = next.length ? `→ ${next.join(", ")}` : "(end)";
  const row = element(
    "div",
    {className: "row", title: `checkpoint ${id}`},
    element("span", {className: "step", textContent: `step ${checkpoint.metadata?.step ?? "?"}`}),
    element("span", {textContent: where}),
  );
  if (next.length) row.append(link("Run again from here", () => fork(checkpoint)));
  const classes = [path.has(id) ? "current" : "", id === head ? "head" : ""];
  return element("li", {className: classes.join(" ").trim()}, row);
}

// One list per branch: a line of checkpoints until a fork, then a list for each child.
function historyLine(first, path, head) {
  const items = [];
  for (let at = first; at; ) {
    const item = historyItem(view.tree.byId.get(at), path, head);
    items.push(item);
    const kids = view.tree.kids(at);
    if (kids.length > 1) item.append(...historyBranches(kids, path, head));
    at = kids.length === 1 ? kids[0] : null;
  }
  return items;
}

function historyBranches(firsts, path, head) {
  return firsts.map((first, index) => {
    const label = element("li", {className: "label", textContent: `branch ${index + 1} of ${firsts.length}`});
    return element("ol", {className: "branch"}, label, ...historyLine(first, path, head));
  });
}

function renderHistory(path, head) {
  const roots = view.tree?.kids(null) ?? [];
  const items = roots.length === 1 ? historyLine(roots[0], path, head) : historyBranches(roots, path, head).map((list) => element("li", {}, list));
  if (view.tree?.byId.size >= CHECKPOINTS_LOADED) {
    items.unshift(element("li", {className: "label", textContent: `The newest ${CHECKPOINTS_LOADED} checkpoints:`}));
  }
  $("history").replaceChildren(...items);
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
    const [thread, state, history, runs] = await Promise.all([
      api.get(`threads/${id}`),
      api.get(`threads/${id}/state`),
      api.post(`threads/${id}/history`, {limit: CHECKPOINTS_LOADED}),
      api.get(`threads/${id}/runs?limit=20`),
    ]);
    if (id !== view.thread) return;
    view.metadata = thread.metadata ?? {};
    view.tree = tree(history);
    view.latest = state.checkpoint?.checkpoint_id ?? null;
    if (!view.tree.byId.has(view.head)) view.head = null;
    renderState(state);
    renderRuns(runs);
    view.streaming.clear();
    if (view.head && !view.running) view.messages = view.tree.byId.get(view.head).values?.messages ?? [];
    drawThread();
  } catch (error) {
    report(error);
  }
}

function showTitle(title) {
  $("thread-title").textContent = title;
  $("thread-title").title = title;
  $("rename").hidden = !view.thread;
  $("rename-form").hidden = true;
  $("thread-title").hidden = false;
}

// A thread's title is its metadata's `title`, as the thread list shows it.
function startRename() {
  $("rename-value").value = typeof view.metadata.title === "string" ? view.metadata.title : $("thread-title").textContent;
  $("thread-title").hidden = true;
  $("rename").hidden = true;
  $("rename-form").hidden = false;
  $("rename-value").focus();
}

async function rename(event) {
  event.preventDefault();
  const title = $("rename-value").value.trim();
  try {
    if (view.thread) await api.patch(`threads/${view.thread}`, {metadata: {title: title || null}});
  } catch (error) {
    report(error);
  }
  await refresh();
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
  Object.assign(view, {tree: null, latest: null, head: null, branches: new Map()});
  showError("");
  if (remember && threadInAddress() !== id) history.pushState(null, "", `#/threads/${id}`);
  const listed = view.threads.find((t) => t.thread_id === id);
  view.metadata = listed?.metadata ?? {};
  showTitle(listed ? titleOf(listed) : "Empty thread");
  useAssistantOf(listed);
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
  if (id === view.thread) return;
  if (id) {
    await openThread(id, {remember: false});
  } else {
    view.thread = null;
    view.messages = [];
    Object.assign(view, {tree: null, latest: null, head: null, branches: new Map()});
    showTitle("New thread: send a message to start one.");
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
  view.listedFor = UUID.test(wanted) ? wanted : "";
  showThreads();
}

function showThreads() {
  const wanted = $("thread-search").value.trim();
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
  const match = assistants.find((a) => a.assistant_id === chosen || a.name === chosen) ?? assistants.find((a) => a.graph_id === chosen);
  if (match) select.value = match.assistant_id;
}

// A thread goes on with the assistant it was started with, when that one is still here.
function useAssistantOf(thread) {
  const select = $("assistant");
  const wanted = thread?.metadata?.assistant_id;
  if (!wanted || wanted === select.value || ![...select.options].some((o) => o.value === wanted)) return;
  select.value = wanted;
  chooseAssistant();
}

function chooseAssistant() {
  const address = new URL(location.href);
  address.searchParams.set("assistant", $("assistant").selectedOptions[0]?.textContent ?? $("assistant").value);
  history.replaceState(history.state, "", address);
  loadGraph().catch(report);
}

async function loadGraph() {
  const assistant = $("assistant").value;
  if (!assistant) return;
  drawGraph($("graph"), await api.get(`assistants/${assistant}/graph`));
}

async function start() {
  try {
    await loadAssistants();
    askForKey(false);
    loadGraph().catch(() => $("graph").replaceChildren());
    notice(api.hasKey() ? "Using your API key." : "");
    const id = threadInAddress();
    if (id && id !== view.thread) {
      await loadThreads();
      await openThread(id, {remember: false});
    }
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
  // Words are looked for in the threads already loaded; an id is asked of the server.
  const wanted = $("thread-search").value.trim();
  if (UUID.test(wanted) || view.listedFor) searching = setTimeout(() => loadThreads().catch(report), 250);
  else showThreads();
});
$("new-thread").addEventListener("click", async () => {
  try {
    await openThread((await api.post("threads", {metadata: {}})).thread_id);
    await refresh();
  } catch (error) {
    report(error);
  }
});
$("assistant").addEventListener("change", chooseAssistant);
$("stop").addEventListener("click", stop);
$("rename").addEventListener("click", startRename);
$("rename-form").addEventListener("submit", rename);
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  if (!$("rename-form").hidden) showTitle($("thread-title").textContent);
  for (const [name, button] of [["show-threads", "toggle-threads"], ["show-inspect", "toggle-inspect"]]) {
    document.body.classList.remove(name);
    $(button).setAttribute("aria-expanded", "false");
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

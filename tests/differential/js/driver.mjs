// Runs a program of operations with LangGraph's official JS SDK against one Agent Server.
//
//   node driver.mjs --url http://127.0.0.1:PORT < program.json
//
// The program is {"ops": [...]}; each operation names its threads and runs by labels
// ("t0", "r1") that the driver maps to the ids the server gave. One JSON observation per
// operation is printed on its own line: {"name", "op", "result", "detail"}. `result` is
// what two servers must agree on; `detail` (error texts) is only shown.
//
// The `useStream.*` operations mount the real React hook (`useStream` from
// `@langchain/langgraph-sdk/react`) with react-test-renderer, so what they send is what a
// React app sends, and record every request the hook's client made.

import { Client } from "@langchain/langgraph-sdk";
import { useStream } from "@langchain/langgraph-sdk/react";
import { createElement } from "react";
import TestRenderer from "react-test-renderer";

const OP_TIMEOUT_MS = 30_000;

// React 19 warns once that react-test-renderer is deprecated; it still renders hooks
// without a DOM, which is all the driver needs.
const consoleError = console.error;
console.error = (...args) => {
  if (String(args[0]).includes("react-test-renderer is deprecated")) return;
  consoleError(...args);
};

// The hook fires requests whose rejections nobody awaits (a browser logs them); they are
// kept and shown with the operation that caused them.
const unhandled = [];
process.on("unhandledRejection", (error) => unhandled.push(error));

// ---------------------------------------------------------------------------
// A browser's sessionStorage, which `useStream({reconnectOnMount: true})` keeps the
// run id in (src/react/stream.lgp.tsx reads `window.sessionStorage`).
class MemoryStorage {
  #items = new Map();
  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  setItem(key, value) {
    this.#items.set(key, String(value));
  }
  removeItem(key) {
    this.#items.delete(key);
  }
  clear() {
    this.#items.clear();
  }
}
const sessionStorage = new MemoryStorage();
globalThis.window ??= { sessionStorage };

// ---------------------------------------------------------------------------
// SSE framing, read the way the SDK reads it (src/utils/sse.ts): lines end in CR, LF or
// CRLF, a blank line ends an event, lines starting with ":" are comments.

function* sseBlocks(text) {
  // Yields [lines, endOffset] for each complete block (one ended by a blank line).
  const line = /([^\r\n]*)(\r\n|\r|\n)/y;
  let pos = 0;
  let lines = [];
  while (pos < text.length) {
    line.lastIndex = pos;
    const m = line.exec(text);
    if (!m) break;
    // A lone CR at the very end may be the first half of CRLF: wait for more bytes.
    if (m[2] === "\r" && line.lastIndex === text.length) break;
    pos = line.lastIndex;
    if (m[1] === "") {
      if (lines.length) yield [lines, pos];
      lines = [];
    } else {
      lines.push(m[1]);
    }
  }
}

function parseBlock(lines) {
  let event = "";
  let id;
  const data = [];
  for (const l of lines) {
    if (l.startsWith(":")) continue;
    const i = l.indexOf(":");
    const field = i === -1 ? l : l.slice(0, i);
    let value = i === -1 ? "" : l.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  if (!event && !data.length) return null; // a comment (heartbeat) or a bare id
  let parsed = null;
  if (data.length) {
    try {
      parsed = JSON.parse(data.join("\n"));
    } catch {
      parsed = { unparsable: data.join("\n") };
    }
  }
  return { event, data: parsed, id };
}

// A response body that passes on `cutAfter` SSE events (all of them when null), then
// drops the connection. `drop: "close"` ends the body cleanly, as a proxy that cuts an
// idle or long connection does; the SDK then asks whether the run is still going and
// reconnects. `drop: "freeze"` never sends another byte, as a page that was closed never
// reads another one. (An errored body would be no good: a stream that errors throws away
// the events still queued in it, so what the SDK saw would depend on timing.)
function watchedBody(body, { cutAfter, drop, onEvent, onEnd = () => {} }) {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const reader = body.getReader();
  let pending = "";
  let passed = 0;
  return new ReadableStream({
    async pull(controller) {
      for (;;) {
        if (cutAfter != null && passed >= cutAfter) {
          reader.cancel().catch(() => {});
          onEnd();
          if (drop === "freeze") return new Promise(() => {});
          controller.close();
          return;
        }
        let consumed = 0;
        let enqueued = false;
        for (const [lines, end] of sseBlocks(pending)) {
          const event = parseBlock(lines);
          controller.enqueue(encoder.encode(pending.slice(consumed, end)));
          consumed = end;
          enqueued = true;
          if (event == null) continue;
          onEvent(event);
          passed += 1;
          if (cutAfter != null && passed >= cutAfter) break;
        }
        pending = pending.slice(consumed);
        if (enqueued) return;
        let chunk;
        try {
          chunk = await reader.read();
        } catch (error) {
          onEnd();
          controller.error(error);
          return;
        }
        if (chunk.done) {
          if (pending) controller.enqueue(encoder.encode(pending));
          onEnd();
          controller.close();
          return;
        }
        pending += decoder.decode(chunk.value, { stream: true });
      }
    },
    cancel(reason) {
      onEnd();
      return reader.cancel(reason);
    },
  });
}

// ---------------------------------------------------------------------------
// A fetch that records each request the SDK makes and the answer it got; it can drop
// the first event stream after some events, and a closed "page" refuses new requests.

class Recorder {
  constructor({ cutAfter = null, drop = "close" } = {}) {
    this.requests = [];
    this.pending = 0; // requests still waiting for their answer's headers
    this.open = 0; // event streams not yet read to their end
    this.cutAfter = cutAfter;
    this.drop = drop;
    this.closed = false;
    this.controller = new AbortController();
    this.fetch = this.fetch.bind(this);
    this.fetch.recorder = this;
  }

  close() {
    // A page reload: every open connection of this page goes, and no new one is made.
    this.closed = true;
    this.controller.abort();
  }

  async fetch(input, init = {}) {
    if (this.closed) {
      const error = new Error("AbortError: the page is gone");
      error.name = "AbortError";
      throw error;
    }
    const url = new URL(typeof input === "string" ? input : input.url);
    const headers = new Headers(init.headers ?? {});
    const record = {
      method: (init.method ?? "GET").toUpperCase(),
      path: url.pathname,
      query: Object.fromEntries(
        [...new Set(url.searchParams.keys())].map((k) => [k, url.searchParams.getAll(k)]),
      ),
      last_event_id: headers.get("last-event-id"),
      body: typeof init.body === "string" && init.body ? JSON.parse(init.body) : null,
    };
    this.requests.push(record);
    const signal = init.signal ? AbortSignal.any([init.signal, this.controller.signal]) : this.controller.signal;
    let response;
    this.pending += 1;
    try {
      response = await fetch(input, { ...init, signal });
    } catch (error) {
      record.status = null;
      record.failed = error.name;
      throw error;
    } finally {
      this.pending -= 1;
    }
    record.status = response.status;
    const type = response.headers.get("content-type") ?? "";
    if (!type.startsWith("text/event-stream") || !response.body) return response;
    record.events = [];
    const cutAfter = this.cutAfter;
    this.cutAfter = null; // only the first stream is dropped
    this.open += 1;
    let ended = false;
    const body = watchedBody(response.body, {
      cutAfter,
      drop: this.drop,
      onEvent: (e) => record.events.push([e.event, e.data, e.id != null]),
      onEnd: () => {
        if (!ended) this.open -= 1;
        ended = true;
      },
    });
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }
}

// ---------------------------------------------------------------------------
// Observations.

function errorShape(error) {
  if (error == null) return null;
  return {
    class: error.name === "Error" ? error.constructor.name : error.name,
    status: error.status ?? null,
  };
}

function errorDetail(error) {
  if (error == null) return null;
  return String(error.text ?? error.message ?? error);
}

// Request records with the hook's own plumbing kept, server-generated ids left to the
// comparison's normaliser.
function requestShapes(requests) {
  return requests.map((r) => {
    const shape = { request: `${r.method} ${r.path}`, status: r.status };
    if (Object.keys(r.query).length) shape.query = r.query;
    if (r.last_event_id != null) shape.last_event_id = r.last_event_id === "-1" ? "-1" : "<present>";
    if (r.body != null) shape.body = r.body;
    if (r.failed) shape.failed = r.failed;
    if (r.events) shape.events = r.events;
    return shape;
  });
}

// A run as the SDK's `Run` type declares it (dist/schema.d.ts): what a JS client can rely
// on. The server's own `kwargs` (its copy of the request, config and all) is not part of it.
const RUN_FIELDS = ["run_id", "thread_id", "assistant_id", "created_at", "updated_at", "status",
  "metadata", "multitask_strategy", "cancel_reason"];

function runView(run) {
  if (run == null || typeof run !== "object") return run;
  return Object.fromEntries(RUN_FIELDS.filter((k) => k in run).map((k) => [k, run[k]]));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// The program's state: labels to ids.

class Program {
  constructor(url) {
    this.url = url;
    // Retries would hide the first answer, which is what is compared.
    this.client = new Client({ apiUrl: url, apiKey: null, callerOptions: { maxRetries: 0 } });
    this.threads = new Map();
    this.runs = new Map();
    // "<suite>" in an operation stands for a value of this program's own, so that a search
    // finds only the threads this run of the program made.
    this.suite = crypto.randomUUID();
  }

  fill(value) {
    if (value === "<suite>") return this.suite;
    if (Array.isArray(value)) return value.map((v) => this.fill(v));
    if (value && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.fill(v)]));
    }
    return value;
  }

  thread(label) {
    if (label == null) return null;
    // A label never created stands for a thread that does not exist.
    return this.threads.get(label) ?? "00000000-0000-4000-8000-000000000000";
  }

  run(label) {
    return this.runs.get(label) ?? "00000000-0000-4000-8000-000000000001";
  }

  payload(op) {
    return { ...(op.payload ?? {}), signal: AbortSignal.timeout(OP_TIMEOUT_MS) };
  }

  async collect(iterable) {
    const events = [];
    for await (const part of iterable) events.push([part.event, part.data, part.id != null]);
    return events;
  }

  async ["threads.create"](op) {
    const thread = await this.client.threads.create({ ...(op.payload ?? {}) });
    this.threads.set(op.thread, thread.thread_id);
    return thread;
  }

  // POST /threads/{id}/copy, which the SDK sends with no body at all.
  async ["threads.copy"](op) {
    const thread = await this.client.threads.copy(this.thread(op.thread));
    if (op.as) this.threads.set(op.as, thread.thread_id);
    return thread;
  }

  async ["threads.get"](op) {
    return this.client.threads.get(this.thread(op.thread));
  }

  async ["threads.delete"](op) {
    return (await this.client.threads.delete(this.thread(op.thread))) ?? null;
  }

  async ["threads.search"](op) {
    const query = { ...(op.query ?? {}) };
    if (op.ids) query.ids = op.ids.map((l) => this.thread(l));
    return this.client.threads.search(query);
  }

  async ["threads.getState"](op) {
    return this.client.threads.getState(this.thread(op.thread));
  }

  async ["threads.getHistory"](op) {
    return this.client.threads.getHistory(this.thread(op.thread), op.options ?? {});
  }

  async ["runs.wait"](op) {
    return this.client.runs.wait(this.thread(op.thread), op.graph, {
      ...this.payload(op),
      raiseError: false,
      onRunCreated: (meta) => op.run && this.runs.set(op.run, meta.run_id),
    });
  }

  async ["runs.create"](op) {
    const run = await this.client.runs.create(this.thread(op.thread), op.graph, this.payload(op));
    if (op.run) this.runs.set(op.run, run.run_id);
    return runView(run);
  }

  async ["runs.stream"](op) {
    const stream = this.client.runs.stream(this.thread(op.thread), op.graph, {
      ...this.payload(op),
      onRunCreated: (meta) => op.run && this.runs.set(op.run, meta.run_id),
    });
    return { events: await this.collect(stream) };
  }

  // runs.stream over a connection that drops after `cutAfter` events: the SDK reconnects
  // to the `Location` it was given, with `Last-Event-ID` (src/client/base.ts streamWithRetry).
  async ["runs.streamReconnect"](op) {
    const recorder = new Recorder({ cutAfter: op.cutAfter });
    const client = new Client({ apiUrl: this.url, apiKey: null, callerOptions: { maxRetries: 0, fetch: recorder.fetch } });
    const stream = client.runs.stream(this.thread(op.thread), op.graph, {
      ...this.payload(op),
      onRunCreated: (meta) => op.run && this.runs.set(op.run, meta.run_id),
    });
    const events = await this.collect(stream);
    return { events, requests: requestShapes(recorder.requests).map(({ events, ...r }) => r) };
  }

  async ["runs.join"](op) {
    return this.client.runs.join(this.thread(op.thread), this.run(op.run));
  }

  async ["runs.joinStream"](op) {
    const stream = this.client.runs.joinStream(this.thread(op.thread), this.run(op.run), {
      ...(op.options ?? {}),
      signal: AbortSignal.timeout(OP_TIMEOUT_MS),
    });
    return { events: await this.collect(stream) };
  }

  async ["runs.get"](op) {
    return runView(await this.client.runs.get(this.thread(op.thread), this.run(op.run)));
  }

  // Polls the run until it has the status asked for (10 s at most), so a program can wait
  // for a run to start on a server whose queue wakes once a second.
  async ["runs.awaitStatus"](op) {
    const deadline = Date.now() + 10000;
    for (;;) {
      const run = await this.client.runs.get(this.thread(op.thread), this.run(op.run));
      if (run.status === op.status || Date.now() > deadline) return run.status;
      await new Promise((done) => setTimeout(done, 50));
    }
  }

  async ["runs.list"](op) {
    return (await this.client.runs.list(this.thread(op.thread), op.options ?? {})).map(runView);
  }

  async ["runs.cancel"](op) {
    const answer = await this.client.runs.cancel(this.thread(op.thread), this.run(op.run), op.wait ?? false, op.action ?? "interrupt");
    return answer == null ? null : runView(answer);
  }

  // --- useStream -----------------------------------------------------------

  // Mounts `useStream` as a React app does; the probe reads what agent-chat-ui reads
  // (`messages`, `values`, `interrupt`, `isLoading`, `error`), which also decides the
  // stream modes the hook asks for (it tracks which getters are used).
  mount(options) {
    const page = { handle: null, renders: 0 };
    function Probe() {
      const handle = useStream(options);
      page.view = {
        messages: handle.messages,
        values: handle.values,
        interrupt: handle.interrupt ?? null,
        isLoading: handle.isLoading,
        isThreadLoading: handle.isThreadLoading,
        error: handle.error ?? null,
      };
      page.handle = handle;
      page.renders += 1;
      return null;
    }
    page.renderer = TestRenderer.create(createElement(Probe));
    page.until = async (predicate, what) => {
      const deadline = Date.now() + OP_TIMEOUT_MS;
      while (!(page.view && predicate(page.view))) {
        if (Date.now() > deadline) throw Object.assign(new Error(`useStream never got ${what}`), { name: "Timeout" });
        await sleep(10);
      }
    };
    // The hook is done when no request of its own is on the way (it reads the thread's
    // state after a run), every stream it opened has been read to its end, and no render
    // came for a while.
    page.settled = async () => {
      const recorder = options.callerOptions.fetch.recorder;
      const deadline = Date.now() + OP_TIMEOUT_MS;
      let seen = -1;
      while (seen !== page.renders || recorder.pending > 0 || recorder.open > 0) {
        if (Date.now() > deadline) break;
        seen = page.renders;
        await sleep(30);
      }
    };
    page.unmount = () => page.renderer.unmount();
    return page;
  }

  hookOptions(op, recorder, extra = {}) {
    const options = {
      apiUrl: this.url,
      apiKey: null,
      assistantId: op.graph,
      callerOptions: { fetch: recorder.fetch },
      ...(op.hook ?? {}),
      ...extra,
    };
    if (op.hook?.onCustomEvent) options.onCustomEvent = () => {};
    if (op.hook?.onUpdateEvent) options.onUpdateEvent = () => {};
    if (op.hook?.reconnectOnMount) options.reconnectOnMount = () => sessionStorage;
    return options;
  }

  view(page) {
    const { messages, values, interrupt, error } = page.view;
    return { values, messages, interrupt, error: errorShape(error) };
  }

  // submit(values, options) on a thread (or none: the hook creates it), then wait for the
  // stream to end. agent-chat-ui resumes with submit({}, {command: {resume}}) and marks an
  // interrupt resolved with submit({}, {command: {goto: "__end__"}}).
  async ["useStream.submit"](op) {
    const recorder = new Recorder();
    const threadId = op.thread && this.threads.has(op.thread) ? this.threads.get(op.thread) : null;
    let created = null;
    const page = this.mount(this.hookOptions(op, recorder, {
      threadId,
      onThreadId: (id) => { created = id; },
    }));
    try {
      await page.until((v) => !v.isLoading && !v.isThreadLoading, "its thread loaded");
      await page.handle.submit(op.values ?? null, op.submit ?? {});
      await page.until((v) => !v.isLoading, "the end of the run");
      await page.settled();
      if (created && op.thread && !this.threads.has(op.thread)) this.threads.set(op.thread, created);
      return { ...this.view(page), requests: requestShapes(recorder.requests) };
    } finally {
      page.unmount();
    }
  }

  // A page reload in the middle of a run: the first page submits with
  // `reconnectOnMount`, loses its connection after `cutAfter` events and goes; a new page
  // on the same thread finds the run id in sessionStorage and rejoins the run's stream.
  async ["useStream.reload"](op) {
    const first = new Recorder({ cutAfter: op.cutAfter ?? 1, drop: "freeze" });
    const threadId = this.threads.get(op.thread);
    const hook = { ...(op.hook ?? {}), reconnectOnMount: true };
    const options = { ...op, hook };
    const page1 = this.mount(this.hookOptions(options, first, { threadId }));
    let page2;
    try {
      await page1.until((v) => !v.isLoading && !v.isThreadLoading, "its thread loaded");
      // The first page's submit never settles: its stream is frozen, as a closed page's is.
      page1.handle.submit(op.values ?? null, op.submit ?? {}).catch(() => {});
      const deadline = Date.now() + OP_TIMEOUT_MS;
      while (!first.requests.some((r) => r.events && r.events.length >= (op.cutAfter ?? 1))) {
        if (Date.now() > deadline) throw Object.assign(new Error("the first page never streamed"), { name: "Timeout" });
        await sleep(5);
      }
      first.close();
      page1.unmount();
      const second = new Recorder();
      page2 = this.mount(this.hookOptions(options, second, { threadId }));
      await sleep(50);
      await page2.until((v) => !v.isLoading, "the end of the rejoined run");
      await page2.settled();
      return {
        first_page: requestShapes(first.requests).map(({ events, ...r }) => ({ ...r, events: events?.length })),
        ...this.view(page2),
        requests: requestShapes(second.requests),
        stored_run: sessionStorage.getItem(`lg:stream:${threadId}`) != null,
      };
    } finally {
      page2?.unmount();
    }
  }

  async run1(op) {
    op = this.fill(op);
    const handler = this[op.op];
    if (typeof handler !== "function") throw new Error(`unknown operation ${op.op}`);
    const started = Date.now();
    const observation = { name: op.name ?? op.op, op: op.op };
    try {
      const result = await handler.call(this, op);
      Object.assign(observation, { result: result === undefined ? null : result, detail: null });
    } catch (error) {
      Object.assign(observation, { result: { error: errorShape(error) }, detail: errorDetail(error) });
    }
    await sleep(0);
    if (unhandled.length) {
      const errors = unhandled.splice(0);
      observation.result = { ...observation.result, unhandled: errors.map(errorShape) };
      observation.detail = [observation.detail, ...errors.map(errorDetail)].filter(Boolean).join("\n");
    }
    observation.ms = Date.now() - started;
    return observation;
  }
}

// ---------------------------------------------------------------------------

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main() {
  const at = process.argv.indexOf("--url");
  if (at === -1 || !process.argv[at + 1]) {
    process.stderr.write("usage: node driver.mjs --url URL < program.json\n");
    process.exit(2);
  }
  const program = new Program(process.argv[at + 1].replace(/\/$/, ""));
  const { ops } = JSON.parse(await readStdin());
  for (const op of ops) {
    const observation = await program.run1(op);
    process.stdout.write(JSON.stringify(observation) + "\n");
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    process.exit(1);
  },
);

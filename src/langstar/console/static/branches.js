// A thread's checkpoints as the tree they are. Each checkpoint names its parent; running
// again from an earlier checkpoint gives that checkpoint a second child, and each child
// starts a branch. Which branch a message belongs to is found the way LangGraph's own
// chat UI finds it: by the checkpoint where the message first appears and its parent.

const idOf = (checkpoint) => checkpoint.checkpoint.checkpoint_id;
const messageIds = (checkpoint) => (checkpoint.values?.messages ?? []).map((m) => m.id).join(" ");

export function tree(history) {
  const byId = new Map(history.map((c) => [idOf(c), c]));
  const parent = new Map();
  const children = new Map();
  for (const c of history) {
    const up = c.parent_checkpoint?.checkpoint_id;
    const known = up && byId.has(up) ? up : null;
    parent.set(idOf(c), known);
    if (!children.has(known)) children.set(known, []);
    children.get(known).push(idOf(c));
  }
  const born = (id) => `${byId.get(id).created_at ?? ""} ${id}`;
  for (const list of children.values()) list.sort((a, b) => (born(a) < born(b) ? -1 : 1));
  return {byId, parent, children, kids: (id) => children.get(id) ?? []};
}

// The newest checkpoint a branch leads to, following the newest child at each fork.
export function tip(t, id) {
  let at = id;
  while (t.kids(at).length) at = t.kids(at).at(-1);
  return at;
}

// From the first checkpoint to `head`, in order.
export function line(t, head) {
  const out = [];
  for (let at = head; at && t.byId.has(at); at = t.parent.get(at)) out.unshift(at);
  return out;
}

// For each message on the line: the checkpoint to run from to say it (or its reply)
// differently, and, once that has been done, the branches to switch between.
export function messageBranches(t, path) {
  const found = new Map();
  const seen = new Set();
  path.forEach((id, index) => {
    for (const message of t.byId.get(id).values?.messages ?? []) {
      if (!message.id || seen.has(message.id)) continue;
      seen.add(message.id);
      found.set(message.id, branchesAt(t, path, index));
    }
  });
  return found;
}

function branchesAt(t, path, index) {
  const before = t.parent.get(path[index]);
  if (!before) return {from: null, before: null, options: [], at: 0};
  // Walk up while the messages stay those just before this one; the nearest checkpoint
  // there with more than one child is where the branches part.
  const same = messageIds(t.byId.get(before));
  let at = path.indexOf(before);
  while (at >= 0 && messageIds(t.byId.get(path[at])) === same) {
    const options = t.kids(path[at]);
    if (options.length > 1) return {from: path[at], before, options, at: options.indexOf(path[at + 1])};
    at -= 1;
  }
  return {from: before, before, options: [], at: 0};
}

// The workbench page: log-in, the project tree, the editor (diagnostics from the language
// server over /lsp as you type), the toolchain buttons, contracts and the explorer.
// Everything it shows comes from the server's JSON; it holds no key and no secret.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { me: null, project: null, file: null, role: null, view: null, ws: null,
                version: 0, lsp: [], extra: [], sent: new Map(), latencies: [], edits: [],
                shared: null, synced: false };
window.workbench = state;  // read by the browser tests (latencies, versions)

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
  const data = await response.json();
  if (!response.ok) throw new Error(`${data.error.name}: ${data.error.message}`);
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, attrs || {});
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}

function show(target, ...nodes) { target.replaceChildren(...nodes); }
function pre(value) { return el("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2)); }
function problem(err) { return el("p", { className: "error" }, String(err.message || err)); }

// --- log-in ---------------------------------------------------------------------------------
async function start() {
  try { state.me = await api("GET", "/api/me"); } catch { $("login").hidden = false; return; }
  $("login").hidden = true; $("main").hidden = false;
  $("whoami").textContent = state.me.user;
  renderTree();
}

$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("POST", "/api/login", { user: $("login-user").value, password: $("login-password").value });
    await start();
  } catch (err) { $("login-error").textContent = err.message; }
});
$("logout").addEventListener("click", async () => { await api("POST", "/api/logout"); location.reload(); });

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t === tab);
    $("view-code").hidden = tab.dataset.view !== "code";
    $("view-explorer").hidden = tab.dataset.view !== "explorer";
    if (tab.dataset.view === "explorer") overview();
  });
}

// --- projects and the editor ----------------------------------------------------------------
function renderTree() {
  show($("tree"), ...state.me.projects.map((p) => el("div", { className: "project" },
    el("div", { className: "project-name" }, `${p.name} (${p.role})`),
    ...p.files.map((f) => {
      const link = el("a", { href: "#", className: "file", title: `${p.name}/${f}` }, f);
      link.addEventListener("click", (e) => { e.preventDefault(); openFile(p.name, f); });
      return link;
    }))));
}

async function openFile(project, file) {
  const { role } = await api("GET", `/api/file?project=${encodeURIComponent(project)}&file=${encodeURIComponent(file)}`);
  if (state.shared) state.shared.close();
  if (state.ws) state.ws.close();
  Object.assign(state, { project, file, role, lsp: [], extra: [], ws: null, synced: false });
  $("current").textContent = `${project}/${file}`;
  $("role").textContent = role;
  const canEdit = role !== "viewer";
  $("save").disabled = $("deploy").disabled = !canEdit;
  for (const id of ["compile", "test", "verify", "check", "debug"]) $(id).disabled = false;
  closeDebugger();
  $("editor").replaceChildren();
  // the text comes from the file's shared document, which the server seeds from the saved file
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  state.shared = QiEditor.createShared($("editor"), `${scheme}://${location.host}/collab`,
    `${project}/${file}`, state.me.user, !canEdit, onEdit, () => {
      state.synced = true;
      connectLsp();
    });
  state.view = state.shared.view;
  loadContracts();
}

function uri() { return `file:///${state.project}/${state.file}`; }

function connectLsp() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/lsp?project=${encodeURIComponent(state.project)}`);
  state.ws = ws;
  const send = (msg) => ws.send(JSON.stringify({ jsonrpc: "2.0", ...msg }));
  ws.addEventListener("open", () => {
    state.opened = state.version;  // edits made while connecting are in the text it opens with
    state.sent = new Map([[state.version, performance.now()]]);
    send({ id: 1, method: "initialize", params: { capabilities: {} } });
    send({ method: "initialized", params: {} });
    send({ method: "textDocument/didOpen", params: { textDocument: {
      uri: uri(), languageId: "qi", version: state.version, text: QiEditor.text(state.view) } } });
  });
  ws.addEventListener("message", (event) => {
    const msg = JSON.parse(event.data);
    if (msg.method !== "textDocument/publishDiagnostics" || msg.params.uri !== uri()) return;
    if (msg.params.version !== state.version) return;  // a later edit is on its way
    const sentAt = state.sent.get(msg.params.version);
    state.sent.clear();
    state.lsp = msg.params.diagnostics;
    redraw();
    // from the edit to its diagnostics drawn in the editor (the benchmark reads these)
    if (sentAt !== undefined && msg.params.version > state.opened) state.latencies.push(performance.now() - sentAt);
  });
  state.sendLsp = send;
}

function onEdit(text) {
  state.edits.push(performance.timeOrigin + performance.now());  // local or a co-editor's
  state.extra = [];  // verify and check results were about the old text
  state.version += 1;
  if (state.ws && state.ws.readyState === WebSocket.OPEN) state.sent.set(state.version, performance.now());
  if (state.ws && state.ws.readyState === WebSocket.OPEN) {
    state.sendLsp({ method: "textDocument/didChange", params: {
      textDocument: { uri: uri(), version: state.version }, contentChanges: [{ text }] } });
  }
}

function redraw() { QiEditor.showDiagnostics(state.view, [...state.lsp, ...state.extra]); }

// A toolchain position (1-based line and column) as a protocol diagnostic.
function diag(line, col, length, severity, source, message) {
  return { range: { start: { line: line - 1, character: col - 1 }, end: { line: line - 1, character: col - 1 + length } },
           severity, source, message };
}

$("save").addEventListener("click", async () => {
  try {
    await api("PUT", "/api/file", { project: state.project, file: state.file, text: QiEditor.text(state.view) });
    show($("output"), el("p", { className: "ok" }, `saved ${state.file}`));
  } catch (err) { show($("output"), problem(err)); }
});

async function tool(action, extra) {
  show($("output"), el("p", {}, `${action}…`));
  try {
    const out = await api("POST", `/api/${action}`, { project: state.project, file: state.file,
                                                       text: QiEditor.text(state.view), ...extra });
    if (!out.ok && out.diagnostics) {
      state.extra = out.diagnostics.map((d) => diag(d.line, d.col, d.length, 1, action, `${d.code}: ${d.message}`));
      redraw();
      show($("output"), el("div", { id: "compile-errors" }, ...out.diagnostics.map((d) =>
        el("p", { className: "error" }, `line ${d.line}, column ${d.col}: ${d.message}`))));
      return null;
    }
    return out;
  } catch (err) { show($("output"), problem(err)); return null; }
}

$("compile").addEventListener("click", async () => {
  const out = await tool("compile", { opt: Number($("opt").value) });
  if (!out) return;
  show($("output"), el("p", { className: "ok", id: "compiled" }, `compiled at -O${$("opt").value}: ${out.size} bytes, sha256 ${out.code_hash}`),
       el("details", { open: true }, el("summary", {}, "ABI"), pre(out.abi)),
       el("details", {}, el("summary", {}, "debug symbols (code offset, function, line, column)"), pre(out.debug)));
});

$("test").addEventListener("click", async () => {
  const out = await tool("test");
  if (!out) return;
  show($("output"), el("ul", { id: "tests" }, ...out.tests.map((t) => el("li", { className: t.passed ? "ok" : "error" },
    `${t.passed ? "PASS" : "FAIL"} ${t.contract ? t.contract + "::" : ""}${t.name} (${t.fuel_used} fuel)${t.failure ? ": " + t.failure : ""}`))),
    el("p", {}, out.tests.length ? "" : "no tests in this file"));
});

$("verify").addEventListener("click", async () => {
  const out = await tool("verify");
  if (!out) return;
  const severity = { proved: 4, timeout: 2, counterexample: 1 };
  state.extra = out.goals.map((g) => diag(g.line, 1, 1, severity[g.status] || 2, "qi verify",
    `${g.function}: ${g.what} ${g.status}${g.counterexample ? " " + JSON.stringify(g.counterexample) : ""}`));
  redraw();
  show($("output"), el("p", { id: "verified" }, `${out.status}: ${out.goals.length} goals`),
       el("ul", {}, ...out.goals.map((g) => el("li", { className: g.status === "proved" ? "ok" : "error" },
         `${g.status} line ${g.line} ${g.function}: ${g.what} (${g.seconds.toFixed(3)} s)${g.counterexample ? " " + JSON.stringify(g.counterexample) : ""}`))));
});

$("check").addEventListener("click", async () => {
  const out = await tool("check");
  if (!out) return;
  const severity = { high: 1, medium: 2, low: 3, info: 4 };
  state.extra = out.findings.map((f) => diag(f.line, f.col, 1, severity[f.severity], "qi check", `${f.detector}: ${f.message}`));
  redraw();
  show($("output"), el("ul", { id: "findings" }, ...out.findings.map((f) =>
    el("li", {}, `${f.severity} line ${f.line}: [${f.detector}] ${f.message}`))),
    el("p", {}, `${out.findings.length} finding(s)`));
});

// --- debugger: the server records a debug build's run; stepping moves over the trace -------
const dbg = { trace: null, at: 0 };
window.debugState = dbg;  // read by the browser tests

$("debug").addEventListener("click", async () => {
  const what = $("debug-call").value.trim();
  const target = what.includes("(") ? { call: what } : { test: what };
  const out = await tool("debug", { ...target, args: parseArgs($("deploy-args").value) });
  if (!out) return;
  Object.assign(dbg, { trace: out.trace, at: 0 });
  show($("output"), el("p", { className: out.ok ? "ok" : "error", id: "debugged" },
    `debugging ${what}: ${out.trace.steps.length} steps`));
  $("debugger").hidden = false;
  renderStep();
});

function closeDebugger() {
  dbg.trace = null;
  $("debugger").hidden = true;
  if (state.view) QiEditor.showLine(state.view, null);
}
$("dbg-close").addEventListener("click", closeDebugger);

// Positions are the steps, then one past the last: the call's end (all its writes and
// events, and its outcome). The next step after the current one that `pick(step, current)`
// accepts, else the end.
function advance(pick) {
  const steps = dbg.trace.steps, here = steps[dbg.at];
  for (let i = dbg.at + 1; i < steps.length; i++) if (pick(steps[i], here)) return i;
  return steps.length;
}
function breakLines() {
  return new Set($("dbg-breaks").value.split(/[ ,]+/).filter(Boolean).map(Number));
}
const moves = {
  "dbg-back": () => Math.max(dbg.at - 1, 0),
  "dbg-into": () => Math.min(dbg.at + 1, dbg.trace.steps.length),
  "dbg-over": () => advance((s, here) => s.depth <= here.depth),
  "dbg-out": () => advance((s, here) => s.depth < here.depth),
  "dbg-continue": () => { const lines = breakLines(); return advance((s) => lines.has(s.line)); },
};
for (const [id, move] of Object.entries(moves)) {
  $(id).addEventListener("click", () => {
    if (!dbg.trace || (dbg.at === dbg.trace.steps.length && id !== "dbg-back")) return;
    dbg.at = move();
    renderStep();
  });
}

function renderStep() {
  const t = dbg.trace, s = t.steps[dbg.at];
  if (!s) {
    QiEditor.showLine(state.view, null);
    show($("dbg-where"), `the call ended after ${t.steps.length} steps`);
    show($("dbg-locals"));
  } else {
    QiEditor.showLine(state.view, s.line);
    show($("dbg-where"), `step ${dbg.at + 1} of ${t.steps.length}: line ${s.line}, ${s.function} (depth ${s.depth})`);
    show($("dbg-locals"), el("tr", {}, el("th", {}, "local"), el("th", {}, "value")),
      ...Object.entries(s.locals).map(([k, v]) => el("tr", { className: "local" },
        el("td", {}, k), el("td", {}, JSON.stringify(v)))));
  }
  const writes = s ? t.writes.slice(0, s.writes) : t.writes, events = s ? t.events.slice(0, s.events) : t.events;
  show($("dbg-writes"), ...writes.map((w) => el("li", { className: "write" }, w.var === undefined
    ? `${w.key} = ${w.value}`
    : `${w.var}${(w.map_keys || []).map((k) => `[${JSON.stringify(k)}]`).join("")} = ${w.decoded === undefined ? w.value : JSON.stringify(w.decoded)}`)));
  show($("dbg-events"), ...events.map((e) => el("li", { className: "debug-event" }, `${e.name} ${JSON.stringify(e.args)}`)));
  show($("dbg-outcome"), s ? "" : t.error ? `error ${t.error.name}: ${t.error.message}` : `returned ${JSON.stringify(t.result)}`);
}

// Arguments as typed: comma-separated JSON values, e.g. "Tok", 1000000
function parseArgs(text) {
  if (!text.trim()) return [];
  return JSON.parse(`[${text}]`).map((v) => JSON.stringify(v));
}

// --- contracts ------------------------------------------------------------------------------
$("deploy").addEventListener("click", async () => {
  try {
    const out = await api("POST", "/api/deploy", { project: state.project, file: state.file,
      opt: Number($("opt").value), args: parseArgs($("deploy-args").value) });
    show($("output"), el("p", { className: "ok", id: "deployed" }, `deployed at ${out.contract} (tx ${out.tx_hash})`), pre(out.events));
    loadContracts();
  } catch (err) { show($("output"), problem(err)); }
});

async function loadContracts() {
  const list = await api("GET", `/api/deployments?project=${encodeURIComponent(state.project)}`);
  show($("contracts"), el("h3", {}, "Deployed contracts"), ...list.map(contractCard));
}

function contractCard(d) {
  const fns = d.abi.functions.filter((f) => f.kind === "fn" && f.public);
  const pick = el("select", { className: "fn" }, ...fns.map((f) =>
    el("option", { value: f.name }, `${f.name}(${f.params.map((p) => p.name).join(", ")})${f.view ? " view" : ""}`)));
  const args = el("input", { className: "args", placeholder: "arguments (JSON, comma-separated)" });
  const result = el("div", { className: "result" });
  const call = el("button", { className: "call" }, "Call");
  call.addEventListener("click", async () => {
    try {
      const out = await api("POST", "/api/call", { project: state.project, address: d.address, fn: pick.value, args: parseArgs(args.value) });
      show(result, out.view ? pre(out.value) : el("div", {}, el("p", { className: "ok" }, `tx ${out.tx_hash}: `,
        txLink(out.tx_hash)), pre({ value: out.value, events: out.events })));
    } catch (err) { show(result, problem(err)); }
  });
  const upgrade = el("button", { className: "upgrade", disabled: state.role !== "owner",
                                 title: `upgrade to the saved ${state.file}` }, "Upgrade to this file");
  upgrade.addEventListener("click", async () => {
    try {
      const out = await api("POST", "/api/upgrade", { project: state.project, address: d.address, file: state.file, opt: Number($("opt").value) });
      show(result, el("p", { className: "ok" }, `upgraded (tx ${out.tx_hash})`));
      loadContracts();
    } catch (err) { show(result, problem(err)); }
  });
  return el("div", { className: "contract" },
    el("p", {}, `${d.contract} at `, addressLink("contract", d.address), ` from ${d.file}`),
    pick, args, call, upgrade, result);
}

// --- explorer -------------------------------------------------------------------------------
function openExplorer() { document.querySelector('.tab[data-view="explorer"]').click(); }
function txLink(hash) { const a = el("a", { href: "#", className: "tx-link" }, "open in explorer");
  a.addEventListener("click", (e) => { e.preventDefault(); openExplorer(); lookup("tx", hash); }); return a; }
function addressLink(kind, address) { const a = el("a", { href: "#" }, address);
  a.addEventListener("click", (e) => { e.preventDefault(); openExplorer(); lookup(kind, address); }); return a; }
function verified(basis) { return el("p", { className: "verified" }, `✔ verified by the server (${basis})`); }

// The trust anchor the page's checks rest on: a pin kept in this browser (localStorage), or
// else the one the server was started with (`--trust-anchor`), or none (the genesis the
// server serves). The page checks the served genesis against it before anything else.
const PIN_KEY = "xinlian.web.pin";
function pinned() {
  const text = localStorage.getItem(PIN_KEY);
  try { return text === null ? null : QiProofs.parsePin(text); } catch { return null; }
}

function showAnchor(anchor) {
  const mine = pinned(), pin = mine || anchor.pin;
  const by = mine ? "pinned in this browser" : pin ? "pinned by the workbench server (--trust-anchor)"
    : "not pinned: taken from the workbench server";
  try {
    const rests = QiProofs.checkAnchor(anchor, pin);
    const key = anchor.basis === "node-signature" ? `, node key ${QiProofs.toHex(QiProofs.encode(anchor.node_key, QiProofs.KEY)).slice(0, 18)}…`
      : `, genesis committee of ${anchor.committee.members.length}`;
    show($("anchor"), el("span", { className: pin ? "ok" : "warning" },
      `checks rest on: chain ${rests.chain_id} (${rests.suite}), genesis ${rests.genesis_hash}${key}; ${by}`));
  } catch (err) {
    show($("anchor"), el("span", { className: "error" }, `✘ trust anchor: ${err.message}`));
  }
}

// The page's own check of one item (web/proofs.js over the node's records in `proof`, and
// on a BFT chain the certificate of its header in `certified`), from the anchor: a line
// saying what was checked, or the failure; never both. `state.proofs` keeps the last
// material checked, for scripts and tests.
function checkedHere(kind, anchor, proof, asked, certified) {
  const pin = pinned() || anchor.pin;
  state.proofs = { kind, anchor, proof, asked, certified, pin };
  try {
    const out = QiProofs.verify(kind, anchor, proof, asked, certified, pin);
    return { ok: true, proven: out.proven,
             line: el("p", { className: "browser-verified ok" }, `✔ verified in browser: ${out.done.join(", ")}`) };
  } catch (err) {
    return { ok: false, line: el("p", { className: "browser-failed error" }, `✘ not verified in browser: ${err.message}`) };
  }
}

// The latest explorer request: an older answer that arrives after it is dropped (opening the
// explorer asks for the latest blocks while a link may already ask for one item).
let explorerTicket = 0;

async function overview() {
  const ticket = ++explorerTicket;
  try {
    const out = await api("GET", "/api/chain");
    if (ticket !== explorerTicket) return;
    showAnchor(out.anchor);
    show($("explorer"), verified(out.verified_by), el("p", {}, `chain ${out.status.chain_id}, height ${out.status.height}`),
      el("table", { id: "blocks" }, el("tr", {}, el("th", {}, "height"), el("th", {}, "hash"), el("th", {}, "txs"), el("th", {}, "time"),
                                     el("th", {}, "in browser")),
        ...out.blocks.map((b) => { const a = el("a", { href: "#" }, b.height);
          a.addEventListener("click", (e) => { e.preventDefault(); lookup("block", String(b.height)); });
          const here = checkedHere("block", out.anchor, b.proof, b.height, b.certified);
          return el("tr", {}, el("td", {}, a), el("td", {}, b.hash.slice(0, 16) + "…"), el("td", {}, b.tx_count),
                    el("td", {}, new Date(b.timestamp_ms).toISOString()),
                    el("td", { className: here.ok ? "ok block-verified" : "error", title: here.line.textContent }, here.ok ? "✔" : "✘")); })));
  } catch (err) { if (ticket === explorerTicket) show($("explorer"), problem(err)); }
}

async function lookup(kind, value) {
  const ticket = ++explorerTicket;
  try {
    const asked = value.trim();
    const out = await api("GET", `/api/chain/${kind}/${encodeURIComponent(asked)}`);
    if (ticket !== explorerTicket) return;
    showAnchor(out.anchor);
    const here = checkedHere(kind, out.anchor, out.proof, asked, out.certified);
    const parts = [verified(out.verified_by), here.line];
    if (!here.ok) { show($("explorer"), ...parts); return; }
    if (kind === "block") {
      parts.push(el("h3", {}, `block ${out.proof.header.height}`), pre(out.proof.header),
        el("ul", {}, ...out.tx_hashes.map((h) => { const li = el("li", {}); const a = el("a", { href: "#" }, h);
          a.addEventListener("click", (e) => { e.preventDefault(); lookup("tx", h); }); li.append(a); return li; })));
    } else if (kind === "tx") {
      parts.push(el("h3", {}, `transaction ${out.proof.hash}`), el("p", {}, `block ${out.proof.height}, index ${out.proof.index}, sender ${out.proof.sender}`),
        el("p", {}, `status ${out.proof.receipt.status} ${out.proof.receipt.error}`),
        el("h4", {}, "events"), el("ul", { id: "events" }, ...out.receipt.events.map((ev) =>
          el("li", { className: "event" }, `${ev.event} ${JSON.stringify(ev.args || ev.data)} from ${ev.source}`))),
        el("details", {}, el("summary", {}, "receipt"), pre(out.receipt)));
    } else {
      parts.push(el("h3", {}, `${kind} ${out.address}`),
        el("details", { open: true, className: "proven" }, el("summary", {}, "proven state (decoded in the browser)"), pre(here.proven)),
        pre(kind === "account" ? out.account : { info: out.info, versions: out.versions }));
    }
    show($("explorer"), ...parts);
  } catch (err) { if (ticket === explorerTicket) show($("explorer"), problem(err)); }
}

$("lookup").addEventListener("submit", (e) => { e.preventDefault(); lookup($("lookup-kind").value, $("lookup-value").value); });
$("refresh").addEventListener("click", overview);
$("pin-form").addEventListener("submit", (e) => {
  e.preventDefault();
  try { QiProofs.parsePin($("pin-value").value); } catch (err) { show($("anchor"), problem(err)); return; }
  localStorage.setItem(PIN_KEY, $("pin-value").value.trim());
  overview();
});
$("unpin").addEventListener("click", () => { localStorage.removeItem(PIN_KEY); overview(); });

start();

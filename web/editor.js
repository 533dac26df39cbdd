// The workbench's editor: CodeMirror 6 with a lint gutter that the language server fills.
// app.js (plain script) drives it through the `QiEditor` global this bundle defines.
import { EditorView, basicSetup } from "codemirror";
import { EditorState, Compartment, StateEffect, StateField } from "@codemirror/state";
import { setDiagnostics, lintGutter } from "@codemirror/lint";
import { keymap, Decoration } from "@codemirror/view";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";

const editable = new Compartment();

// The debugger's current line: set by `showLine`, drawn as a highlighted line.
const setDebugLine = StateEffect.define();
const debugLine = StateField.define({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) {
      if (e.is(setDebugLine)) {
        deco = e.value === null ? Decoration.none : Decoration.set([
          Decoration.line({ class: "cm-debug-line" }).range(e.value)]);
      }
    }
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

// An editor on the shared text of room `room` at `url` (a Yjs document the server keeps,
// seeded from the saved file): every editor of the room sees each other's edits and
// cursors, labelled with `name`. `onSynced()` runs once the server's text has arrived.
export function createShared(parent, url, room, name, readOnly, onChange, onSynced) {
  const ydoc = new Y.Doc();
  const provider = new WebsocketProvider(url, room, ydoc);
  const ytext = ydoc.getText("source");
  const hue = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 360, 7);
  provider.awareness.setLocalStateField("user", { name, color: `hsl(${hue}, 70%, 40%)`,
                                                  colorLight: `hsl(${hue}, 70%, 85%)` });
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: ytext.toString(),
      extensions: [
        keymap.of([...yUndoManagerKeymap]),
        basicSetup,
        lintGutter(),
        debugLine,
        yCollab(ytext, provider.awareness),
        editable.of([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
        EditorView.updateListener.of((u) => { if (u.docChanged) onChange(u.state.doc.toString()); }),
      ],
    }),
  });
  provider.once("sync", () => onSynced());
  return { view, close: () => { provider.destroy(); ydoc.destroy(); view.destroy(); } };
}

// Language server diagnostics (0-based line, UTF-16 character: as JavaScript strings count)
// shown in the editor.
export function showDiagnostics(view, diagnostics) {
  const doc = view.state.doc;
  const offset = (p) => {
    const line = doc.line(Math.min(p.line + 1, doc.lines));
    return Math.min(line.from + p.character, line.to);
  };
  const severity = { 1: "error", 2: "warning", 3: "info", 4: "hint" };
  view.dispatch(setDiagnostics(view.state, diagnostics.map((d) => ({
    from: offset(d.range.start),
    to: Math.max(offset(d.range.end), offset(d.range.start)),
    severity: severity[d.severity] || "info",
    source: d.source,
    message: `${d.code ? d.code + ": " : ""}${d.message}`,
  }))));
}

export function text(view) { return view.state.doc.toString(); }

// Highlight 1-based `line` as the debugger's current line and scroll to it (null: none).
export function showLine(view, line) {
  if (line === null) { view.dispatch({ effects: setDebugLine.of(null) }); return; }
  const at = view.state.doc.line(Math.min(Math.max(line, 1), view.state.doc.lines));
  view.dispatch({ effects: [setDebugLine.of(at.from), EditorView.scrollIntoView(at.from, { y: "center" })] });
}

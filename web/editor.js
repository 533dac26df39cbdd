// The workbench's editor: CodeMirror 6 with a lint gutter that the language server fills.
// app.js (plain script) drives it through the `QiEditor` global this bundle defines.
import { EditorView, basicSetup } from "codemirror";
import { EditorState, Compartment } from "@codemirror/state";
import { setDiagnostics, lintGutter } from "@codemirror/lint";

const editable = new Compartment();

// A new editor in `parent` holding `text`; `onChange(text)` runs after each edit.
export function create(parent, text, onChange, readOnly) {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        lintGutter(),
        editable.of([EditorState.readOnly.of(readOnly), EditorView.editable.of(!readOnly)]),
        EditorView.updateListener.of((u) => { if (u.docChanged) onChange(u.state.doc.toString()); }),
      ],
    }),
  });
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
